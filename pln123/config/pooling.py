"""`acd.pools` and `acd.pooling`: which sites lend each other agents, and how much each
keeps for its own callers, as acd.settings.PoolingSettings.

    acd:
      pools:                 # named groups of sites; default: one pool `national` of all
        national: [palembang, medan, jakarta, surabaya, makassar]
      pooling:
        enabled: true        # false: every site answers only its own callers (and
                             # nobody is turned away by surge admission control)
        order: {palembang: [medan], ...}   # siblings a site's callers are offered first;
                                           # then the hub, then the rest of the pool
        reserve: auto        # ready agents each site keeps: auto, or a number
        sites: {palembang: {reserve: 2, skills: {fault: {reserve: auto}}}}
        auto: {every_s: 120, sl_low: 0.90, sl_high: 0.93, min_answered: 10, most: 12,
               net_window_s: 1800}
        trunk_limit: 30      # calls of a site on the trunk to another site's agents
        trunk_limits: {palembang: {medan: 20}}
        national_max_ewt_s: 900
        status_every_s: 1
        status_ttl_s: 3

Every key is optional (PoolingSettings and AutoReserve give the defaults). A site in no
pool forms a pool of its own: it lends nobody and borrows from nobody.
"""

from __future__ import annotations

import re

from acd.settings import AutoReserve, PoolingSettings
from acd.store.keys import AUTO
from pln123.config.reader import Reader

_D = PoolingSettings()
_A = AutoReserve()
MAX_RESERVE = 100
POOL_NAME = re.compile(r"[a-z][a-z0-9_-]{0,30}")
DEFAULT_POOL = "national"
_TIMINGS: dict[str, tuple[float, float, float]] = {
    "national_max_ewt_s": (_D.national_max_ewt_s, 10, 7200),
    "status_every_s": (_D.status_every_s, 0.2, 10),
    "status_ttl_s": (_D.status_ttl_s, 1, 60),
}


def parse_pooling(acd: Reader, sites: list[str], skills: tuple[str, ...],
                  hub: str) -> PoolingSettings:
    """`acd.pools` and `acd.pooling`; problems go to the reader's list."""
    pools = _pools(acd, sites)
    reader = acd.child("pooling", required=False)
    enabled = reader.typed("enabled", bool, True)
    timings = {key: reader.number(key, d, low, high) for key, (d, low, high) in _TIMINGS.items()}
    if timings["status_ttl_s"] <= timings["status_every_s"]:
        reader.error("must be longer than status_every_s (a status must outlive its "
                     "next publication)", "status_ttl_s")
    default_reserve = _reserve(reader, "reserve", _D.default_reserve)
    reserve = _site_reserves(reader, set(sites), skills)
    auto = _auto(reader)
    trunk_limit = reader.integer("trunk_limit", _D.trunk_limit, 0, 10_000)
    order = _order(reader, set(sites), hub)
    trunk_limits = _trunk_limits(reader, set(sites))
    reader.finish()
    return PoolingSettings(
        enabled=bool(enabled), pools=pools, order=order, hub=hub,
        default_reserve=default_reserve, reserve=reserve, auto=auto,
        trunk_limit=trunk_limit, trunk_limits=trunk_limits,
        national_max_ewt_s=timings["national_max_ewt_s"],
        status_every_s=timings["status_every_s"], status_ttl_s=timings["status_ttl_s"])


def _pools(acd: Reader, sites: list[str]) -> dict[str, tuple[str, ...]]:
    if not acd.has("pools"):
        return {DEFAULT_POOL: tuple(sites)} if sites else {}
    pools: dict[str, tuple[str, ...]] = {}
    member_of: dict[str, str] = {}
    section = acd.child("pools")
    for name in list(section.data):
        key = str(name)
        members = section.strings(key)
        if not _is_name(key):
            section.error(f"{key!r} is not a pool name ([a-z][a-z0-9_-]*)", key)
            continue
        for index, site in enumerate(members):
            where = f"{key}[{index}]"
            if site not in sites:
                section.error(f"{site!r} is not a site (sites: {', '.join(sites)})", where)
            elif site in member_of:
                section.error(f"{site!r} is already in pool {member_of[site]!r}", where)
            else:
                member_of[site] = key
        pools[key] = tuple(s for s in members if member_of.get(s) == key)
    section.finish()
    return pools


