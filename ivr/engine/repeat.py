"""Repeat callers: a caller with an open ticket hears its latest status before the menu.

In a surge most callers are calling again about the complaint they already made. Telling
them where it stands (received, crew dispatched, on site, resolved, and when) right after
the greeting answers most of them, and every one who then hangs up is a caller the agents
never had to take (`deflected`). Nobody is kept from an agent: one key (the agent key)
reaches one, `1` says it again, any other key or none goes on to the main menu.

The lookup (by the caller's number, the tickets of the last 30 days) starts when the call
does, so it runs while the greeting plays: a caller without a ticket waits for nothing
more than that one Redis round trip, and never longer than `LOOKUP_TIMEOUT_S` for a slow
Redis; a lookup that fails is the same as no ticket (the menu is still there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from acd.selfservice.models import Ticket, TicketLookup
from ivr.engine.journal import CallJournal
from ivr.engine.ticket_news import ticket_news_prompts
from ivr.engine.voice import Voice
from ivr.settings import Action, IVRSettings

LOOKUP_TIMEOUT_S = 1.0
REPEAT_KEY = "1"
MAX_HEARINGS = 3   # the status said this often at most, then the main menu
OFFER_PROMPT = "repeat-caller-offer"


@dataclass(frozen=True)
class RepeatResult:
    """How it ended: `ticket` the caller heard (None: no open ticket, nothing played), an
    action that ends the menus (the agent), or a key the main menu takes as its choice."""

    ticket: Ticket | None = None
    follow_up: Action | None = None
    pressed: str | None = None


class RepeatCaller:
    def __init__(self, lookup: TicketLookup, caller_number: str, settings: IVRSettings,
                 voice: Voice, journal: CallJournal, clock: IReactorTime, timezone: ZoneInfo,
                 heard: Callable[[Ticket], None]):
        self.lookup = lookup
        self.caller_number = caller_number
        self.settings = settings
        self.voice = voice
        self.journal = journal
        self.clock = clock
        self.timezone = timezone
        self.heard = heard  # told before the status plays: a hang-up during it still counts
        self._found: Deferred[list[Ticket] | None] | None = None

    def start(self) -> None:
        """Begin the lookup (before the greeting, so that it runs while it plays). A
        failure is handled here at once: a caller who hangs up during the greeting never
        asks for the answer."""
        found = self.lookup.open_by_caller(self.caller_number)
        found.addTimeout(LOOKUP_TIMEOUT_S, self.clock)
        self._found = found.addErrback(self._unavailable)

    def _unavailable(self, failure: Failure) -> None:
        # No status beats a caller left waiting: the menu is still there.
        self.journal.log.warning("ivr_ticket_lookup_unavailable",
                                 error=failure.getErrorMessage())

    async def latest(self) -> Ticket | None:
        """The caller's newest open ticket; None for none, or a lookup that failed."""
        if self._found is None:
            self.start()
        assert self._found is not None
        found = await self._found
        return found[0] if found else None

    async def run(self, pressed: str | None) -> RepeatResult:
        """`pressed`: a key the caller typed during the greeting. They still hear the
        status, but are not asked again: the key decides (the agent key an agent, any
        other the main menu's choice)."""
        ticket = await self.latest()
        if ticket is None:
            return RepeatResult(pressed=pressed)
        prompts = ticket_news_prompts(ticket, self.voice.language, self.timezone)
        agent_key = self.settings.agent_key
        for hearing in range(1, MAX_HEARINGS + 1):
            self.heard(ticket)
            self.journal.record("ticket_update_heard", ticket=ticket.number,
                                status=ticket.status, hearing=hearing)
            key = await self.voice.play(prompts)
            if pressed is not None:
                key, pressed = pressed, None
                if key != agent_key:
                    self.journal.record("repeat_caller_menu", key=key)
                    return RepeatResult(ticket, pressed=key)
            if key is None:
                heard = await self.voice.ask([OFFER_PROMPT],
                                             self.settings.repeat_callers.offer_timeout_s, 1)
                key = heard.digits
            if key == agent_key:
                self.journal.record("repeat_caller_agent", key=key,
                                    action=self.settings.agent.describe())
                return RepeatResult(ticket, follow_up=self.settings.agent)
            if key != REPEAT_KEY:
                self.journal.record("repeat_caller_menu", key=key)
                return RepeatResult(ticket)
        return RepeatResult(ticket)
