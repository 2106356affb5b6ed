"""The AMI ingest benchmark's core on a small synthetic capture: no Asterisk needed."""

from __future__ import annotations

import re

from benchmarks import ami_ingest

NAMES = ("Newchannel", "Newstate", "DialBegin", "AsyncAGIStart", "Hangup")
SUMMARY = re.compile(
    r"messages=(\d+) events=(\d+) ratio_vs_asterisk_ami=(\d+\.\d\d) ratio_vs_panoramisk=(\d+\.\d\d)"
)


def _event(name: str, index: int, *extra: str) -> bytes:
    lines = [
        f"Event: {name}",
        "Privilege: call,all",
        f"Channel: Local/{1000 + index}@load-0000{index:04x};1",
        "CallerIDName: Jos\u00e9 \u00d1\u00fa\u00f1ez",  # UTF-8 split across packets
        f"Uniqueid: 1795832252.{index}",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def synthetic_capture() -> bytes:
    parts = [
        b"Asterisk Call Manager/11.0.0\r\n",
        b"Response: Success\r\nActionID: bench-recorder\r\nMessage: Authentication accepted\r\n"
        b"\r\n",
        b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n",
    ]
    cycle = ("Newchannel", "VarSet", "Newexten", "Newstate", "DialBegin", "AsyncAGIStart",
             "DeviceStateChange", "Hangup")
    for index in range(40):
        name = cycle[index % len(cycle)]
        extra = ("Variable: x", "Value: a\\r\\nb") if name == "VarSet" else ()
        parts.append(_event(name, index, *extra))
    return b"".join(parts)


def test_capture_stats_count_banner_messages_and_events() -> None:
    stats = ami_ingest.capture_stats(synthetic_capture())
    assert stats.banner == "Asterisk Call Manager/11.0.0"
    assert (stats.messages, stats.events, stats.responses) == (42, 41, 1)
    assert stats.by_event["Hangup"] == 5
    assert stats.by_event["FullyBooted"] == 1


def test_split_chunks_keeps_every_byte() -> None:
    data = synthetic_capture()
    chunks = ami_ingest.split_chunks(data, 97)
    assert b"".join(chunks) == data
    assert all(len(chunk) == 97 for chunk in chunks[:-1])


def test_three_parsers_agree_on_messages_and_deliveries() -> None:
    data = synthetic_capture()
    stats = ami_ingest.capture_stats(data)
    chunks = ami_ingest.split_chunks(data, 61)  # cuts through CRLFs and UTF-8 sequences
    reports = ami_ingest.measure(chunks, NAMES, repeat=1)
    assert [report.name for report in reports] == ["pln123", "asterisk-ami", "panoramisk"]
    expected = {name: stats.by_event[name] for name in NAMES}
    for report in reports:
        assert report.messages == stats.messages == 42
        assert dict(report.delivered) == expected
    assert ami_ingest.check(stats, reports, NAMES) == []
    ours = reports[0]
    assert ours.skipped == stats.events - sum(expected.values())


def test_run_benchmark_ends_with_the_summary_line() -> None:
    data = synthetic_capture()
    lines = ami_ingest.run_benchmark(data, NAMES, chunk_size=1460, repeat=2)
    match = SUMMARY.fullmatch(lines[-1])
    assert match is not None, lines[-1]
    assert (int(match[1]), int(match[2])) == (42, 41)
    assert float(match[3]) > 0 and float(match[4]) > 0
    assert any(line.startswith("check: all three parsed 42 messages") for line in lines)


def test_check_reports_a_parser_that_disagrees() -> None:
    # panoramisk drops a packet that has neither Event nor Response: the check must say so.
    data = synthetic_capture() + b"Foo: bar\r\nBaz: qux\r\n\r\n"
    stats = ami_ingest.capture_stats(data)
    reports = ami_ingest.measure(ami_ingest.split_chunks(data, 4096), NAMES, repeat=1)
    notes = ami_ingest.check(stats, reports, NAMES)
    assert notes == ["panoramisk: parsed 42 messages, the capture holds 43"]


def test_main_prints_the_summary_last(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    capture = tmp_path / "tiny.raw"
    capture.write_bytes(synthetic_capture())
    assert ami_ingest.main(["--capture", str(capture), "--repeat", "1", "--chunk-size", "512"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert SUMMARY.fullmatch(out[-1]), out[-1]
