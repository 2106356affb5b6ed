"""A simulation scenario: sites and rosters, traffic, caller behaviour, the ACD's timings.

Why its own small format instead of the admin config: a scenario describes *demand* (calls
per day per area code, the day's profile, surges, patience, redials) that the admin config
has no place for, and it must be runnable without secrets or Asterisk addresses. Rosters
use the admin config's shape (skills with levels 1-10 per agent), given as groups with a
count and a shift. `load_scenario` returns plain frozen values.

It is read like the admin config, with the same reader (pln123.config): a key written
twice, an unknown key and a bad value are all refused, every problem at once, each with
its key path (`sites.palembang.roster[1].shift[1]: must be between 0 and 24, not 25`).
A value the file leaves out takes the model's default (scenario_model.py), which for the
ACD's timings is the ACD's own.

Times in the file are hours (`shift: [7, 15]`, `from_h`) or seconds (`*_s`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from acd.settings import AutoReserve
from acd.store.keys import AUTO, checked_name
from pln123.config.reader import (
    ConfigError,
    Problem,
    Reader,
    describe,
    enumerate_at,
    integer_at,
    join,
    number_at,
    strings_at,
)
from pln123.config.yaml_file import read_yaml
from tools.simulation.scenario_model import (
    DISTRIBUTIONS,
    HOURS,
    AcdTimings,
    AgentBehaviour,
    AreaTraffic,
    Callers,
    Distribution,
    PoolingRules,
    RosterGroup,
    Scenario,
    ScenarioError,
    SiteSpec,
    SkillMix,
    Surge,
)

__all__ = [
    "AcdTimings", "AgentBehaviour", "AreaTraffic", "Callers", "Distribution",
    "PoolingRules", "RosterGroup", "Scenario", "ScenarioError", "SiteSpec", "SkillMix",
    "Surge", "load_scenario", "parse_scenario",
]

DEFAULT_START = "2018-10-15T00:00:00+07:00"
MAX_HOURS = 24 * 14
MAX_SITE_NAME = 20          # the run prefixes every site name with its tag
_CALLERS = Callers()
_DISTRIBUTION = Distribution()
_GROUP = RosterGroup(0, {})
_AGENTS = AgentBehaviour()
_SKILL = SkillMix("-", 1.0)
_FIELDS_ACD = ("service_level_s", "escalation_s", "ring_timeout_s", "announce_every_s",
               "callback_offer_ewt_s", "abandon_resume_s")


def load_scenario(path: str | Path) -> Scenario:
    """The scenario in the file at `path`, or ScenarioError listing every problem."""
    try:
        raw = read_yaml(path)
    except ConfigError as error:
        raise ScenarioError(error.problems) from None
    return parse_scenario(raw)


def parse_scenario(raw: Any) -> Scenario:
    """Validate parsed YAML: the scenario, or ScenarioError listing every problem."""
    if not isinstance(raw, dict):
        what = "the file is empty" if raw is None else "must be a mapping of sections"
        raise ScenarioError([Problem("", what)])
    problems: list[Problem] = []
    top = Reader(raw, "", problems)
    skills = _skills(top)
    known_skills = {mix.skill for mix in skills} if skills else None
    sites = _sites(top, known_skills)
    traffic = _traffic(top, sites)
    profile = _profile(top)
    surges = tuple(_surge(Reader(value, path, problems), sites)
                   for _index, value, path in top.entries("surges", required=False))
    focus = top.text("focus_region", next(iter(sites), "-"))
    if sites and focus not in sites:
        top.error(f"{focus!r} is not a site", "focus_region")
    seed = top.typed("seed", int, 1)
    name = top.text("name", "scenario")
    description = top.typed("description", str, "")
    start = _start(top)
    duration_h = top.number("duration_h", 24.0, 0.01, MAX_HOURS)
    handle = _distribution(top.child("handle_time"))
    callers = _callers(top.child("callers", required=False))
    agents = _agents(top.child("agents", required=False))
    acd = _acd(top.child("acd", required=False), known_skills)
    pooling = _pooling(top.child("pooling", required=False), sites)
    top.finish()
    if problems:
        raise ScenarioError(sorted(set(problems), key=lambda p: (p.path, p.message)))
    return Scenario(
        name=name, description=description or "", start_epoch=start, duration_h=duration_h,
        seed=1 if seed is None else seed, sites=sites, traffic=traffic, profile=profile,
        surges=surges, skills=skills, handle=handle, callers=callers, agents=agents,
        acd=acd, pooling=pooling, focus_region=focus)


# -- the sections ------------------------------------------------------------------------


def _skills(top: Reader) -> tuple[SkillMix, ...]:
    """The skill mix; empty when it has a problem (its users then skip their checks)."""
    before = len(top.problems)
    mix = []
    for skill, reader in top.items("skills"):
        try:
            checked_name(skill, "skill")
        except ValueError as error:
            reader.error(str(error))
        share = reader.number("share", None, 0, 1)
        priority = reader.integer("priority", _SKILL.priority, 1, 9)
        reader.finish()
        mix.append(SkillMix(skill, share, priority))
    if len(top.problems) > before:
        return ()
    total = sum(m.share for m in mix)
    if not mix:
        top.error("must name at least one skill", "skills")
    elif abs(total - 1.0) > 1e-6:
        top.error(f"the shares must add up to 1 (they add up to {total:g})", "skills")
    return tuple(mix)


def _sites(top: Reader, skills: Collection[str] | None) -> dict[str, SiteSpec]:
    sites: dict[str, SiteSpec] = {}
    hubs = []
    for name, reader in top.items("sites"):
        try:
            checked_name(name, "site")
        except ValueError as error:
            reader.error(str(error))
        else:
            if len(name) > MAX_SITE_NAME:
                reader.error(f"at most {MAX_SITE_NAME} characters (the run prefixes it)")
        role = reader.text("role", "site")
        if role not in ("site", "hub"):
            reader.error(f"must be 'site' or 'hub', not {role!r}", "role")
        elif role == "hub":
            hubs.append(name)
        roster = tuple(_group(Reader(value, path, top.problems), skills)
                       for _index, value, path in reader.entries("roster"))
        reader.finish()
        sites[name] = SiteSpec(name, role, roster)
    if isinstance(top.raw("sites"), dict) and not sites:
        top.error("must name at least one site", "sites")
    if len(hubs) > 1:
        top.error(f"only one site can be the hub, not {', '.join(hubs)}", "sites")
    return sites


def _group(reader: Reader, skills: Collection[str] | None) -> RosterGroup:
    count = reader.integer("count", None, 0, 2000)
    levels: dict[str, int] = {}
    section = reader.child("skills")
    for skill, level, path in section.pairs():
        if skills is not None and str(skill) not in skills:
            reader.problems.append(Problem(path, f"{str(skill)!r} is not under skills"))
        levels[str(skill)] = integer_at(level, path, reader.problems, 1, 10)
    if reader.has("skills") and not section.broken and not levels:
        section.error("must give at least one skill")
    shift = _pair(reader, "shift", _GROUP.shift, "[start_hour, end_hour]", 24)
    reader.finish()
    return RosterGroup(count, levels, shift)


def _pair(reader: Reader, key: str, default: tuple[float, float], what: str,
           high: float, ordered: bool = False) -> tuple[float, float]:
    """A pair of numbers in [0, high] at `key` (`ordered`: the second not below the first)."""
    if not reader.has(key):
        return default
    value = reader.raw(key)
    path = join(reader.path, key)
    if isinstance(value, list) and len(value) != 2:
        reader.error(f"must be {what}, not a list of {len(value)}", key)
        return default
    pair = [number_at(item, where, reader.problems, 0, high)
            for _index, item, where in enumerate_at(value, path, reader.problems)]
    if len(pair) != 2:
        return default
    if ordered and pair[1] < pair[0]:
        reader.error(f"must be {what}, not [{pair[0]:g}, {pair[1]:g}]", key)
    return pair[0], pair[1]


def _traffic(top: Reader, sites: Mapping[str, SiteSpec]) -> tuple[AreaTraffic, ...]:
    before = len(top.problems)
    out = []
    home: dict[str, str] = {}
    for site, reader in top.items("traffic"):
        if sites and site not in sites:
            reader.error(f"{site!r} is not a site")
        for raw_code, calls, path in reader.pairs():
            code = str(raw_code)
            if not isinstance(raw_code, str):
                reader.problems.append(Problem(path, f"{raw_code!r} is a number, not an area "
                                                     "code: quote it (YAML reads 0711 as 457)"))
            elif not code.isdigit() or not 2 <= len(code) <= 5:
                reader.problems.append(Problem(path, f"{code!r} is not an area code "
                                                     "(2-5 digits)"))
            elif code in home:
                reader.problems.append(Problem(path, f"{code} is already traffic of site "
                                                     f"{home[code]!r}"))
            else:
                home[code] = site
                out.append(AreaTraffic(code, site, number_at(calls, path, reader.problems,
                                                             0, 10_000_000)))
    if isinstance(top.raw("traffic"), dict) and not out and len(top.problems) == before:
        top.error("must give at least one area code with calls", "traffic")
    return tuple(out)


def _profile(top: Reader) -> tuple[float, ...]:
    """24 hourly weights, normalised to sum 1 (uniform when the file gives none)."""
    uniform = tuple(1.0 / HOURS for _ in range(HOURS))
    value = top.raw("profile")
    if value is None:
        return uniform
    before = len(top.problems)
    weights = [number_at(item, path, top.problems, 0, 1e9)
               for _index, item, path in top.entries("profile")]
    if isinstance(value, list) and len(value) != HOURS:
        top.error(f"must give {HOURS} hourly weights, not {len(value)}", "profile")
    if len(top.problems) > before:
        return uniform
    total = sum(weights)
    if total <= 0:
        top.error("the weights must not all be 0", "profile")
        return uniform
    return tuple(w / total for w in weights)


def _surge(reader: Reader, sites: Mapping[str, SiteSpec]) -> Surge:
    region = reader.text("region")
    if region and sites and region not in sites:
        reader.error(f"{region!r} is not a site (a region is named by its site)", "region")
    start = reader.number("from_h", None, 0, MAX_HOURS)
    end = reader.number("to_h", None, start, MAX_HOURS)
    factor = reader.number("factor", None, 0, 1000)
    reader.finish()
    return Surge(region, start, end, factor)


def _start(top: Reader) -> float:
    """The virtual clock's start: an ISO date and time with its UTC offset."""
    value = top.raw("start", DEFAULT_START)
    example = f"an ISO date and time with offset, e.g. {DEFAULT_START}"
    # Unquoted, YAML reads a timestamp itself (a datetime, or a date without the time).
    if not isinstance(value, str | datetime | date):
        top.error(f"must be {example}, not {describe(value)}", "start")
        return 0.0
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        top.error(f"must be {example}, not {value!r}", "start")
        return 0.0
    if moment.tzinfo is None:
        top.error("needs a UTC offset, e.g. +07:00", "start")
        return 0.0
    return moment.timestamp()


