"""A recording's file as pln123 sees it, and how long it lasts.

A file is found by its call id alone, in the configured folder (`recording.host_directory`):
never by a path read from the history or a request, so nothing a browser sends can name
another file.
"""

from __future__ import annotations

import struct
from pathlib import Path

from ivr.callcontrol.recording import RecordingRefused, recording_name

__all__ = ["RecordingRefused", "recording_path", "wav_seconds"]


def recording_path(host_directory: Path, call_id: str) -> Path:
    """Where the call's recording is for pln123; RecordingRefused for a bad call id."""
    return host_directory / recording_name(call_id)


def wav_seconds(path: Path) -> float:
    """A WAV file's length from its header: the `data` chunk's bytes over the `fmt `
    chunk's byte rate. ValueError for what is not a RIFF/WAVE file."""
    with path.open("rb") as wav:
        head = wav.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise ValueError(f"{path} is not a WAV file")
        byte_rate = 0
        while True:
            chunk = wav.read(8)
            if len(chunk) < 8:
                raise ValueError(f"{path} has no data chunk")
            name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if name == b"fmt ":
                fmt = wav.read(size)
                byte_rate = struct.unpack("<I", fmt[8:12])[0]
                if size % 2:
                    wav.read(1)
            elif name == b"data":
                if not byte_rate:
                    raise ValueError(f"{path} has no fmt chunk before its data")
                # A file still being written says 0 or less than there is: the bytes decide.
                available = path.stat().st_size - wav.tell()
                return min(size, available) / byte_rate if size else available / byte_rate
            else:
                wav.seek(size + size % 2, 1)
