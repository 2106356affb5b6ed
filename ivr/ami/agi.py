"""AsyncAGI over AMI: one session per channel, each command a Deferred.

Asterisk queues AGI commands per channel and reports each with `AsyncAGIExec` carrying the
`CommandId` we chose. When the channel hangs up or leaves AGI the queue is dropped without a
word, so every pending command is failed on `AsyncAGIEnd`/`Hangup`, and every command has a
timeout of its own.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote

import structlog
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python.failure import Failure

from ivr.ami.actions import Fields
from ivr.ami.deadlines import DeadlineTimer
from ivr.ami.errors import AMIError
from ivr.ami.events import EventDispatcher, Subscription
from ivr.ami.message import Message

log = structlog.get_logger("ivr.ami.agi")

DEFAULT_COMMAND_TIMEOUT = 30.0
# A command that ends with result=-1 because the caller hung up is followed at once by
# AsyncAGIEnd/Hangup; a -1 for another reason (a missing prompt file) is not.
HANGUP_SETTLE_SECONDS = 0.5


class AGIError(AMIError):
    """Base of AsyncAGI failures."""


class AGIHangup(AGIError):
    """The channel hung up or left AGI before the command finished."""


class AGICommandError(AGIError):
    """Asterisk answered 510/511/520: unknown command, dead channel, or bad usage."""

    def __init__(self, result: AGIResult):
        self.result = result
        super().__init__(f"AGI {result.code}: {result.text.strip()}")


class AGITimeout(AGIError):
    """No AsyncAGIExec for the command within its timeout."""


class ActionSender(Protocol):
    def send_action(
        self, action: str, fields: Fields | None = None, timeout: float | None = None
    ) -> Deferred[Any]: ...


# -- results --------------------------------------------------------------------------------

_STATUS_LINE = re.compile(r"^(\d{3})[ -]")
_RESULT = re.compile(r"result=(\S*)")
_PAREN = re.compile(r"\(([^)]*)\)")
_FIELD = re.compile(r"(\w+)=(\S*)")


@dataclass(frozen=True)
class AGIResult:
    """A parsed AGI reply. For multi-line replies (520, 100-then-200) the last line rules."""

    code: int
    result: str | None
    data: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def digits(self) -> str:
        """GET DATA's digits; empty on timeout with nothing pressed or on hangup."""
        if self.result is None or self.result.startswith("-"):
            return ""
        return self.result

    @property
    def timed_out(self) -> bool:
        return self.data == "timeout"

    @property
    def failed(self) -> bool:
        """result=-1: the channel hung up, or the application failed (e.g. no such file)."""
        return self.result == "-1"

    @property
    def digit(self) -> str | None:
        """STREAM FILE / WAIT FOR DIGIT: the pressed key from its ASCII code, if any."""
        if self.result is None or not self.result.isdigit() or self.result == "0":
            return None
        return chr(int(self.result))


def parse_agi_result(raw: str) -> AGIResult:
    """Parse the URL-decoded `Result` of an AsyncAGIExec event."""
    lines = [line for line in raw.replace("\r", "").split("\n") if line.strip()]
    final = ""
    for line in reversed(lines):
        if _STATUS_LINE.match(line) and line[3] == " ":
            final = line
            break
    if not final:
        return AGIResult(code=0, result=None, text=raw)
    code = int(final[:3])
    rest = final[4:]
    result_match = _RESULT.search(rest)
    paren = _PAREN.search(rest)
    fields = {k: v for k, v in _FIELD.findall(rest) if k != "result"}
    return AGIResult(
        code=code,
        result=result_match.group(1) if result_match else None,
        data=paren.group(1) if paren else None,
        fields=fields,
        text=raw,
    )


# -- arguments and environment --------------------------------------------------------------