def _distribution(reader: Reader) -> Distribution:
    kind = reader.text("distribution", _DISTRIBUTION.kind)
    if kind not in DISTRIBUTIONS:
        reader.error(f"{kind!r} is not one of {', '.join(DISTRIBUTIONS)}", "distribution")
    mean = reader.number("mean_s", None, 0.001, 1e7)
    cv = reader.number("cv", _DISTRIBUTION.cv, 0.01, 10)
    reader.finish()
    if kind == "exponential":
        cv = 1.0
    return Distribution(kind, mean, 0.0 if kind == "fixed" else cv)


def _callers(reader: Reader) -> Callers:
    patience = None
    if reader.raw("patience") is not None:   # absent or null: nobody hangs up
        patience = _distribution(reader.child("patience"))
    redial = reader.child("redial", required=False)
    probability = redial.number("probability", _CALLERS.redial_probability, 0, 1)
    delay = _CALLERS.redial_delay
    if redial.has("delay"):
        delay = _distribution(redial.child("delay"))
    attempts = redial.integer("max_attempts", _CALLERS.max_attempts, 1, 100)
    redial.finish()
    callback = reader.child("callback", required=False)
    accept = callback.number("accept", _CALLERS.callback_accept, 0, 1)
    answer = callback.number("answer", _CALLERS.callback_answer, 0, 1)
    callback.finish()
    reader.finish()
    return Callers(patience=patience, redial_probability=probability, redial_delay=delay,
                   max_attempts=attempts, callback_accept=accept, callback_answer=answer)


