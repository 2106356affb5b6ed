"""What a SIGHUP may change in a running site, decided on two validated configs.

A reload must not drop a call, so it only swaps the immutable settings objects the pieces
hold: new decisions (the next announcement, the next match, the next ring,
the next caller's menus) use the new values, work already under way finishes with the old
ones. Some settings are wired into objects built once at start (the AMI link, the Redis
client, the dashboard's listener, the queue store's Lua arguments, ...): a changed value
there is not applied: the running process keeps the old value, and the reload says which
key paths wait for a restart (a rolling restart loses no caller: docs/operations.md).

`plan_reload` is pure: the old and new `Config`, the site this process serves, and what
comes out is the config to run with plus the key paths in each category, for the log.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any

from pln123.config.model import Config

# Changed here: kept at the old value until `pln123 serve` restarts. Key paths use the
# model's names ({site} is this process's site); everything not listed applies live.
RESTART_ONLY: tuple[str, ...] = (
    "redis",                       # the Redis client is built once
    "sites.{site}.ami",            # the AMI link: address, user, secret file, TLS
    "dashboard",                   # the dashboard's listener, accounts and token
    "apkt",                        # the APKT sender and webhook, built once
    "acd.service_level_s",         # arguments of the queue store's Lua scripts
    "acd.escalation_s",
    "acd.audit_maxlen",
    "acd.abandon_resume_s",        # an argument of the queue store's Lua scripts
    "acd.ended_call_keep_s",       # so is the TTL of an ended call it makes
    "acd.callback_dial",           # the AMI telephony's dial string
    "acd.pooling.pools",           # which pool's hash tag the site's keys carry
    "acd.pooling.enabled",
    "asterisk.heartbeat_every_s",  # the heartbeat loop's period
)

# Changed here: pln123 applies what it reads of them, but they are also rendered into
# Asterisk's files; the reload log reminds the admin to render and reload Asterisk.
ASTERISK_SIDE: tuple[str, ...] = (
    "sites.{site}.area_codes", "sites.{site}.iax2", "sites.{site}.iax2_peer",
    "asterisk", "agents",
)


@dataclass(frozen=True)
class ReloadPlan:
    """`effective`: the new config with every restart-only value kept at the old one."""

    effective: Config
    applied: tuple[str, ...]        # changed key paths now in force
    needs_restart: tuple[str, ...]  # changed key paths ignored until a restart
    asterisk_side: tuple[str, ...]  # changed key paths also rendered into Asterisk's files

    @property
    def changed(self) -> bool:
        return bool(self.applied or self.needs_restart)


class ReloadRefused(ValueError):
    """The new config cannot replace the running one at all (e.g. this site is gone)."""


def plan_reload(old: Config, new: Config, site: str) -> ReloadPlan:
    if site not in new.sites:
        raise ReloadRefused(f"sites: the new config has no site {site!r}; the running "
                            "process serves it (stop it instead)")
    changed = sorted(set(_changes(old, new, "")) - {"path"})
    restart = [p for p in changed if _under(p, RESTART_ONLY, site)]
    applied = [p for p in changed if p not in restart]
    asterisk = [p for p in changed if _under(p, ASTERISK_SIDE, site)]
    return ReloadPlan(_keep_restart_only(old, new, site), tuple(applied), tuple(restart),
                      tuple(asterisk))


def _keep_restart_only(old: Config, new: Config, site: str) -> Config:
    kept = new
    for path in RESTART_ONLY:
        kept = _with_old(kept, old, path.format(site=site).split("."))
    return kept


def _with_old(new: Any, old: Any, path: list[str]) -> Any:
    """`new` with the value at `path` taken from `old` (dataclasses and mappings)."""
    if not path:
        return old
    head, rest = path[0], path[1:]
    if is_dataclass(new) and not isinstance(new, type):
        return replace(new, **{head: _with_old(getattr(new, head), getattr(old, head), rest)})
    merged = dict(new)
    merged[head] = _with_old(new[head], old[head], rest)
    return merged


def _under(path: str, prefixes: tuple[str, ...], site: str) -> bool:
    for prefix in prefixes:
        prefix = prefix.format(site=site)
        if path == prefix or path.startswith(prefix + "."):
            return True
    return False


def _changes(old: Any, new: Any, path: str) -> Iterator[str]:
    """Key paths whose values differ, as deep as dataclasses and mappings go."""
    if old == new:
        return
    if path == "acd.agents":  # the roster: one path per agent, as `agents.<id>`
        yield from _roster_changes(old, new)
        return
    if is_dataclass(old) and is_dataclass(new) and type(old) is type(new):
        for f in fields(old):
            yield from _changes(getattr(old, f.name), getattr(new, f.name),
                                _join(path, f.name))
        return
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(set(old) | set(new), key=_key):
            yield from _changes(old.get(key), new.get(key), _join(path, _key(key)))
        return
    yield path


def _roster_changes(old: tuple[Any, ...], new: tuple[Any, ...]) -> Iterator[str]:
    before = {agent.id: agent for agent in old}
    after = {agent.id: agent for agent in new}
    for agent_id in sorted(set(before) | set(after)):
        if before.get(agent_id) != after.get(agent_id):
            yield f"agents.{agent_id}"


def _key(key: object) -> str:
    return "/".join(key) if isinstance(key, tuple) else str(key)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
