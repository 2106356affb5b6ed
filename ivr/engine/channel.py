"""What the IVR needs from a telephony channel: the AGI verbs it uses, nothing more.

`ivr.ami.agi.AGISession` provides it over AMI; the engine's unit tests provide a recorded
fake, so every menu branch is tested with a Clock and no Asterisk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from twisted.internet.defer import Deferred

from ivr.ami.agi import AGIResult


class CallChannel(Protocol):
    channel: str
    env: dict[str, str]
    ended: bool

    @property
    def command_timeout(self) -> float: ...

    def stream_file(self, name: str, escape_digits: str = "") -> Deferred[AGIResult]: ...

    def playback(self, names: Sequence[str]) -> Deferred[AGIResult]: ...

    def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> Deferred[AGIResult]: ...

    def set_variable(self, name: str, value: str) -> Deferred[AGIResult]: ...

    def execute(
        self, command: str, *args: str | int, timeout: float | None = None
    ) -> Deferred[AGIResult]: ...

    def hangup(self) -> Deferred[AGIResult]: ...