def _agents(reader: Reader) -> AgentBehaviour:
    ring = _pair(reader, "ring_s", _AGENTS.ring_s, "[shortest, longest]", 60, ordered=True)
    no_answer = reader.number("no_answer", _AGENTS.no_answer, 0, 1)
    pause = reader.number("no_answer_pause_s", _AGENTS.no_answer_pause_s, 0, 86400)
    reader.finish()
    return AgentBehaviour(ring, no_answer, pause)


def _acd(reader: Reader, skills: Collection[str] | None) -> AcdTimings:
    # Only what the file gives: the rest keeps AcdTimings' defaults (the ACD's own).
    timings = {name: reader.number(name, None, 0, 1e7) for name in _FIELDS_ACD
               if reader.has(name)}
    wrapup: dict[str, float] = {}
    max_wait: dict[str, float] = {}
    for skill, entry in reader.items("queues", required=False):
        if skills is not None and skill not in skills:
            entry.error(f"{skill!r} is not under skills")
        if entry.has("wrapup_s"):
            wrapup[skill] = entry.number("wrapup_s", None, 0, 3600)
        if entry.has("max_wait_s"):
            max_wait[skill] = entry.number("max_wait_s", None, 1, 1e7)
        entry.finish()
    room = reader.typed("waiting_room", bool, True)
    reader.finish()
    return AcdTimings(**timings, wrapup_s=wrapup, max_wait_s=max_wait,
                      waiting_room=room is not False)


