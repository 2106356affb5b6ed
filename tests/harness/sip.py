"""Real SIP clients against a sandbox Asterisk with SIP: SIPp callers over the carrier trunk
and baresip agents registered to their rendered endpoints. Every process is started and
stopped by its own PID.

    site = start_sip_site(config_file)          # its own namespace, a loopback SIP port
    agent = BaresipAgent.start(site, "1001", secret, workdir)  # registered, auto-answers
    agent.dial("*11")                           # a feature code from the phone
    caller = SippCaller.start(site, "0711123", keys("21"), workdir, talk_s=4)
    caller.wait(60)                             # 0: the call went as scripted
    agent.stop(); site.sandbox.down()

A SIP site is a separate sandbox namespace (`pytest-sip-<pid>`): the session's ordinary
instances keep no SIP port, whatever ran here. The carrier is whoever sends from
CARRIER_ADDRESS (127.0.0.2), so SIPp binds that address; phones use 127.0.0.1.

What a SIPp caller sends (its scenario, its keys as RFC 4733 events and its voice, one
renumbered RTP capture per caller) is tools.loadtest.sipp's, shared with
`pln123 loadtest --sip`; its names are re-exported here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.loadtest.sipp import (
    CAPTURES,
    KEY_FILES,
    NUMBER,
    VOICE,
    Key,
    free_udp,
    keys,
    media_capture,
    missing_sipp,
    scenario,
)
from tools.sandbox import CARRIER_ADDRESS, DEFAULT_CACHE_DIR, Instance, Sandbox
from tools.sandbox.ports import free_port

__all__ = [
    "CAPTURES",
    "KEY_FILES",
    "VOICE",
    "BaresipAgent",
    "Key",
    "SipSite",
    "SippCaller",
    "keys",
    "media_capture",
    "missing_sip_clients",
    "scenario",
    "start_sip_site",
]


def missing_sip_clients() -> str | None:
    """Why SIPp or baresip cannot run here (for skip_or_fail), or None."""
    if shutil.which("sipp") is None:
        return missing_sipp()
    if shutil.which("baresip") is None:
        return "baresip is not installed: apt-get install baresip"
    return missing_sipp()


def _stop_pid(process: subprocess.Popen[bytes], timeout: float = 5.0,
              signum: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.kill(process.pid, signum)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


# -- the site -------------------------------------------------------------------------------
@dataclass
class SipSite:
    """A sandbox instance with a SIP port, in a namespace of its own."""

    sandbox: Sandbox
    instance: Instance

    @property
    def sip_port(self) -> int:
        assert self.instance.sip_port is not None
        return self.instance.sip_port

    def close(self) -> None:
        self.sandbox.down()


def start_sip_site(config_file: Path, site: str = "palembang", *,
                   namespace: str | None = None) -> SipSite:
    """`site` rendered from `config_file` with SIP on loopback (tools/sandbox/sip.py)."""
    sandbox = Sandbox(DEFAULT_CACHE_DIR, namespace or f"pytest-sip-{os.getpid()}")
    [instance] = sandbox.up([site], free_ports=True, sip=True, config_file=config_file)
    return SipSite(sandbox, instance)


# -- agents: baresip ------------------------------------------------------------------------
@dataclass
class BaresipAgent:
    """baresip registered as one agent's endpoint, answering every call at once, driven
    through its ctrl_tcp module (JSON netstrings on a loopback TCP port)."""

    agent_id: str
    process: subprocess.Popen[bytes]
    control: socket.socket
    log: Path
    events: list[dict[str, Any]] = field(default_factory=list)
    _responses: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    def start(cls, site: SipSite, agent_id: str, secret: str, workdir: Path, *,
              auto_answer: bool = True, timeout: float = 10.0) -> BaresipAgent:
        """Started and registered (REGISTER answered 200), or RuntimeError with its log."""
        if not re.fullmatch(r"[0-9]{3,8}", agent_id):
            raise ValueError(f"not an agent id: {agent_id!r}")
        if not re.fullmatch(r"[A-Za-z0-9_.~+/=@%:!^*-]{1,128}", secret):
            raise ValueError("the secret has characters baresip's account line cannot hold")
        folder = workdir / f"baresip-{agent_id}"
        folder.mkdir(parents=True, exist_ok=True)
        control_port = free_port(socket.SOCK_STREAM)
        (folder / "config").write_text("\n".join([
            "poll_method epoll",
            "sip_listen 127.0.0.1:0",
            "net_interface 127.0.0.1",
            "audio_source ausine,440",  # a tone: the agent's voice, never silent
            "ausrc_srate 48000",  # ausine makes 48 kHz stereo only; baresip resamples it
            "ausrc_channels 2",
            "audio_player aubridge,sink",
            "audio_alert aubridge,sink",
            "module_path /usr/lib/baresip/modules",
            "module g711.so",
            "module ausine.so",
            "module aubridge.so",
            "module_app account.so",
            "module_app menu.so",
            "module_app ctrl_tcp.so",
            f"ctrl_tcp_listen 127.0.0.1:{control_port}",
            "",
        ]))
        answer = ";answermode=auto" if auto_answer else ""
        (folder / "accounts").write_text(
            f"<sip:{agent_id}@127.0.0.1:{site.sip_port};transport=udp>;auth_pass={secret}"
            f"{answer};regint=60;audio_codecs=PCMA,PCMU\n")
        (folder / "accounts").chmod(0o600)
        log = folder / "baresip.log"
        with log.open("ab") as out:
            process = subprocess.Popen(["baresip", "-f", str(folder)], stdin=subprocess.DEVNULL,
                                       stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        control = None
        while control is None and time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"baresip exited: {log.read_text(errors='replace')}")
            try:
                control = socket.create_connection(("127.0.0.1", control_port), timeout=1)
            except OSError:
                time.sleep(0.1)
        if control is None:
            _stop_pid(process)
            raise RuntimeError(f"baresip's control port never opened: {log.read_text()}")
        agent = cls(agent_id, process, control, log)
        threading.Thread(target=agent._read, daemon=True).start()
        try:
            while not agent.registered():
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"baresip {agent_id} did not register: "
                                       f"{log.read_text(errors='replace')[-2000:]}")
                time.sleep(0.1)
        except BaseException:
            agent.stop()
            raise
        return agent

    def registered(self) -> bool:
        """Whether the account's registration stands (`reginfo`: the UA line shows OK).

        Asked, not awaited as an event: the first REGISTER is often answered before the
        control connection is up, and ctrl_tcp does not replay events."""
        data = str(self.command("reginfo").get("data", ""))
        return any(" OK " in re.sub(r"\x1b\[[0-9;]*m", " ", line)
                   for line in data.splitlines() if f"sip:{self.agent_id}@" in line)

    def _read(self) -> None:
        buffer = b""
        self.control.settimeout(None)
        while True:
            try:
                chunk = self.control.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b":" in buffer:
                length_text, _, rest = buffer.partition(b":")
                if not length_text.isdigit() or len(rest) < int(length_text) + 1:
                    break
                size = int(length_text)
                message = json.loads(rest[:size])
                buffer = rest[size + 1:]
                with self._lock:
                    (self.events if message.get("event") else self._responses).append(message)

    def command(self, command: str, params: str = "", timeout: float = 5.0) -> dict[str, Any]:
        """A ctrl_tcp command's response (`ok`, `data`)."""
        token = f"t{time.monotonic_ns()}"
        data = json.dumps({"command": command, "params": params, "token": token}).encode()
        self.control.sendall(str(len(data)).encode() + b":" + data + b",")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for response in self._responses:
                    if response.get("token") == token:
                        return response
            time.sleep(0.05)
        raise TimeoutError(f"baresip {self.agent_id}: no answer to {command!r}")

    def wait_event(self, kind: str, timeout: float = 10.0, after: int = 0) -> dict[str, Any]:
        """The first event of type `kind` (REGISTER_OK, CALL_ESTABLISHED, CALL_CLOSED, ...)
        at index `after` or later."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for event in self.events[after:]:
                    if event.get("type") == kind:
                        return event
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise TimeoutError(f"baresip {self.agent_id}: no {kind} within {timeout:g} s; "
                           f"events: {[e.get('type') for e in self.events]}; log:\n"
                           f"{self.log.read_text(errors='replace')[-2000:]}")

    def count(self, kind: str) -> int:
        with self._lock:
            return sum(1 for event in self.events if event.get("type") == kind)

    def dial(self, number: str) -> None:
        """Dial `number` (a feature code such as *11) at the agent's own Asterisk."""
        if not re.fullmatch(r"[0-9*#+]{1,20}", number):
            raise ValueError(f"not a number to dial: {number!r}")
        self.command("dial", number)

    def hangup(self) -> None:
        self.command("hangup")

    def unregister(self) -> None:
        """REGISTER with expiry 0: the phone leaves, the process stays."""
        self.command("uareg", "0")

    def stop(self) -> None:
        """SIGTERM by PID (baresip unregisters on the way out), then close the control."""
        _stop_pid(self.process)
        self.control.close()

    def kill(self) -> None:
        """SIGKILL by PID: the phone vanishes without unregistering (a pulled cable)."""
        _stop_pid(self.process, signum=signal.SIGKILL)
        self.control.close()