def quote_agi_arg(value: str | int) -> str:
    """Quote one AGI argument: res_agi splits on whitespace, honours `"` and `\\`.

    Caller-derived text (digits typed, names, ticket ids) always goes through here, so a
    space or quote in it can never become a second argument.
    """
    text = str(value)
    if "\r" in text or "\n" in text or "\x00" in text:
        raise ValueError("an AGI argument cannot contain CR, LF or NUL")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# The order res_agi.c writes the environment in. A caller name may hold newlines and so
# forge lines: keys written before agi_calleridname keep their first value, keys after it
# their last, so a forged line can never override a genuine one.
_ENV_ORDER = (
    "agi_request", "agi_channel", "agi_language", "agi_type", "agi_uniqueid",
    "agi_version", "agi_callerid", "agi_calleridname", "agi_callingpres",
    "agi_callingani2", "agi_callington", "agi_callingtns", "agi_dnid", "agi_rdnis",
    "agi_context", "agi_extension", "agi_priority", "agi_enhanced", "agi_accountcode",
    "agi_threadid",
)
_FIRST_WINS = frozenset(_ENV_ORDER[: _ENV_ORDER.index("agi_calleridname")])


def parse_agi_env(encoded: str) -> dict[str, str]:
    """Decode the URL-encoded `Env` of AsyncAGIStart into `{agi_key: value}`."""
    env: dict[str, str] = {}
    for line in unquote(encoded, encoding="utf-8", errors="replace").split("\n"):
        key, sep, value = line.partition(": ")
        if not sep or not key.startswith("agi_"):
            continue
        if key in _FIRST_WINS and key in env:
            continue
        env[key] = value
    return env


# -- sessions -------------------------------------------------------------------------------


@dataclass
class _PendingCommand:
    command: str
    deferred: Deferred[AGIResult]
    deadline: float
    delay: float
    settle: IDelayedCall | None = None  # result=-1 held back: was it the hang-up?


