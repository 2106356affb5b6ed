"""Recording an agent's conversation: the notice to the caller, then MixMonitor.

A queue that records (`acd.queues.<skill>.record`) has its caller told first
(`recording-notice`, in their language, played while the agent's phone rings), and once
caller and agent are bridged, Asterisk's MixMonitor records the caller's channel (both
directions mixed) into `<directory>/<call id>.wav` until the caller hangs up. The file is
named by the call id alone, so the call's history row, the dashboard and the deletion
sweep find it without a lookup; whoever started it is told (`started`), so the call's
history can say where it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# What a call id may be to become a file name: no separators, nothing Asterisk's argument
# parser reads (`,`, `|`, quotes, `${`).
CALL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
SAFE_DIRECTORY = re.compile(r"/[A-Za-z0-9._/-]*\Z")
FORMAT = "wav"   # 8 kHz 16-bit PCM: what every browser plays


class RecordingRefused(ValueError):
    """A call id or folder that cannot be put into MixMonitor's file name safely."""


def recording_name(call_id: str) -> str:
    """`<call id>.wav`; RecordingRefused for an id that is not a plain name."""
    if not CALL_ID.match(call_id) or ".." in call_id:
        raise RecordingRefused(f"call id {call_id!r} cannot name a recording")
    return f"{call_id}.{FORMAT}"


def recording_file(directory: str, call_id: str) -> str:
    """The recording's path as Asterisk writes it."""
    if not SAFE_DIRECTORY.match(directory) or ".." in directory.split("/"):
        raise RecordingRefused(f"folder {directory!r} cannot hold recordings")
    return f"{directory.rstrip('/')}/{recording_name(call_id)}"


def mixmonitor_action(channel: str, file: str) -> dict[str, str]:
    """The AMI `MixMonitor` action's fields: `file` on `channel`, both directions mixed,
    ended by the channel's hang-up (or an explicit StopMixMonitor)."""
    return {"Channel": channel, "File": file}


@dataclass(frozen=True)
class Recorder:
    """Where recordings go (`directory`, as Asterisk sees it), the notice played first, and
    who hears of a recording started (`started(call id, file)`)."""

    directory: str
    notice: str = "recording-notice"
    started: Callable[[str, str], object] = lambda _call_id, _file: None
