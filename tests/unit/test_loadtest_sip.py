"""`pln123 loadtest --sip`: its arguments, the SIPp scenario and command it writes, how it
reads SIPp's files back, and its last line."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest

from pln123.cli.main import build_parser
from tools.cli import loadtest as cli
from tools.loadtest import run as run_module
from tools.loadtest import sipp
from tools.loadtest.observer import is_local_caller, is_sip_caller
from tools.loadtest.report import LoadReport
from tools.loadtest.run import CALLER, LoadOptions, sip_plans
from tools.loadtest.sip_callers import (
    SipPlan,
    SipStats,
    duration_s,
    injection_file,
    read_journal,
    read_rtt,
    read_stats,
    sipp_command,
)
from tools.sandbox import CARRIER_ADDRESS

SITES = ["palembang", "medan", "makassar"]


def parse(*argv: str) -> Any:
    return build_parser().parse_args(["loadtest", "--calls", "100", *argv])


def test_sip_is_off_unless_asked_and_reaches_the_options(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse().sip is False
    seen: list[LoadOptions] = []

    def fake_run(options: LoadOptions, say: Any) -> Any:
        seen.append(options)
        raise run_module.Interrupted("SIGINT")

    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(sipp, "missing_sipp", lambda: None)
    monkeypatch.setattr(run_module, "run_loadtest", fake_run)
    assert cli.run(parse("--sip", "--agents", "60")) == 130
    assert seen[0].sip is True and seen[0].calls == 100 and seen[0].baseline is None


def test_sip_refuses_the_baseline_and_a_missing_sipp(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sipp, "missing_sipp", lambda: None)
    assert cli.run(parse("--sip", "--baseline", "app_queue")) == 2
    assert "--sip and --baseline" in capsys.readouterr().err
    monkeypatch.setattr(sipp, "missing_sipp",
                        lambda: "sipp is not installed: apt-get install sip-tester")
    assert cli.run(parse("--sip")) == 2
    assert "apt-get install sip-tester" in capsys.readouterr().err


def test_the_scenario_takes_each_callers_number_and_keeps_a_journal() -> None:
    xml = sipp.scenario(Path("/tmp/media.pcap"), 90.0, hang_up="agent",
                        caller=sipp.INJECTED, journal=True)
    assert 'From: "Pelanggan" <sip:[field0]@[local_ip]:[local_port]>' in xml
    # dialled before the INVITE, done only after the agent's BYE was answered
    assert xml.index('log message="dial [field0]"') < xml.index("INVITE sip:")
    assert xml.index('<recv request="BYE" timeout="150000"/>') < xml.index("SIP/2.0 200 OK") \
        < xml.index('log message="done [field0]"')
    assert 'play_pcap_audio="/tmp/media.pcap"' in xml
    assert "a=rtpmap:101 telephone-event/8000" in xml
    assert "m=audio [media_port] RTP/AVP 8 101" in xml
    plain = sipp.scenario(Path("/tmp/media.pcap"), 4.0, caller="081100000102")
    assert "<log" not in plain and '<pause milliseconds="4000"/>' in plain
    for caller, hang_up in (("[field1]", "agent"), ("0811<x>", "agent"),
                            ("081100000102", "nobody")):
        with pytest.raises(ValueError):
            sipp.scenario(Path("/tmp/media.pcap"), 4.0, caller=caller, hang_up=hang_up)
    with pytest.raises(ValueError):
        sipp.keys("w0")
    assert sipp.keys("0w") == [sipp.Key("0", 1.0)]


def test_callers_are_split_over_the_sites_with_numbers_of_their_own() -> None:
    options = LoadOptions(calls=100, sites=("medan", "palembang"), ramp_s=10.0,
                          duration_s=60.0, drain_s=300.0)
    plans = sip_plans(options, SITES)
    assert [p.concurrent for p in plans.values()] == [50, 50]
    medan = plans["medan"]
    assert medan.rate_per_s == 5.0 and medan.call_bound_s == 370.0
    assert medan.number(1) == "081510000001" and plans["palembang"].number(7) == "081500000007"
    # enough numbers for every call that can start in ramp + hold, none reused
    assert medan.max_calls >= 50 * 70 / 5
    lines = injection_file(medan).splitlines()
    assert lines[0] == "SEQUENTIAL" and lines[1] == "081510000001;"
    assert len(lines) - 1 == medan.max_calls == len(set(lines[1:]))
    assert list(sip_plans(LoadOptions(calls=1, sites=("medan", "palembang")), SITES)) \
        == ["medan"]
    assert sip_plans(LoadOptions(drain_s=5000.0), SITES)["palembang"].call_bound_s == 1800
    # the SIP callers press what the Local callers' script presses
    assert CALLER["DTMF"] == "0"


def test_sipp_is_the_carrier_keeping_that_many_calls_open(tmp_path: Path) -> None:
    plan = SipPlan(site_index=0, concurrent=100, ramp_s=10.0, placing_s=70.0,
                   call_bound_s=370.0)
    command = sipp_command(plan, tmp_path, "127.0.0.1:5062", "0711123", 40000, 40002)
    options = dict(itertools.pairwise(command))
    assert command[:2] == ["sipp", "127.0.0.1:5062"]
    assert options["-i"] == options["-mi"] == CARRIER_ADDRESS
    assert options["-s"] == "0711123" and options["-l"] == "100" and options["-r"] == "10.000"
    assert options["-m"] == str(plan.max_calls)
    assert options["-inf"] == str(tmp_path / "callers.csv")
    assert options["-log_file"] == str(tmp_path / "calls.log")


def test_sipps_files_are_read_back(tmp_path: Path) -> None:
    (tmp_path / "calls.log").write_text(
        "2026-12-06\t12:00:00.1\tdial 081500000001\ndial 081500000002\n"
        "done 081500000002\nnoise\n")
    assert read_journal(tmp_path / "calls.log") == (["081500000001", "081500000002"],
                                                     {"081500000002"})
    assert read_journal(tmp_path / "missing.log") == ([], set())
    (tmp_path / "stats.csv").write_text(
        "CurrentCall;SuccessfulCall(C);FailedCall(C);\n3;1;0;\n0;7;2;\n0;7")
    assert read_stats(tmp_path / "stats.csv")["FailedCall(C)"] == "2"
    (tmp_path / "scenario_42_rtt.csv").write_text(
        "Date_ms;response_time_ms;rtd_no\n408.001;4;1\n808.001;12.5;1\n900;99;2\n")
    assert read_rtt(tmp_path) == [4.0, 12.5]
    assert duration_s("00:00:21:517000") == 21.517 and duration_s("n/a") == 0.0


def test_the_sip_report_ends_with_the_run_in_one_line() -> None:
    report = LoadReport(concurrent_target=100, sites=["palembang"], agents_per_site=60,
                        seconds=100.0, offered=10, peak_concurrent=10,
                        outcomes={"answered": 9, "waiting": 1}, lost=2,
                        pln123_cpu_s={"palembang": 0.2}, asterisk_cpu_s={"palembang": 0.9},
                        ami_events=100, latencies_ms=[1.0, 2.0, 30.0], transport="sip",
                        sip=SipStats(10, 9, 9, 1, [4.0, 5.0], 21.5))
    lines = report.lines()
    assert lines[-1] == ("cpu_ms_per_call_pln123=20.0 cpu_ms_per_call_asterisk=90.0 lost=2 "
                         "p99_ms=30.0 transport=sip")
    assert "dialled 10, ended as scripted 9, not 1" in lines[-2]
    sip = report.summary()["sip"]
    assert "failed 1, mean call 21.5 s" in lines[-2]
    assert sip == {"dialled": 10, "completed": 9, "successful": 9, "failed": 1,
                   "call_length_s": 21.5, "not_completed": 1, "answer_ms_p50": 4.0,
                   "answer_ms_p99": 5.0}


def test_the_observer_tells_sip_callers_from_local_ones() -> None:
    assert is_local_caller("Local/0711123@pln123-inbound-palembang-00000001;2")
    assert not is_local_caller("Local/0711123@pln123-inbound-palembang-00000001;1")
    assert is_sip_caller("PJSIP/sandbox-carrier-00000003")
    assert not is_sip_caller("Local/90001@loadtest-agent-00000002;1")