class AGISession:
    """One channel in AsyncAGI. Commands run in order on Asterisk's side."""

    def __init__(
        self,
        router: AsyncAGIRouter,
        channel: str,
        uniqueid: str,
        env: dict[str, str],
    ):
        self.router = router
        self.channel = channel
        self.uniqueid = uniqueid
        self.env = env
        self.ended = False
        self.end_reason: str | None = None
        self._pending: dict[str, _PendingCommand] = {}
        self._end_waiters: list[Deferred[str]] = []
        self._timeouts = DeadlineTimer(router.clock, self._expire)  # one for every command

    @property
    def command_timeout(self) -> float:
        """How long one AGI command may take before it fails with AGITimeout."""
        return self.router.command_timeout

    @property
    def extension(self) -> str:
        return self.env.get("agi_extension", "")

    @property
    def caller_number(self) -> str:
        return self.env.get("agi_callerid", "")

    @property
    def caller_name(self) -> str:
        return self.env.get("agi_calleridname", "")

    def execute(
        self, command: str, *args: str | int, timeout: float | None = None
    ) -> Deferred[AGIResult]:
        """Queue `command` with quoted `args`; fires with the AGIResult.

        Fails with AGIHangup when the channel is gone, AGICommandError for 5xx replies,
        AGITimeout after `timeout` seconds.
        """
        if self.ended:
            return _failed(AGIHangup(f"{self.channel}: channel already left AGI"))
        line = " ".join([command, *(quote_agi_arg(a) for a in args)])
        command_id = self.router.next_command_id()
        delay = self.router.command_timeout if timeout is None else timeout
        deferred: Deferred[AGIResult] = Deferred()
        deadline = self.router.clock.seconds() + delay
        self._pending[command_id] = _PendingCommand(line, deferred, deadline, delay)
        self._timeouts.cover(deadline, delay)
        queued = self.router.ami.send_action(
            "AGI", {"Channel": self.channel, "Command": line, "CommandID": command_id}
        )
        queued.addErrback(self._not_queued, command_id)
        return deferred

    def _not_queued(self, failure: Failure, command_id: str) -> None:
        self._fail(command_id, failure)

    def _fail(self, command_id: str, failure: Failure) -> None:
        pending = self._pending.pop(command_id, None)
        if pending is None:
            return
        if pending.settle is not None and pending.settle.active():
            pending.settle.cancel()
        pending.deferred.errback(failure)

    def _waiting(self) -> list[tuple[str, _PendingCommand]]:
        """Commands still waiting for their result (not those held back to settle)."""
        return [(command_id, pending) for command_id, pending in self._pending.items()
                if pending.settle is None]

    def _expire(self, now: float) -> float | None:
        """Fail every command past its deadline, as timers of their own would; the next
        deadline, if any."""
        due = sorted((pending.deadline, order, command_id)
                     for order, (command_id, pending) in enumerate(self._waiting())
                     if pending.deadline <= now)
        for _deadline, _order, command_id in due:
            self._timed_out(command_id)
        return min((pending.deadline for _id, pending in self._waiting()), default=None)

    def _timed_out(self, command_id: str) -> None:
        pending = self._pending.get(command_id)
        if pending is not None and pending.settle is None:
            delay = pending.delay
            log.warning("agi_command_timeout", channel=self.channel, command=pending.command,
                        timeout_s=delay)
            self._fail(command_id, Failure(AGITimeout(f"{pending.command}: no result in {delay}s")))

    def _executed(self, command_id: str, result: AGIResult) -> None:
        pending = self._pending.pop(command_id, None)
        if pending is None:
            log.info("agi_result_unmatched", channel=self.channel, command_id=command_id)
            return
        if result.code >= 500:
            pending.deferred.errback(Failure(AGICommandError(result)))
        elif result.failed:
            # Hold it briefly: if the channel ends now, the command failed by hangup.
            pending.settle = self.router.clock.callLater(
                HANGUP_SETTLE_SECONDS, self._settled, command_id, result
            )
            self._pending[command_id] = pending
        else:
            pending.deferred.callback(result)

    def _settled(self, command_id: str, result: AGIResult) -> None:
        pending = self._pending.pop(command_id, None)
        if pending is not None:
            pending.deferred.callback(result)

    def _end(self, reason: str) -> None:
        if self.ended:
            return
        self.ended = True
        self.end_reason = reason
        for command_id in list(self._pending):
            self._fail(command_id, Failure(AGIHangup(f"{self.channel}: {reason}")))
        self._timeouts.cancel()
        waiters, self._end_waiters = self._end_waiters, []
        for waiter in waiters:
            waiter.callback(reason)

    def when_ended(self) -> Deferred[str]:
        """Fires with the reason once the channel leaves AGI or hangs up."""
        if self.ended:
            d: Deferred[str] = Deferred()
            d.callback(self.end_reason or "ended")
            return d
        waiter: Deferred[str] = Deferred()
        self._end_waiters.append(waiter)
        return waiter

    def pending_count(self) -> int:
        return len(self._pending)

    # Common commands. Arguments that may come from a caller are quoted by execute().

    def answer(self) -> Deferred[AGIResult]:
        return self.execute("ANSWER")

    def hangup(self) -> Deferred[AGIResult]:
        return self.execute("HANGUP")

    def stream_file(self, name: str, escape_digits: str = "") -> Deferred[AGIResult]:
        return self.execute("STREAM FILE", name, escape_digits)

    def playback(self, names: Sequence[str]) -> Deferred[AGIResult]:
        """Every file in one `EXEC Playback a&b&c`: no digit interrupts it; one command's
        timeout per file."""
        check_playback_files(names)
        return self.execute("EXEC", "Playback", "&".join(names),
                            timeout=len(names) * self.command_timeout)

    def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> Deferred[AGIResult]:
        return self.execute("GET DATA", prompt, timeout_ms, max_digits,
                            timeout=timeout_ms / 1000.0 + self.router.command_timeout)

    def set_variable(self, name: str, value: str) -> Deferred[AGIResult]:
        return self.execute("SET VARIABLE", name, value)


