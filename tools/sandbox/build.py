"""Build, once, the Debian-unstable root file system that carries Asterisk 22.

Debian 12 ships no Asterisk and Debian 13 neither; sid does. debootstrap into a private
folder, entered with chroot, gives every developer and CI machine the same Asterisk without
touching the host's packages. The build takes about a minute and 500 MB, so it is cached:
it happens in a temporary folder that is renamed into place only when complete, so an
interrupted build never looks cached.
"""

from __future__ import annotations

import fcntl
import os
import signal
import stat
import subprocess
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from tools.sandbox.errors import SandboxError
from tools.sandbox.fs import remove_tree
from tools.sandbox.host import Host

DEFAULT_CACHE_DIR = Path("/var/cache/pln123")
ROOT_NAME = "asterisk-sid"
SUITE = "sid"
PACKAGES = ("asterisk", "asterisk-modules", "asterisk-core-sounds-en-gsm")
# Inside the root, written last: its presence means "complete", its text is `asterisk -V`.
MARKER = ".pln123-asterisk-version"
_TEMP_PREFIX = f".{ROOT_NAME}.building-"
_DEVICES = {"null": (1, 3), "zero": (1, 5), "random": (1, 8), "urandom": (1, 9)}


def root_dir(cache_dir: Path) -> Path:
    return cache_dir / ROOT_NAME


def cached_version(root: Path) -> str | None:
    """Asterisk's version string if `root` is a complete build, else None."""
    try:
        return (root / MARKER).read_text().strip() or None
    except OSError:
        return None


@dataclass(frozen=True)
class BuildResult:
    root: Path
    version: str
    cached: bool
    seconds: float


class DebootstrapProgress:
    """Counts packages through debootstrap's `I:` lines, which are its only progress signal.

    debootstrap never announces a total, so progress is a counter per phase plus the
    elapsed time; that is enough to see a build is moving and roughly where it is.
    """

    _PHASES = {
        "Retrieving": "retrieved",
        "Extracting": "extracted",
        "Unpacking": "unpacked",
        "Configuring": "configured",
    }

    def __init__(self) -> None:
        self.counts = dict.fromkeys(self._PHASES.values(), 0)
        self.phase = "starting"

    def feed(self, line: str) -> bool:
        """Account for one output line; True when the phase changed."""
        if not line.startswith("I: "):
            return False
        words = line[3:].split()
        if not words:
            return False
        counter = self._PHASES.get(words[0])
        # Per package: "I: Retrieving libc6 2.41-1", "I: Unpacking libc6..."; phase
        # announcements have other word counts: "I: Retrieving Packages",
        # "I: Unpacking required packages...", "I: Configuring the base system...".
        if counter is not None and len(words) == (3 if words[0] == "Retrieving" else 2):
            self.counts[counter] += 1
        new_phase = words[0].lower() if counter else self.phase
        if words[0] == "Base" and "successfully" in line:
            new_phase = "base system installed"
        changed = new_phase != self.phase
        self.phase = new_phase
        return changed

    def render(self, elapsed: float) -> str:
        counts = ", ".join(f"{n} {name}" for name, n in self.counts.items())
        return f"[{elapsed:5.0f} s] {self.phase}: {counts}"


def build_root(
    cache_dir: Path,
    mirror: str,
    *,
    host: Host | None = None,
    report: Callable[[str], None] = print,
    report_every: float = 5.0,
) -> BuildResult:
    """Return the cached root, or debootstrap it from `mirror` and cache it."""
    host = host or Host()
    started = time.monotonic()
    root = root_dir(cache_dir)
    version = cached_version(root)
    if version is not None:
        return BuildResult(root, version, cached=True, seconds=0.0)
    host.require_root("building the sandbox")
    debootstrap = host.require_debootstrap()
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _build_lock(cache_dir):
        version = cached_version(root)  # another process may have built it meanwhile
        if version is not None:
            return BuildResult(root, version, cached=True, seconds=0.0)
        for stale in cache_dir.glob(_TEMP_PREFIX + "*"):
            report(f"removing the interrupted build {stale}")
            remove_tree(stale)
        if root.exists():
            report(f"removing the incomplete root {root}")
            remove_tree(root)
        temp = cache_dir / f"{_TEMP_PREFIX}{os.getpid()}"
        try:
            _debootstrap(debootstrap, temp, mirror, report, report_every, started)
            version = _finish(temp)
            temp.rename(root)
        except BaseException:
            remove_tree(temp)
            raise
    return BuildResult(root, version, cached=False, seconds=time.monotonic() - started)


@contextmanager
def _build_lock(cache_dir: Path) -> Iterator[None]:
    """Serialise builds, so two test sessions started together download the root once."""
    with open(cache_dir / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _debootstrap(
    debootstrap: str,
    target: Path,
    mirror: str,
    report: Callable[[str], None],
    report_every: float,
    started: float,
) -> None:
    command = [
        debootstrap,
        "--variant=minbase",
        "--include=" + ",".join(PACKAGES),
        SUITE,
        str(target),
        mirror,
    ]
    report(f"building the Asterisk root in {target} from {mirror} (about a minute, 500 MB)")
    progress = DebootstrapProgress()
    tail: deque[str] = deque(maxlen=25)
    last_report = 0.0
    with subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        # Its own process group, so an interruption can stop debootstrap *and* the dpkg,
        # wget and chroot children it runs.
        start_new_session=True,
    ) as proc:
        assert proc.stdout is not None
        try:
            for raw in proc.stdout:
                line = raw.rstrip("\n")
                tail.append(line)
                changed = progress.feed(line)
                now = time.monotonic()
                if changed or now - last_report >= report_every:
                    report(progress.render(now - started))
                    last_report = now
            returncode = proc.wait()
        except BaseException:
            _stop_group(proc)
            raise
    if returncode != 0:
        raise SandboxError(
            f"debootstrap failed (exit {returncode}); its last lines:\n" + "\n".join(tail)
        )


def _stop_group(proc: subprocess.Popen[str]) -> None:
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    # Children of the group may outlive its leader for a moment; they hold files in the
    # folder about to be removed.
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _finish(root: Path) -> str:
    """Make the fresh root usable for Asterisk and return the version it reports."""
    hosts = root / "etc" / "hosts"
    if not hosts.exists():
        # res_pjsip's resolver and gethostbyname("localhost") read it; minbase has none.
        hosts.write_text("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    for name, (major, minor) in _DEVICES.items():
        device = root / "dev" / name
        if not device.exists():
            os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
            device.chmod(0o666)
    (root / "srv" / "pln123").mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["chroot", str(root), "asterisk", "-V"], capture_output=True, text=True, check=False
    )
    version = result.stdout.strip()
    if result.returncode != 0 or not version.startswith("Asterisk "):
        raise SandboxError(
            f"the new root does not run Asterisk: {result.stdout}{result.stderr}".strip()
        )
    (root / MARKER).write_text(version + "\n")
    return version
