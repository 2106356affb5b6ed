"""The load test's Asterisk-only baseline: its sandbox config, how its callers' AMI events
are read, and the report's comparison line."""

from __future__ import annotations

import re

import pytest

from tools.loadtest.baseline import CONTEXT, QUEUE, BaselineReport, QueueObservation, member, track
from tools.loadtest.report import LoadReport
from tools.loadtest.run import AGENT_CONTEXT
from tools.sandbox.render import SiteSettings, render_site_config

SETTINGS = SiteSettings("palembang", "/srv/pln123/default/palembang",
                        "/usr/lib/x86_64-linux-gnu/asterisk/modules", 25038, 24569,
                        "pln-secret_1", "admin-secret_2")


def sections(text: str) -> dict[str, dict[str, list[str]]]:
    """Asterisk's `key = value` sections; repeated keys kept in order."""
    result: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if match := re.fullmatch(r"\[([^\]]+)\]", line):
            current = result.setdefault(match.group(1), {})
        elif "=" in line:
            key, value = re.split(r"=>?", line, maxsplit=1)
            current.setdefault(key.strip(), []).append(value.strip())
    return result


def test_the_sandbox_renders_the_baseline_ivr_and_queue() -> None:
    files = render_site_config(SETTINGS)
    dialplan = sections(files["extensions.conf"])
    entry = " ".join(dialplan[CONTEXT]["same"])
    assert "Goto(loadtest-baseline-ivr,s,1)" in entry and "Answer()" in entry
    ivr = dialplan["loadtest-baseline-ivr"]
    assert [e.split(",")[0] for e in ivr["exten"]] == ["s", "0", "i", "t"]
    steps = " ".join(ivr["exten"] + ivr["same"])
    assert "Background(pln123/welcome)" in steps and "WaitExten(5)" in steps
    assert f"Queue({QUEUE},,,,1800)" in steps
    queue = sections(files["queues.conf"])[QUEUE]
    assert queue["wrapuptime"] == ["2"] and queue["timeout"] == ["10"]
    assert queue["announce-frequency"] == ["30"] and queue["musicclass"] == ["default"]
    assert "member" not in queue   # the load test adds its agents itself
    # the same endpoints pln123 rings, in the same agent context
    assert member("90001", AGENT_CONTEXT) == "Local/90001@loadtest-agent/n"
    assert "loadtest-agent" in dialplan


def test_callers_are_followed_from_channel_to_agent() -> None:
    seen = QueueObservation()
    caller = f"Local/0711123@{CONTEXT}-00000001;2"
    events = [
        ("Newchannel", {"Channel": f"Local/0711123@{CONTEXT}-00000001;1"}),
        ("Newchannel", {"Channel": caller, "CallerIDNum": "081400000001"}),
        ("QueueCallerJoin", {"Queue": QUEUE, "CallerIDNum": "081400000001"}),
        ("QueueCallerJoin", {"Queue": "load", "CallerIDNum": "999"}),       # another queue
        ("AgentConnect", {"Queue": QUEUE, "Channel": caller, "CallerIDNum": "081400000001",
                          "DestChannel": "Local/90001@loadtest-agent-00000002;1"}),
        ("Newchannel", {"Channel": f"Local/0711123@{CONTEXT}-00000003;2"}),
        ("QueueCallerAbandon", {"Queue": QUEUE, "CallerIDNum": "081400000002"}),
    ]
    for name, message in events:
        track(seen, name, message)
    assert seen.peak_live == 2 and seen.joined == {"081400000001"}
    assert seen.answered == {"081400000001"} and seen.abandoned == {"081400000002"}
    track(seen, "Hangup", {"Channel": caller})
    assert seen.live_callers == {f"Local/0711123@{CONTEXT}-00000003;2"}


def report(baseline: BaselineReport | None, lost: int = 0) -> LoadReport:
    return LoadReport(concurrent_target=10, sites=["palembang"], agents_per_site=10,
                      seconds=30.0, offered=10, peak_concurrent=10,
                      outcomes={"answered": 10 - lost, "waiting": lost}, lost=lost,
                      pln123_cpu_s={"palembang": 0.2}, asterisk_cpu_s={"palembang": 0.5},
                      ami_events=100, latencies_ms=[1.0], baseline=baseline)


def test_the_last_line_compares_both_stacks_per_call() -> None:
    base = BaselineReport("app_queue", seconds=28.0, offered=10, peak_concurrent=10,
                          answered=9, abandoned=0, lost=1, asterisk_cpu_s={"palembang": 0.4})
    lines = report(base, lost=2).lines()
    assert lines[-1] == ("cpu_ms_per_call_pln123=20.0 cpu_ms_per_call_asterisk=50.0 "
                         "cpu_ms_per_call_app_queue_stack=40.0 ratio_vs_app_queue=1.75 lost=3")
    assert "answered 9, abandoned 0, lost 1" in lines[-3]
    summary = report(base).summary()
    assert summary["ratio_vs_baseline"] == pytest.approx(1.75)
    assert summary["baseline"]["answered"] == 9   # type: ignore[index]


def test_without_a_baseline_the_report_is_as_before() -> None:
    lines = report(None).lines()
    assert lines[-1].startswith("decision latency")
    assert report(None).lost_total == 0 and report(None).summary()["ratio_vs_baseline"] is None