def check_playback_files(names: Sequence[str]) -> None:
    """ValueError unless `names` is one or more files Playback takes as one argument
    (joined by `&`; a `,` would start its options)."""
    if not names:
        raise ValueError("no sound file to play")
    for name in names:
        if not name or "&" in name or "," in name:
            raise ValueError(f"not a sound file name for Playback: {name!r}")


def _failed(error: Exception) -> Deferred[AGIResult]:
    d: Deferred[AGIResult] = Deferred()
    d.errback(Failure(error))
    return d


class AsyncAGIRouter:
    """Turns AsyncAGI events into sessions and routes results to them."""

    def __init__(
        self,
        ami: ActionSender,
        dispatcher: EventDispatcher,
        clock: IReactorTime,
        on_session: Callable[[AGISession], object],
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
        *,
        sessions: MutableMapping[str, AGISession] | None = None,
    ):
        self.ami = ami
        self.clock = clock
        self.on_session = on_session
        self.command_timeout = command_timeout
        # channel -> its session; given by whoever must find a caller's session before the
        # router exists (the call control the menus' services are built on)
        self.sessions: MutableMapping[str, AGISession] = {} if sessions is None else sessions
        self._ids = itertools.count(1)
        self._prefix = f"agi-{secrets.token_hex(3)}"
        self._subscriptions: list[Subscription] = [
            dispatcher.subscribe("AsyncAGIStart", self._start),
            dispatcher.subscribe("AsyncAGIExec", self._exec),
            dispatcher.subscribe("AsyncAGIEnd", self._leave),
            dispatcher.subscribe("Hangup", self._leave),
            dispatcher.subscribe("Rename", self._rename),
        ]

    def next_command_id(self) -> str:
        return f"{self._prefix}-{next(self._ids)}"

    def close(self) -> None:
        for subscription in self._subscriptions:
            subscription.cancel()
        for session in list(self.sessions.values()):
            session._end("router closed")
        self.sessions.clear()

    def adopt(self, channel: str, uniqueid: str, env: dict[str, str]) -> AGISession:
        """Create a session for a channel already in AsyncAGI (after a restart or resync)."""
        session = AGISession(self, channel, uniqueid, env)
        self.sessions[channel] = session
        return session

    def drop(self, channel: str, reason: str) -> None:
        """End the session of a channel that is known to be gone (e.g. after a resync)."""
        session = self.sessions.pop(channel, None)
        if session is not None:
            session._end(reason)

    def _start(self, event: Message) -> None:
        channel = event.get("Channel")
        if not channel:
            return
        env = parse_agi_env(event.get("Env", "") or "")
        session = self.adopt(channel, event.get("Uniqueid", "") or "", env)
        log.debug("agi_session_started", channel=channel, extension=session.extension)
        self.on_session(session)

    def _exec(self, event: Message) -> None:
        session = self.sessions.get(event.get("Channel", "") or "")
        command_id = event.get("CommandId") or event.get("CommandID")
        if session is None or command_id is None:
            return
        raw = unquote(event.get("Result", "") or "", encoding="utf-8", errors="replace")
        session._executed(command_id, parse_agi_result(raw))

    def _leave(self, event: Message) -> None:
        channel = event.get("Channel", "") or ""
        session = self.sessions.pop(channel, None)
        if session is not None:
            reason = "hangup" if event.event == "Hangup" else "left AGI"
            log.debug("agi_session_ended", channel=channel, reason=reason)
            session._end(reason)

    def _rename(self, event: Message) -> None:
        old, new = event.get("Channel"), event.get("Newname")
        if old and new and old in self.sessions:
            session = self.sessions.pop(old)
            session.channel = new
            self.sessions[new] = session
