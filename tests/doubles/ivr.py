"""Test doubles for the IVR engine's unit tests: a scripted caller on a recorded channel,
and in-memory versions of our own ACD/self-service interfaces (never of Asterisk or Redis,
which the end-to-end tests use for real)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock

from acd.intake import QueuePlacement, QueueRequest
from acd.selfservice import validation
from acd.selfservice.lookups import caller_key
from acd.selfservice.models import OPEN_TICKET_STATUSES, Outage, Ticket
from ivr.ami.agi import AGIHangup, AGIResult


@dataclass(frozen=True)
class Press:
    """The caller answers the next question (GET DATA) with `keys`."""

    keys: str


@dataclass(frozen=True)
class TypeAhead(Press):
    """Keys already pressed that nothing has taken yet: the rest of a burst typed ahead.

    The next question takes them like `Press`; WAIT FOR DIGIT (how the IVR discards keys
    typed ahead) hands them over one key at a time, as Asterisk does.
    """


@dataclass(frozen=True)
class Barge:
    """The caller interrupts the next interruptible prompt (STREAM FILE) with `keys`."""

    keys: str


@dataclass(frozen=True)
class Silence:
    """The caller lets the next input time out."""


@dataclass(frozen=True)
class HangUp:
    """The caller hangs up during the next question, or the next prompt if `at_prompt`."""

    at_prompt: bool = False


Step = Press | Barge | Silence | HangUp


@dataclass
class ScriptedChannel:
    """Plays the caller's part from a script; records every AGI command the IVR sent."""

    script: list[Step]
    env: dict[str, str] = field(default_factory=dict)
    channel: str = "Local/0711123@pln123-inbound-palembang-00000001;2"
    ended: bool = False
    commands: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    command_timeout: float = 30.0

    def _next(self, listening: bool) -> Step | None:
        step = self.script[0] if self.script else None
        if isinstance(step, HangUp) and (listening or step.at_prompt):
            self.script.pop(0)
            self.ended = True
            return step
        if not listening or not self.script:
            return None
        return self.script.pop(0)

    def _result(self, text: str) -> Deferred[AGIResult]:
        from ivr.ami.agi import parse_agi_result

        return succeed(parse_agi_result(text))

    def _hung_up(self) -> Deferred[AGIResult]:
        return fail(AGIHangup(f"{self.channel}: hangup"))

    def stream_file(self, name: str, escape_digits: str = "") -> Deferred[AGIResult]:
        if self.ended:
            return self._hung_up()
        self.commands.append(("STREAM FILE", (name, escape_digits)))
        if isinstance(self._next(False), HangUp):
            return self._hung_up()
        step = self.script[0] if self.script else None
        if escape_digits and isinstance(step, Barge):
            self.script.pop(0)
            first, rest = step.keys[0], step.keys[1:]
            if rest:
                self.script.insert(0, TypeAhead(rest))  # the rest goes to the next question
            return self._result(f"200 result={ord(first)} endpos=800\n")
        return self._result("200 result=0 endpos=16000\n")

    def playback(self, names: Sequence[str]) -> Deferred[AGIResult]:
        """EXEC Playback of every file: no key stops it; a hang-up at a prompt does."""
        if self.ended:
            return self._hung_up()
        self.commands.append(("EXEC", ("Playback", "&".join(names))))
        if isinstance(self._next(False), HangUp):
            return self._hung_up()
        return self._result("200 result=0\n")

    def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> Deferred[AGIResult]:
        if self.ended:
            return self._hung_up()
        self.commands.append(("GET DATA", (prompt, timeout_ms, max_digits)))
        step = self._next(True)
        if isinstance(step, HangUp):
            return self._hung_up()
        assert not isinstance(step, Barge), f"script: {step} met a question, not a prompt"
        if isinstance(step, Press):
            keys = step.keys
            if "#" in keys:
                return self._result(f"200 result={keys.split('#')[0]}\n")
            if len(keys) > max_digits:
                self.script.insert(0, TypeAhead(keys[max_digits:]))
                keys = keys[:max_digits]
            suffix = "" if len(keys) == max_digits else " (timeout)"
            return self._result(f"200 result={keys}{suffix}\n")
        return self._result("200 result= (timeout)\n")

    def set_variable(self, name: str, value: str) -> Deferred[AGIResult]:
        if self.ended:
            return self._hung_up()
        self.commands.append(("SET VARIABLE", (name, value)))
        return self._result("200 result=1\n")

    def execute(self, command: str, *args: Any, timeout: float | None = None
                ) -> Deferred[AGIResult]:
        if self.ended:
            return self._hung_up()
        self.commands.append((command, args))
        if command == "WAIT FOR DIGIT":
            return self._wait_for_digit()
        return self._result("200 result=0\n")

    def _wait_for_digit(self) -> Deferred[AGIResult]:
        """A key typed ahead if there is one left, else the wait times out (result=0): a
        key the script presses later is pressed when asked, not while nobody listens."""
        step = self.script[0] if self.script else None
        if not isinstance(step, TypeAhead):
            return self._result("200 result=0\n")
        self.script.pop(0)
        if len(step.keys) > 1:
            self.script.insert(0, TypeAhead(step.keys[1:]))
        return self._result(f"200 result={ord(step.keys[0])}\n")

    def hangup(self) -> Deferred[AGIResult]:
        self.commands.append(("HANGUP", ()))
        self.ended = True
        return self._result("200 result=1\n")

    def played(self) -> list[str]:
        """Every prompt file the caller heard (or started to hear), in order."""
        heard: list[str] = []
        for name, args in self.commands:
            if name in ("STREAM FILE", "GET DATA"):
                heard.append(str(args[0]))
            elif name == "EXEC" and args[:1] == ("Playback",):
                heard += str(args[1]).split("&")
            elif name == "GOSUB":   # the hold subroutine: ARG1 is the files
                heard += str(args[3]).split(",")[0].split("&")
        return heard