def _pooling(reader: Reader, sites: Mapping[str, SiteSpec]) -> PoolingRules:
    """Only what the file gives: the rest keeps the ACD's defaults (PoolingSettings)."""
    base = PoolingRules()
    reserve = base.reserve
    if reader.has("reserve"):
        value = reader.raw("reserve")
        if value == AUTO or (isinstance(value, int) and not isinstance(value, bool)
                             and 0 <= value <= 100):
            reserve = str(value)
        else:
            reader.error(f"must be {AUTO} or a number of agents from 0 to 100, "
                         f"not {value!r}", "reserve")
    trunk_limit = reader.integer("trunk_limit", base.trunk_limit, 0, 10_000)
    max_ewt = reader.number("national_max_ewt_s", base.national_max_ewt_s, 10, 1e6)
    auto = base.auto
    section = reader.child("auto", required=False)
    if reader.has("auto"):
        auto = AutoReserve(
            every_s=section.number("every_s", auto.every_s, 10, 3600),
            sl_low=section.number("sl_low", auto.sl_low, 0, 1),
            sl_high=section.number("sl_high", auto.sl_high, 0, 1),
            min_answered=section.integer("min_answered", auto.min_answered, 1, 10_000),
            most=section.integer("most", auto.most, 0, 100),
            net_window_s=section.number("net_window_s", auto.net_window_s, 60, 3600))
    section.finish()
    order: dict[str, tuple[str, ...]] = {}
    listing = reader.child("order", required=False)
    for site, targets, path in listing.pairs():
        if sites and str(site) not in sites:
            listing.problems.append(Problem(path, f"{str(site)!r} is not a site"))
        listed = tuple(strings_at(targets, path, listing.problems))
        for index, target in enumerate(listed):
            if sites and (target not in sites or target == site):
                listing.problems.append(Problem(join(path, index),
                                                f"{target!r} is not another site"))
        order[str(site)] = listed
    reader.finish()
    return PoolingRules(order=order, reserve=reserve, auto=auto, trunk_limit=trunk_limit,
                        national_max_ewt_s=max_ewt)
