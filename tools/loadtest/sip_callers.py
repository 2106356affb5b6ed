"""`pln123 loadtest --sip`: the callers are SIPp processes over the site's carrier trunk.

One SIPp process per site, bound to CARRIER_ADDRESS (the sandbox's carrier), dials the
site's `<area code>123` as a national number, so the call enters through the rendered
carrier context exactly as a carrier's would. Each call has a caller number of its own
(`0815<site index><7 digits>`, the next line of an injection file) and does what the
Local callers' scripted caller does: after the answer, the caller's voice (PCMA RTP) for
`PAUSE` s, then the `DTMF` keys as RFC 4733 events, then voice until the agent hangs up
(the caller is patient: the audio lasts as long as a call can).

Phases map onto SIPp's own controls: the rate (`-r`) brings the first callers over the
ramp, the limit (`-l`) keeps that many calls open, so every ended call is replaced during
the hold; SIGUSR1 ends the hold (SIPp places no new call and exits when its calls are
over), SIGTERM by PID ends the drain.

SIPp's statistics file gives its counts and response times; its call journal (tools.
loadtest.sipp, `journal=True`) gives which numbers were dialled and which calls ended as
scripted (the BYE came and was answered): a number dialled and never done is a failed
call, counted in `lost`.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tools.loadtest.sipp import INJECTED, Key, free_udp, media_capture, scenario
from tools.sandbox import CARRIER_ADDRESS

NUMBER_PREFIX = "0815"       # SIP callers; the Local callers are 0813..., the baseline's 0814...
MIN_CALL_S = 5.0             # no load-test call is shorter: its injection file never runs out


@dataclass(frozen=True)
class SipPlan:
    """One site's SIPp: how many callers at once, how fast they arrive, how long at most."""

    site_index: int
    concurrent: int
    ramp_s: float
    placing_s: float          # ramp + hold: new calls may start this long
    call_bound_s: float       # no call lasts longer (the caller's audio is this long)

    @property
    def rate_per_s(self) -> float:
        return self.concurrent / self.ramp_s

    @property
    def max_calls(self) -> int:
        """Numbers in the injection file: more than the calls that can start in time."""
        return min(9_999_999, int(self.concurrent * (self.placing_s / MIN_CALL_S + 2)))

    def number(self, n: int) -> str:
        return f"{NUMBER_PREFIX}{self.site_index}{n:07d}"


def injection_file(plan: SipPlan) -> str:
    """SIPp's `-inf` file: one caller number per call, in order."""
    return "SEQUENTIAL\n" + "".join(f"{plan.number(n)};\n"
                                    for n in range(1, plan.max_calls + 1))


def sipp_command(plan: SipPlan, folder: Path, target: str, dialled: str, sip_port: int,
                 media_port: int) -> list[str]:
    return ["sipp", target, "-sf", str(folder / "scenario.xml"), "-s", dialled,
            "-inf", str(folder / "callers.csv"),
            "-i", CARRIER_ADDRESS, "-p", str(sip_port),
            "-mi", CARRIER_ADDRESS, "-mp", str(media_port),
            "-r", f"{plan.rate_per_s:.3f}", "-rp", "1000", "-l", str(plan.concurrent),
            "-m", str(plan.max_calls), "-nostdin",
            "-trace_stat", "-stf", str(folder / "stats.csv"), "-fd", "1",
            "-trace_rtt", "-rtt_freq", "1",
            "-trace_logs", "-log_file", str(folder / "calls.log"),
            "-trace_err", "-error_file", str(folder / "errors.log")]


@dataclass
class SipStats:
    """What the SIP callers saw, from SIPp's own files."""

    dialled: int
    completed: int            # ended as scripted (the agent's BYE answered)
    successful: int           # SIPp's SuccessfulCall(C)
    failed: int               # SIPp's FailedCall(C)
    answer_ms: list[float]    # INVITE -> 200 OK per call (SIPp's response time 1)
    call_length_s: float = 0.0   # SIPp's mean call length, answer to BYE

    @property
    def not_completed(self) -> int:
        return self.dialled - self.completed


