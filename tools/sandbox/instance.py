"""One sandbox Asterisk: its folder inside the root, its config, its process, its state file.

Layout, inside the root:  /srv/pln123/<namespace>/<site>/
    etc/            rendered config (asterisk.conf names every other folder below)
    run lib log spool   Asterisk's writable folders, owned by the root's asterisk user
    ami-pln123.secret ami-admin.secret   0600, for clients; never printed
    asterisk.out    Asterisk's stdout/stderr (its console log)
    state.json      ports (SIP only if asked for) and PID: what `status` and `down` use
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ivr.ami.actions import ACTION_ID_PREFIX
from tools.sandbox import process
from tools.sandbox.errors import SandboxError
from tools.sandbox.probe import PROBE_PREFIX, RawAmi
from tools.sandbox.render import (
    DEFAULT_CONFIG,
    SECRET_FILES,
    SiteSettings,
    render_site_config,
    site_dialplan,
    site_manager_user,
)
from tools.sandbox.sip import site_sip

ADMIN_USER = "sandbox-admin"
PLN123_USER = "pln123"
STATE_FILE = "state.json"
_WRITABLE = ("run", "lib", "lib/cache", "lib/keys", "log", "spool")

Status = Literal["running", "dead", "stopped"]


def asterisk_ids(root: Path) -> tuple[int, int]:
    """uid and gid of `asterisk` in the root's own passwd (not the host's: they differ)."""
    for line in (root / "etc" / "passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == "asterisk":
            return int(fields[2]), int(fields[3])
    raise SandboxError(f"no asterisk user in {root}/etc/passwd; rebuild the root")


@dataclass
class Instance:
    """A site's Asterisk; built from and saved to its state file."""

    root: Path
    namespace: str
    site: str
    ami_port: int
    iax_port: int
    pid: int | None = None
    started_at: float | None = None
    # The instance's SIP port (UDP, 127.0.0.1); None: no SIP transport, no port (the default).
    sip_port: int | None = None
    # The admin config the site's pln123 dialplan is rendered from at each prepare().
    config_file: Path = field(default=DEFAULT_CONFIG, repr=False, compare=False)
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    # -- paths -----------------------------------------------------------------------------
    @property
    def dir_in_root(self) -> str:
        return f"/srv/pln123/{self.namespace}/{self.site}"

    @property
    def path(self) -> Path:
        return self.root / self.dir_in_root.lstrip("/")

    @property
    def config_in_root(self) -> str:
        return f"{self.dir_in_root}/etc/asterisk.conf"

    @property
    def log_file(self) -> Path:
        return self.path / "asterisk.out"

    @property
    def messages_log(self) -> Path:
        return self.path / "log" / "messages.log"

    @property
    def admin_secret(self) -> str:
        return (self.path / "ami-admin.secret").read_text().strip()

    @property
    def pln123_secret(self) -> str:
        return (self.path / "ami-pln123.secret").read_text().strip()

    # -- state -----------------------------------------------------------------------------
    def save(self) -> None:
        data = {
            "site": self.site,
            "namespace": self.namespace,
            "ami_port": self.ami_port,
            "iax_port": self.iax_port,
            "pid": self.pid,
            "started_at": self.started_at,
            "sip_port": self.sip_port,
            "root": str(self.root),
            "config": self.config_in_root,
        }
        temp = self.path / (STATE_FILE + ".tmp")
        temp.write_text(json.dumps(data, indent=2) + "\n")
        temp.rename(self.path / STATE_FILE)

    @classmethod
    def load(cls, state_file: Path) -> Instance:
        data: dict[str, Any] = json.loads(state_file.read_text())
        return cls(
            root=Path(data["root"]),
            namespace=data["namespace"],
            site=data["site"],
            ami_port=int(data["ami_port"]),
            iax_port=int(data["iax_port"]),
            pid=data.get("pid"),
            started_at=data.get("started_at"),
            sip_port=data.get("sip_port"),
        )

    def status(self) -> Status:
        if self.pid is None:
            return "stopped"
        if process.is_sandbox_asterisk(self.pid, self.root, self.config_in_root):
            return "running"
        return "dead"

    def is_running(self) -> bool:
        return self.status() == "running"

    # -- life cycle ------------------------------------------------------------------------
    def prepare(self, module_dir: str) -> None:
        """Create the folders, the secrets (once) and render the config from the templates,
        with the site's pln123 dialplan from the admin config (fresh at every start)."""
        uid, gid = asterisk_ids(self.root)
        (self.path / "etc").mkdir(parents=True, exist_ok=True)
        for name in _WRITABLE:
            folder = self.path / name
            folder.mkdir(parents=True, exist_ok=True)
            os.chown(folder, uid, gid)
            folder.chmod(0o750)
        for user_file in ("ami-pln123.secret", "ami-admin.secret"):
            secret_path = self.path / user_file
            if not secret_path.exists():
                fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as out:
                    out.write(secrets.token_urlsafe(24) + "\n")
        settings = SiteSettings(
            site=self.site,
            instance_dir=self.dir_in_root,
            module_dir=module_dir,
            ami_port=self.ami_port,
            iax_port=self.iax_port,
            pln123_secret=self.pln123_secret,
            admin_secret=self.admin_secret,
        )
        dialplan, warning = site_dialplan(self.site, self.config_file)
        if warning is not None:
            print(f"\n*** pln123 sandbox: WARNING: {warning}\n", file=sys.stderr, flush=True)
        manager_user = site_manager_user(self.site, self.path / "ami-pln123.secret",
                                         self.config_file)
        sip = None
        if self.sip_port is not None:
            with_sip = site_sip(self.site, self.sip_port, self.config_file)
            if with_sip.warning is not None:
                print(f"\n*** pln123 sandbox: WARNING: {with_sip.warning}\n", file=sys.stderr,
                      flush=True)
            sip = with_sip.pjsip
            dialplan = dialplan.rstrip("\n") + "\n\n" + with_sip.dialplan
        for name, text in render_site_config(settings, dialplan=dialplan,
                                             manager_user=manager_user, sip=sip).items():
            target = self.path / "etc" / name
            target.write_text(text)
            if name in SECRET_FILES:
                os.chown(target, 0, gid)
                target.chmod(0o640)
            else:
                target.chmod(0o644)
        self.save()

    def launch(self) -> None:
        """Start Asterisk detached (own session, output to asterisk.out); do not wait."""
        if self.is_running():
            return
        with open(self.log_file, "ab") as log:
            log.write(f"--- pln123 sandbox: starting {self.site} at {time.ctime()}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                [
                    "chroot",
                    str(self.root),
                    "asterisk",
                    "-f",
                    "-n",
                    "-U",
                    "asterisk",
                    "-G",
                    "asterisk",
                    "-C",
                    self.config_in_root,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        self.pid = self._proc.pid  # chroot execs asterisk: same PID
        self.started_at = time.time()
        self.save()

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until AMI greets, admin login works and Asterisk reports FullyBooted.

        The AMI port opens before all modules are loaded; FullyBooted means the dialplan,
        IAX2 and app_queue are there too, so a test may originate at once.
        """
        deadline = time.monotonic() + timeout
        last_error = "no answer"
        while time.monotonic() < deadline:
            if self.pid is None or not process.alive(self.pid):
                raise SandboxError(self._start_failure("Asterisk exited during start-up"))
            try:
                with RawAmi(self.ami_port, timeout=max(0.1, deadline - time.monotonic())) as ami:
                    ami.login(ADMIN_USER, self.admin_secret, events="system")
                    ami.wait_event("FullyBooted", max(0.1, deadline - time.monotonic()))
                    return
            except (OSError, TimeoutError, SandboxError) as error:
                last_error = str(error)
            time.sleep(process.POLL_SECONDS)
        raise SandboxError(
            self._start_failure(
                f"AMI on 127.0.0.1:{self.ami_port} not ready within {timeout:.0f} s ({last_error})"
            )
        )

    def start(self, timeout: float = 30.0) -> None:
        """Launch and wait until ready; a failed start leaves no process behind."""
        self.launch()
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (SIGKILL after `timeout` s) the recorded PID, if it is really this Asterisk."""
        if self._proc is not None and self._proc.poll() is None:
            # Our own unreaped child: its PID cannot have been reused, even before exec.
            process.terminate(self._proc.pid, timeout)
        elif self.pid is not None and self.status() == "running":
            process.terminate(self.pid, timeout)
        if self._proc is not None:
            self._proc.wait(timeout=5)
            self._proc = None
        self.pid = None
        self.started_at = None
        if self.path.is_dir():
            self.save()

    # -- access ----------------------------------------------------------------------------
    def cli(self, command: str, timeout: float = 10.0) -> str:
        """Output of an Asterisk CLI command run with `asterisk -rx` inside the root."""
        result = subprocess.run(
            ["chroot", str(self.root), "asterisk", "-C", self.config_in_root, "-rx", command],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise SandboxError(f"asterisk -rx {command!r} failed: {result.stderr.strip()}")
        return result.stdout

    def ami(self, user: str = ADMIN_USER, events: str = "on", timeout: float = 5.0) -> RawAmi:
        """A logged-in blocking AMI session (tooling; the product client is ivr.ami).

        A session as pln123's user acts as pln123: its ActionIDs carry pln123's prefix, so
        that user's event filter lets the outcomes of its Originates through.
        """
        secret = self.admin_secret if user == ADMIN_USER else self.pln123_secret
        prefix = ACTION_ID_PREFIX if user == PLN123_USER else PROBE_PREFIX
        session = RawAmi(self.ami_port, timeout=timeout, action_id_prefix=prefix)
        try:
            session.login(user, secret, events=events)
        except BaseException:
            session.close()
            raise
        return session

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _start_failure(self, reason: str) -> str:
        return f"{self.site}: {reason}; last lines of {self.log_file}:\n{self.log_tail()}"
