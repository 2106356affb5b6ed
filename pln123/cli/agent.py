"""`pln123 agent login|logout|pause|ready ID`: an agent operation from a supervisor's shell.

The command does not change the agent's state itself: the state machine belongs to the
site's pln123 (the ACD's `Distributor`), which must see phone feature codes, ring timeouts
and these commands in one order. So the CLI checks the command and appends it to the
agent's site's command stream; that site's pln123 consumes and applies it.

Stream contract (the ACD core consumes it):

    key     SiteKeys.agent_commands          of the agent's site in the roster, under
                                             its pool's hash tag (the config's pooling
                                             says which pool; layout in acd/store/keys.py)
    XADD    id `*`, MAXLEN ~ 10000           a bounded queue of commands, not an audit log
    fields  agent   roster id, 3-8 digits            "1001"
            action  login | logout | pause | ready   "pause"
            reason  1-4 digits for pause, else ""    "42"
            at      epoch seconds, 3 decimals        "1732761234.567"
            source  who sent it: "cli"               "cli"

A consumer applies each entry once (a consumer group per site, XACK after applying, is
the natural fit when several pln123 processes serve one site) and treats an illegal
transition (ready while logged out) as a refused command to log, not an error to crash
on. The CLI does not wait for the result: exit 0 means the command is queued. The same
fields suit the feature codes' UserEvent (`ivr/dialplan/features.py`) should call control
choose to queue phone commands the same way.

Exit status: 0 queued; 1 Redis unreachable; 2 bad input (unknown agent, bad reason code,
an invalid config).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from redis.typing import EncodableT, FieldT
from twisted.internet.interfaces import IReactorTime

from acd.settings import AgentSpec, PoolingSettings
from acd.store import RedisStore, text, timestamp
from acd.store.keys import AGENT_COMMANDS_MAXLEN, SiteKeys
from ivr.dialplan.features import ACTIONS, AgentCommand, BadAgentCommand, agent_command
from pln123.cli._config import load_or_report
from pln123.cli._reactor import run_with_store
from pln123.config import Config

PROG = "pln123 agent"
STREAM_MAXLEN = AGENT_COMMANDS_MAXLEN
SOURCE = "cli"
_HELP = {
    "login": "log the agent in: offered calls for their skills once ready",
    "logout": "log the agent out (after the current call, if on one)",
    "pause": "pause the agent with a reason code; no calls until ready",
    "ready": "unpause: offered calls again",
}


def stream_key(site: str, pooling: PoolingSettings) -> str:
    """The command stream of `site`, in its pool's slot like every key of its ACD (the
    pool comes from the config: the site's processes read the same config)."""
    return SiteKeys(site, pooling.pool_of(site)).agent_commands


def stream_fields(command: AgentCommand, at: float) -> dict[FieldT, EncodableT]:
    """The entry XADD writes for `command`, as the contract above states."""
    return {"agent": command.agent, "action": command.action, "reason": command.reason or "",
            "at": f"{at:.3f}", "source": SOURCE}


def register(commands: Any) -> None:
    group = commands.add_parser(
        "agent",
        help="log agents in or out, pause them, make them ready",
        description="Queue an agent operation for the agent's site: that site's pln123 "
        "applies it, exactly as if the agent had dialled the feature code (*11 login, "
        "*12 logout, *13<reason> pause, *14 ready).",
    )
    verbs = group.add_subparsers(dest="agent_command", required=True, metavar="VERB")
    for action in ACTIONS:
        verb = verbs.add_parser(action, help=_HELP[action])
        verb.add_argument("agent", metavar="ID", help="the agent's id in the config's roster")
        if action == "pause":
            verb.add_argument("--reason", required=True, metavar="CODE",
                              help="the pause reason code, 1 to 4 digits (as after *13)")
        verb.add_argument("--config", required=True, type=Path, metavar="FILE",
                          help="the admin config (its roster and its redis section)")
        verb.add_argument("--redis-url", metavar="URL",
                          help="use this Redis instead of the config's (password still "
                          "from the config's password_file)")
        verb.set_defaults(handler=_run, action=action)


def find_agent(config: Config, agent_id: str) -> AgentSpec:
    """The roster entry, or BadAgentCommand saying which roster was searched."""
    agent = config.agent(agent_id)
    if agent is None:
        count = len(config.acd.agents)
        raise BadAgentCommand(f"no agent {agent_id!r} in the roster of {config.path} "
                              f"({count} agent{'s' if count != 1 else ''}; see its agents:)")
    return agent


def _run(args: argparse.Namespace) -> int:
    config = load_or_report(args.config)
    if config is None:
        return 2
    try:
        command = agent_command(args.action, args.agent, getattr(args, "reason", None))
        agent = find_agent(config, command.agent)
        password = config.redis.read_password()
    except BadAgentCommand as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"{PROG}: cannot read the Redis password file: {error.strerror}", file=sys.stderr)
        return 2
    key = stream_key(agent.site, config.acd.pooling)

    async def queue(store: RedisStore, reactor: IReactorTime) -> int:
        fields = stream_fields(command, timestamp(reactor))
        entry = text(await store.run(
            lambda client: client.xadd(key, fields, maxlen=STREAM_MAXLEN, approximate=True)))
        reason = f" reason {command.reason}" if command.reason else ""
        print(f"queued {command.action} for agent {agent.id} ({agent.name}, {agent.site})"
              f"{reason}: {key} {entry}")
        return 0

    return run_with_store(PROG, args.redis_url or config.redis.url, password, queue)