@dataclass
class SippLoad:
    """One site's SIPp process, started and stopped by its PID."""

    site: str
    plan: SipPlan
    process: subprocess.Popen[bytes]
    folder: Path

    @classmethod
    def start(cls, site: str, plan: SipPlan, folder: Path, *, sip_port: int, dialled: str,
              caller_keys: Sequence[Key], first_key_after_s: float) -> SippLoad:
        folder.mkdir(parents=True, exist_ok=True)
        media = folder / "media.pcap"
        media_s = media_capture(media, caller_keys, first_key_after_s=first_key_after_s,
                                talk_s=plan.call_bound_s)
        (folder / "scenario.xml").write_text(
            scenario(media, media_s, hang_up="agent", caller=INJECTED, journal=True),
            encoding="ascii")
        (folder / "callers.csv").write_text(injection_file(plan), encoding="ascii")
        command = sipp_command(plan, folder, f"127.0.0.1:{sip_port}", dialled,
                               free_udp(CARRIER_ADDRESS),
                               free_udp(CARRIER_ADDRESS, even=True))
        with (folder / "sipp.out").open("ab") as out:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT, cwd=folder)
        return cls(site, plan, process, folder)

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def end_hold(self) -> None:
        """No new calls; SIPp exits once its open calls are over (SIGUSR1)."""
        if self.running():
            os.kill(self.pid, signal.SIGUSR1)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM by PID (SIPp ends its open calls), SIGKILL if it does not exit."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait(timeout=5)

    def failure(self) -> str | None:
        """Why SIPp stopped by itself before it was told to, or None."""
        code = self.process.poll()
        if code is None or code in (0, 1, 97):
            return None
        return f"SIPp for {self.site} exited with status {code}:\n{self.output()}"

    def output(self) -> str:
        texts = []
        for name in ("sipp.out", "errors.log"):
            try:
                texts.append((self.folder / name).read_text(errors="replace")[-1500:])
            except OSError:
                pass
        return "\n".join(texts)

    def journal(self) -> tuple[list[str], set[str]]:
        """(numbers dialled in order, numbers whose call ended as scripted)."""
        return read_journal(self.folder / "calls.log")

    def open_calls(self) -> int:
        """Calls SIPp has open now, from its statistics file (written every second)."""
        row = read_stats(self.folder / "stats.csv")
        return _int(row.get("CurrentCall"))

    def stats(self) -> SipStats:
        dialled, done = self.journal()
        row = read_stats(self.folder / "stats.csv")
        return SipStats(len(dialled), len(done & set(dialled)),
                        _int(row.get("SuccessfulCall(C)")), _int(row.get("FailedCall(C)")),
                        read_rtt(self.folder), duration_s(row.get("CallLength(C)")))


_JOURNAL = re.compile(r"(dial|done) ([0-9]{3,15})\s*$")


def read_journal(path: Path) -> tuple[list[str], set[str]]:
    dialled: list[str] = []
    done: set[str] = set()
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return dialled, done
    for line in text.splitlines():
        match = _JOURNAL.search(line)
        if match is None:
            continue
        if match[1] == "dial":
            dialled.append(match[2])
        else:
            done.add(match[2])
    return dialled, done


def read_stats(path: Path) -> dict[str, str]:
    """The last complete row of SIPp's statistics file (`;`-separated, a header line)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return {}
    if len(lines) < 2:
        return {}
    header = lines[0].split(";")
    for line in reversed(lines[1:]):
        values = line.split(";")
        if len(values) >= len(header) - 1:
            return dict(zip(header, values, strict=False))
    return {}


def read_rtt(folder: Path) -> list[float]:
    """Every call's response time 1 (INVITE -> 200 OK) in ms, from SIPp's `*_rtt.csv`
    (`date_ms;response_time_ms;rtd_no` rows)."""
    values: list[float] = []
    for path in sorted(folder.glob("*_rtt.csv")):
        for line in path.read_text(errors="replace").splitlines():
            parts = line.split(";")
            if len(parts) >= 3 and parts[2].strip() in ("1", "rtd1"):
                try:
                    values.append(float(parts[1]))
                except ValueError:
                    continue
    return values


def duration_s(text: str | None) -> float:
    """SIPp's `HH:MM:SS:microseconds` in seconds (0.0 if absent or malformed)."""
    parts = (text or "").split(":")
    if len(parts) != 4 or not all(part.isdigit() for part in parts):
        return 0.0
    hours, minutes, seconds, micros = (int(part) for part in parts)
    return hours * 3600 + minutes * 60 + seconds + micros / 1e6


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0
