"""The load test's result: what is measured, how it is printed and saved."""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tools.loadtest.baseline import BaselineReport
from tools.loadtest.sip_callers import SipStats


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile (the smallest value with at least pct % at or below it)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs, {model}, Linux {platform.release()}, Python " \
           f"{platform.python_version()}"


@dataclass
class LoadReport:
    concurrent_target: int
    sites: list[str]
    agents_per_site: int
    seconds: float                      # from the first caller to the end of the drain
    offered: int
    peak_concurrent: int
    outcomes: dict[str, int]
    lost: int
    pln123_cpu_s: dict[str, float]      # per site's serve process, over `seconds`
    asterisk_cpu_s: dict[str, float]
    ami_events: int
    latencies_ms: list[float] = field(repr=False)
    pooled: int = 0                     # answered by another site's agent (national pooling)
    baseline: BaselineReport | None = None   # the same callers through Asterisk alone
    transport: str = "local"            # the callers: Local channels, or "sip" (SIPp)
    sip: SipStats | None = None         # with SIP callers: what SIPp saw
    machine: str = field(default_factory=machine)
    date: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M UTC",
                                                            time.gmtime()))

    @property
    def cpu_ms_per_call(self) -> float:
        return 1000 * sum(self.pln123_cpu_s.values()) / max(1, self.offered)

    @property
    def asterisk_cpu_ms_per_call(self) -> float:
        return 1000 * sum(self.asterisk_cpu_s.values()) / max(1, self.offered)

    @property
    def ratio_vs_baseline(self) -> float | None:
        """CPU per call of the pln123 stack (pln123 + its Asterisk) over the baseline's."""
        if self.baseline is None or self.baseline.cpu_ms_per_call <= 0:
            return None
        return (self.cpu_ms_per_call + self.asterisk_cpu_ms_per_call) / \
            self.baseline.cpu_ms_per_call

    @property
    def lost_total(self) -> int:
        """Callers lost by either stack."""
        return self.lost + (self.baseline.lost if self.baseline is not None else 0)

    @property
    def ami_events_per_s(self) -> float:
        return self.ami_events / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("latencies_ms")
        if self.sip is not None:
            answer = self.sip.answer_ms
            data["sip"].pop("answer_ms")
            data["sip"].update(not_completed=self.sip.not_completed,
                               answer_ms_p50=_rounded(percentile(answer, 50)),
                               answer_ms_p99=_rounded(percentile(answer, 99)))
        p50, p99 = percentile(self.latencies_ms, 50), percentile(self.latencies_ms, 99)
        ratio = self.ratio_vs_baseline
        data.update(cpu_ms_per_call=round(self.cpu_ms_per_call, 1),
                    asterisk_cpu_ms_per_call=round(self.asterisk_cpu_ms_per_call, 1),
                    baseline_cpu_ms_per_call=None if self.baseline is None
                    else round(self.baseline.cpu_ms_per_call, 1),
                    ratio_vs_baseline=None if ratio is None else round(ratio, 2),
                    ami_events_per_s=round(self.ami_events_per_s, 1),
                    decisions=len(self.latencies_ms),
                    decision_latency_ms_p50=None if p50 is None else round(p50, 1),
                    decision_latency_ms_p99=None if p99 is None else round(p99, 1))
        return data

    def lines(self) -> list[str]:
        s = self.summary()
        busy = 100 * sum(self.pln123_cpu_s.values()) / max(self.seconds, 1e-9)
        ast = 100 * sum(self.asterisk_cpu_s.values()) / max(self.seconds, 1e-9)
        kinds = ", ".join(f"{k} {n}" for k, n in _nonzero(self.outcomes))
        return [
            f"machine: {self.machine}",
            f"date: {self.date}",
            f"target: {self.concurrent_target} concurrent calls at {', '.join(self.sites)} "
            f"({self.agents_per_site} agents per site)",
            f"calls offered: {self.offered} in {self.seconds:.0f} s, peak concurrent "
            f"{self.peak_concurrent}",
            f"outcomes: {kinds}"
            + (f" ({self.pooled} answered by another site's agent)" if self.pooled else ""),
            f"lost: {self.lost}",
            f"pln123 CPU: {s['cpu_ms_per_call']} ms per call ({busy:.0f} % of one core); "
            f"Asterisk {ast:.0f} % of one core",
            f"AMI events into pln123: {self.ami_events} ({s['ami_events_per_s']}/s)",
            f"decision latency (agent answered -> caller bridged, {s['decisions']} calls): "
            f"p50 {s['decision_latency_ms_p50']} ms, p99 {s['decision_latency_ms_p99']} ms",
            *self._baseline_lines(),
            *self._sip_lines(),
        ]

    def _sip_lines(self) -> list[str]:
        """SIPp's own view; the last line is the run in one line, with the transport."""
        sip = self.sip
        if sip is None:
            return []
        p99 = percentile(self.latencies_ms, 99)
        answer = sip.answer_ms
        return [
            f"SIP callers (SIPp): dialled {sip.dialled}, ended as scripted {sip.completed}, "
            f"not {sip.not_completed} (in lost); SIPp's count: successful {sip.successful}, "
            f"failed {sip.failed}, mean call {sip.call_length_s:.1f} s; INVITE -> 200 OK "
            f"p50 {_rounded(percentile(answer, 50))} ms, p99 {_rounded(percentile(answer, 99))}"
            " ms",
            f"cpu_ms_per_call_pln123={self.cpu_ms_per_call:.1f} "
            f"cpu_ms_per_call_asterisk={self.asterisk_cpu_ms_per_call:.1f} "
            f"lost={self.lost_total} "
            f"p99_ms={'n/a' if p99 is None else f'{p99:.1f}'} transport={self.transport}",
        ]

    def _baseline_lines(self) -> list[str]:
        """Both stacks side by side; the last line is the comparison in one line."""
        b = self.baseline
        if b is None:
            return []
        ast = 100 * sum(b.asterisk_cpu_s.values()) / max(b.seconds, 1e-9)
        ratio = self.ratio_vs_baseline
        return [
            f"{b.stack} stack (dialplan IVR + app_queue, same callers and agents): offered "
            f"{b.offered} in {b.seconds:.0f} s, peak concurrent {b.peak_concurrent}, "
            f"answered {b.answered}, abandoned {b.abandoned}, lost {b.lost}; Asterisk "
            f"{ast:.0f} % of one core",
            f"CPU per call: pln123 {self.cpu_ms_per_call:.1f} ms + its Asterisk "
            f"{self.asterisk_cpu_ms_per_call:.1f} ms; {b.stack} stack's Asterisk "
            f"{b.cpu_ms_per_call:.1f} ms"
            + ("" if ratio is None else f"; ratio {ratio:.2f}"),
            f"cpu_ms_per_call_pln123={self.cpu_ms_per_call:.1f} "
            f"cpu_ms_per_call_asterisk={self.asterisk_cpu_ms_per_call:.1f} "
            f"cpu_ms_per_call_{b.stack}_stack={b.cpu_ms_per_call:.1f} "
            f"ratio_vs_{b.stack}={'n/a' if ratio is None else f'{ratio:.2f}'} "
            f"lost={self.lost_total}",
        ]

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.summary(), indent=2) + "\n", encoding="utf-8")


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _nonzero(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    return [(kind, n) for kind, n in counts.items() if n]
