"""Recording: file names from call ids only, MixMonitor's fields, the `recording:` config
and a queue's `record`, the history's `recording_path`, a WAV's length from its header,
and the sweep deleting what is older than keep_days (on a Clock)."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import pytest
import yaml
from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock

from ivr.callcontrol.recording import (
    RecordingRefused,
    mixmonitor_action,
    recording_file,
    recording_name,
)
from pln123.config import ConfigError, load_config
from pln123.history.rows import fold, parse_entry
from pln123.recordings.audit import recording_entry
from pln123.recordings.files import wav_seconds
from pln123.recordings.sweep import RecordingSweep
from tests.doubles.config import shipped_data

DAY = 86_400.0


def test_a_recording_is_named_by_its_call_id_only() -> None:
    assert recording_file("/var/spool/rec/", "c-1.2_3") == "/var/spool/rec/c-1.2_3.wav"
    for bad in ("../etc/passwd", "a/b", "a,b", "${X}", "", "x" * 65, "a..b"):
        with pytest.raises(RecordingRefused):
            recording_name(bad)
    with pytest.raises(RecordingRefused):
        recording_file("/var/../etc", "c1")
    assert mixmonitor_action("PJSIP/x-1", "/r/c1.wav") == {"Channel": "PJSIP/x-1",
                                                            "File": "/r/c1.wav"}


def _load(tmp: Path, **changes: Any) -> Any:
    data = shipped_data()
    data["acd"]["queues"]["general"]["record"] = True
    data.update(changes)
    path = tmp / "pln.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_config(path)


def test_the_config_says_which_queues_record_where_and_how_long(tmp_path: Path) -> None:
    config = _load(tmp_path, recording={"directory": "/var/spool/asterisk/rec",
                                        "keep_days": 30})
    assert config.acd.queue("general").record and not config.acd.queue("fault").record
    assert config.recording.directory == "/var/spool/asterisk/rec"
    assert config.recording.host_directory == Path("/var/spool/asterisk/rec")
    assert config.recording.keep_s == 30 * DAY
    with pytest.raises(ConfigError) as missing:
        _load(tmp_path)
    assert "acd.queues.general.record" in str(missing.value)
    with pytest.raises(ConfigError) as bad:
        _load(tmp_path, recording={"directory": "rec,x", "keep_days": 0})
    text = str(bad.value)
    assert "recording.directory" in text and "recording.keep_days" in text


def test_the_recording_entry_fills_the_calls_recording_path() -> None:
    offered = parse_entry("palembang", "1-0", {"event": "offered", "call": "c1",
                                               "skill": "general", "at": "10"})
    entry = recording_entry("palembang", "c1", "/rec/c1.wav", 12.5)
    row = fold(fold(None, offered), parse_entry("palembang", "2-0", entry))
    assert row["recording_path"] == "/rec/c1.wav" and row["updated_at"] == 12.5


def _wav(path: Path, seconds: float) -> None:
    data = b"\0\0" * int(8000 * seconds)
    path.write_bytes(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE" + b"fmt " +
                     struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16) + b"data" +
                     struct.pack("<I", len(data)) + data)


def test_a_wavs_length_comes_from_its_header(tmp_path: Path) -> None:
    _wav(tmp_path / "a.wav", 2.5)
    assert wav_seconds(tmp_path / "a.wav") == 2.5
    (tmp_path / "b.wav").write_bytes(b"not a wav")
    with pytest.raises(ValueError):
        wav_seconds(tmp_path / "b.wav")


def test_the_sweep_deletes_recordings_older_than_keep_days(tmp_path: Path) -> None:
    clock = Clock()
    clock.advance(1_000 * DAY)
    for name, age_days in (("old.wav", 31), ("new.wav", 29), ("notes.txt", 99)):
        path = tmp_path / name
        path.write_bytes(b"x")
        written = clock.seconds() - age_days * DAY
        os.utime(path, (written, written))
    sweep = RecordingSweep(tmp_path, 30 * DAY, clock, every_s=3600,
                           run=lambda f, *args: maybeDeferred(f, *args))
    sweep.start()   # a pass at once
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.wav", "notes.txt"]
    clock.advance(2 * DAY)   # new.wav is 31 days old now; the hourly passes find it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    sweep.stop()
    missing = RecordingSweep(tmp_path / "none", DAY, clock,
                             run=lambda f, *args: maybeDeferred(f, *args))
    assert missing.sweep().result == []