# -- callers: SIPp --------------------------------------------------------------------------
@dataclass
class SippCaller:
    """One SIPp process placing `calls` calls (`concurrent` at a time) to a number."""

    process: subprocess.Popen[bytes]
    folder: Path
    number: str

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    def start(cls, site: SipSite, number: str, keys_then: Iterable[Key], workdir: Path, *,
              talk_s: float = 4.0, hang_up: str = "caller", caller: str = "+6281100000001",
              header: tuple[str, str] | None = None, calls: int = 1, concurrent: int = 1,
              rate_per_s: float = 1.0, name: str = "caller",
              first_key_after_s: float = 3.0) -> SippCaller:
        if not NUMBER.fullmatch(number):
            raise ValueError(f"not a number: {number!r}")
        if not re.fullmatch(r"[a-z0-9-]{1,40}", name):
            raise ValueError(f"not a name: {name!r}")
        folder = workdir / f"sipp-{name}"
        folder.mkdir(parents=True, exist_ok=True)
        media = folder / "media.pcap"
        media_s = media_capture(media, list(keys_then), first_key_after_s=first_key_after_s,
                                talk_s=talk_s if hang_up == "caller" else talk_s + 60)
        if hang_up == "agent":
            media_s -= 60
        xml = folder / "scenario.xml"
        xml.write_text(scenario(media, media_s, hang_up=hang_up, caller=caller,
                                header=header))
        sip_port = free_udp(CARRIER_ADDRESS)
        media_port = free_udp(CARRIER_ADDRESS, even=True)
        command = ["sipp", f"127.0.0.1:{site.sip_port}", "-sf", str(xml), "-s", number,
                   "-i", CARRIER_ADDRESS, "-p", str(sip_port), "-mi", CARRIER_ADDRESS,
                   "-mp", str(media_port), "-m", str(calls), "-l", str(concurrent),
                   "-r", f"{rate_per_s:g}", "-nostdin", "-trace_err", "-trace_stat",
                   "-stf", str(folder / "stats.csv"), "-fd", "1",
                   "-error_file", str(folder / "errors.log"), "-timeout_error",
                   "-timeout", f"{int(talk_s + 180)}s"]
        with (folder / "sipp.out").open("ab") as out:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT, cwd=folder)
        return cls(process, folder, number)

    def wait(self, timeout: float) -> int:
        """SIPp's exit status: 0 every call as scripted, 1 some failed, other: an error."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise

    def running(self) -> bool:
        return self.process.poll() is None

    def stats(self) -> dict[str, str]:
        """The last row of SIPp's statistics file (SuccessfulCall(C), FailedCall(C), ...)."""
        try:
            lines = (self.folder / "stats.csv").read_text(errors="replace").splitlines()
        except OSError:
            return {}
        if len(lines) < 2:
            return {}
        header, last = lines[0].split(";"), lines[-1].split(";")
        return dict(zip(header, last, strict=False))

    def errors(self) -> str:
        try:
            return (self.folder / "errors.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        _stop_pid(self.process)