def _is_name(text: str) -> bool:
    return POOL_NAME.fullmatch(text) is not None


def _reserve(reader: Reader, key: str, default: str) -> str:
    """`auto` or a whole number of agents, as text (what the matching script reads)."""
    if not reader.has(key):
        return default
    value = reader.raw(key)
    if value == AUTO:
        return AUTO
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RESERVE:
        reader.error(f"must be {AUTO} or a number of agents from 0 to {MAX_RESERVE}, "
                     f"not {value!r}", key)
        return default
    return str(value)


def _site_reserves(reader: Reader, sites: set[str],
                   skills: tuple[str, ...]) -> dict[tuple[str, str], str]:
    reserves: dict[tuple[str, str], str] = {}
    if not reader.has("sites"):
        return reserves
    for name, site in reader.items("sites"):
        if name not in sites:
            site.error(f"{name!r} is not a site (sites: {', '.join(sorted(sites))})")
            site.ignore_rest()
            continue
        if site.has("reserve"):
            reserves[(name, "")] = _reserve(site, "reserve", AUTO)
        if site.has("skills"):
            for skill, skill_reader in site.items("skills"):
                if skill not in skills:
                    skill_reader.error(f"{skill!r} is not a skill (skills: {', '.join(skills)})")
                    skill_reader.ignore_rest()
                    continue
                if skill_reader.has("reserve"):
                    reserves[(name, skill)] = _reserve(skill_reader, "reserve", AUTO)
                skill_reader.finish()
        site.finish()
    return reserves


def _auto(reader: Reader) -> AutoReserve:
    if not reader.has("auto"):
        return _A
    auto = reader.child("auto")
    every = auto.number("every_s", _A.every_s, 10, 3600)
    sl_low = auto.number("sl_low", _A.sl_low, 0, 1)
    sl_high = auto.number("sl_high", _A.sl_high, 0, 1)
    if sl_high < sl_low:
        auto.error("must be at least sl_low (the reserve falls only above it)", "sl_high")
    result = AutoReserve(
        every_s=every, sl_low=sl_low, sl_high=sl_high,
        min_answered=auto.integer("min_answered", _A.min_answered, 1, 10_000),
        most=auto.integer("most", _A.most, 0, MAX_RESERVE),
        net_window_s=auto.number("net_window_s", _A.net_window_s, 60, 3600))
    auto.finish()
    return result


def _order(reader: Reader, sites: set[str], hub: str) -> dict[str, tuple[str, ...]]:
    order: dict[str, tuple[str, ...]] = {}
    if not reader.has("order"):
        return order
    section = reader.child("order")
    for site in list(section.data):
        name = str(site)
        if name not in sites:
            section.raw(name)
            section.error(f"{name!r} is not a site (sites: {', '.join(sorted(sites))})", name)
            continue
        siblings = section.strings(name)
        for index, sibling in enumerate(siblings):
            where = f"{name}[{index}]"
            if sibling not in sites:
                section.error(f"{sibling!r} is not a site", where)
            elif sibling == name:
                section.error("a site does not lend itself agents", where)
            elif sibling == hub:
                section.error(f"{hub!r} is the hub: it always comes after the siblings, do "
                              "not list it", where)
        if len(set(siblings)) != len(siblings):
            section.error("lists a site twice", name)
        order[name] = tuple(siblings)
    section.finish()
    return order


def _trunk_limits(reader: Reader, sites: set[str]) -> dict[tuple[str, str], int]:
    limits: dict[tuple[str, str], int] = {}
    if not reader.has("trunk_limits"):
        return limits
    for home, targets in reader.items("trunk_limits"):
        if home not in sites:
            targets.error(f"{home!r} is not a site (sites: {', '.join(sorted(sites))})")
            targets.ignore_rest()
            continue
        for target in list(targets.data):
            name = str(target)
            if name not in sites or name == home:
                targets.raw(name)
                targets.error(f"{name!r} is not another site", name)
                continue
            limits[(home, name)] = targets.integer(name, None, 0, 10_000)
        targets.finish()
    return limits
