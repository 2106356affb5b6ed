"""Agents' feature codes (`*11` log in ... `*14` ready) from their phones, as ACD operations.

The rendered dialplan turns a feature code into a UserEvent naming the agent, the action
and the phone it came from (ivr.dialplan.features parses it). Only a code dialled from the
agent's own phone counts: anyone can dial `*12` followed by a colleague's id.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from twisted.python.failure import Failure

from acd.agents.operations import AgentOperations, apply
from ivr.ami.events import EventDispatcher
from ivr.ami.message import Message
from ivr.dialplan.features import BadAgentCommand, parse_agent_feature

log = structlog.get_logger("ivr.features")


class FeatureCodes:
    def __init__(self, site: str, dispatcher: EventDispatcher,
                 phone_of: Callable[[str], str | None], operations: AgentOperations):
        self.site = site
        self.phone_of = phone_of      # agent id -> the endpoint of their phone (None: unknown)
        self.operations = operations
        self.subscription = dispatcher.subscribe("UserEvent", self._event)

    def _event(self, event: Message) -> None:
        try:
            command = parse_agent_feature(event)
        except BadAgentCommand as error:
            log.warning("agent_feature_refused", error=str(error))
            return
        if command is None or command.site != self.site:
            return
        if command.device != self.phone_of(command.agent):
            log.warning("agent_feature_from_another_phone", agent=command.agent,
                        device=command.device)
            return

        def failed(failure: Failure) -> None:
            log.warning("agent_feature_failed", agent=command.agent, action=command.action,
                        error=failure.getErrorMessage())

        apply(self.operations, command.action, command.agent, command.reason or "").addErrback(
            failed)