class MemoryIntake:
    def __init__(self) -> None:
        self.requests: list[QueueRequest] = []
        self.abandoned: list[str] = []
        self.adopted: list[str] = []

    def abandon(self, call_id: str) -> Deferred[bool]:
        self.abandoned.append(call_id)
        return succeed(True)

    def enqueue(self, request: QueueRequest) -> Deferred[QueuePlacement]:
        self.requests.append(request)
        return succeed(QueuePlacement(request.call_id, request.site, request.skill,
                                      len(self.requests)))

    def queued_channels(self) -> Deferred[dict[str, str]]:
        return succeed({r.channel: r.call_id for r in self.requests
                        if r.call_id not in self.abandoned})

    def adopt(self, call_id: str, channel: str) -> None:
        self.adopted.append(call_id)


class MemoryOutages:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.items: list[Outage] = []
        self.broken = False

    def outages_for(self, area_code: str) -> Deferred[list[Outage]]:
        if self.broken:
            return fail(ConnectionError("redis down"))
        return succeed([o for o in self.items if area_code in o.area_codes])

    def post(self, area_codes: tuple[str, ...], message: str, restore_at: float | None,
             created_by: str = "cli") -> Deferred[Outage]:
        outage = Outage(f"o-{len(self.items) + 1}", area_codes, message, restore_at,
                        self.clock.seconds(), created_by)
        self.items.append(outage)
        return succeed(outage)

    def all(self) -> Deferred[list[Outage]]:
        return succeed(list(self.items))

    def clear(self, outage_id: str) -> Deferred[bool]:
        before = len(self.items)
        self.items = [o for o in self.items if o.id != outage_id]
        return succeed(len(self.items) < before)


class MemoryTickets:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.tickets: dict[str, Ticket] = {}

    def create(self, idpel: str, area_code: str, category: str, caller_number: str,
               site: str, call_id: str) -> Deferred[Ticket]:
        try:  # the checks every desk makes, so a caller the real desk refuses fails here too
            fields = validation.ticket_fields(
                idpel=idpel, area_code=area_code, category=category,
                caller_number=caller_number, site=site, call_id=call_id)
        except ValueError as error:
            return fail(error)
        number = str(10000001 + len(self.tickets))
        ticket = Ticket(number=number, created_at=self.clock.seconds(), **fields)
        self.tickets[number] = ticket
        return succeed(ticket)

    def find(self, number: str) -> Deferred[Ticket | None]:
        return succeed(self.tickets.get(number))


class FlakyIntake(MemoryIntake):
    """An intake whose store is away: its first `failures` enqueues fail the way an
    unreachable Redis fails them (None: every one does), later ones succeed. `attempts`
    keeps every request offered, taken or not, and when (by `clock`)."""

    def __init__(self, clock: Clock, failures: int | None) -> None:
        super().__init__()
        self.clock = clock
        self.failures = failures
        self.attempts: list[tuple[float, QueueRequest]] = []

    def enqueue(self, request: QueueRequest) -> Deferred[QueuePlacement]:
        self.attempts.append((self.clock.seconds(), request))
        if self.failures is None or len(self.attempts) <= self.failures:
            return fail(ConnectionError("Error 111 connecting to 127.0.0.1:6379. "
                                        "Connection refused."))
        return super().enqueue(request)


class MemoryLookup:
    """`TicketLookup` over a MemoryTickets desk: open tickets, newest first, matched by
    IDPEL or by the caller's number as the real lookup matches it (its national
    significant number). `asked` keeps every lookup; `broken` fails them like Redis down,
    `stalled` never answers (a Redis that hangs)."""

    def __init__(self, tickets: MemoryTickets) -> None:
        self.tickets = tickets
        self.asked: list[tuple[str, str]] = []
        self.broken = False
        self.stalled = False

    def _answer(self, matches: list[Ticket]) -> Deferred[list[Ticket]]:
        if self.broken:
            return fail(ConnectionError("redis down"))
        if self.stalled:
            return Deferred()
        found = [t for t in matches if t.status in OPEN_TICKET_STATUSES]
        return succeed(sorted(found, key=lambda t: t.created_at, reverse=True))

    def open_by_idpel(self, idpel: str) -> Deferred[list[Ticket]]:
        self.asked.append(("idpel", idpel))
        return self._answer([t for t in self.tickets.tickets.values() if t.idpel == idpel])

    def open_by_caller(self, caller_number: str) -> Deferred[list[Ticket]]:
        self.asked.append(("caller", caller_number))
        digits = caller_key(caller_number)
        return self._answer([t for t in self.tickets.tickets.values()
                             if digits and caller_key(t.caller_number) == digits])


class MemoryDeflections:
    """`Deflections`: (call id, skill) of every caller counted as deflected."""

    def __init__(self) -> None:
        self.counted: list[tuple[str, str]] = []

    def deflected(self, call_id: str, skill: str) -> None:
        self.counted.append((call_id, skill))
