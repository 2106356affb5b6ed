"""Agent commands written by `pln123 agent ...` (pln123/cli/agent.py) and the dashboard,
applied to the ACD.

The CLI may run on any host and while the site's pln123 is restarting, so the commands go
through the site's command stream (`SiteKeys.agent_commands`, acd/store/keys.py) read with
a consumer group: each command is applied once even with several pln123 processes per
site, and a command written while no process ran is applied when one starts.
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from acd.agents.operations import AgentOperations, apply
from acd.store.keys import SiteKeys
from acd.store.redis import RedisStore
from acd.store.stream import StreamConsumer

log = structlog.get_logger("acd.agents.commands")


def agent_commands(store: RedisStore, keys: SiteKeys,
                   operations: AgentOperations) -> StreamConsumer:
    """The consumer that applies the site's agent commands to `operations`."""
    async def handle(fields: Mapping[str, str]) -> None:
        await apply(operations, fields.get("action", ""), fields.get("agent", ""),
                    fields.get("reason", ""))
        log.info("agent_command_applied", agent=fields.get("agent"),
                 action=fields.get("action"), source=fields.get("source", ""))

    return StreamConsumer(store, keys.agent_commands, handle, "agent_command")
