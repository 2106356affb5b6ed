"""A simulation scenario: sites and rosters, traffic, caller behaviour, the ACD's timings.

Why its own small format instead of the admin config: a scenario describes *demand* (calls
per day per area code, the day's profile, surges, patience, redials) that the admin config
has no place for, and it must be runnable without secrets or Asterisk addresses. Rosters
use the admin config's shape (skills with levels 1-10 per agent), given as groups with a
count and a shift. `load_scenario` returns plain frozen values; every problem is reported
with its key path (`sites.palembang.roster[1].shift: ...`), like the admin config's.

Times in the file are hours (`shift: [7, 15]`, `from_h`) or seconds (`*_s`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from acd.queues.keys import checked_name
from tools.simulation.scenario_model import (
    DISTRIBUTIONS,
    HOURS,
    AcdTimings,
    AgentBehaviour,
    AreaTraffic,
    Callers,
    Distribution,
    InterflowTimings,
    RosterGroup,
    Scenario,
    ScenarioError,
    SiteSpec,
    SkillMix,
    Surge,
    format_path,
)

__all__ = [
    "AcdTimings", "AgentBehaviour", "AreaTraffic", "Callers", "Distribution",
    "InterflowTimings", "RosterGroup", "Scenario", "ScenarioError", "SiteSpec", "SkillMix",
    "Surge", "format_path", "load_scenario", "parse_scenario",
]


def load_scenario(path: str | Path) -> Scenario:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ScenarioError(f"cannot read {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ScenarioError(f"{path}: not valid YAML: {error}") from None
    return parse_scenario(raw)


def parse_scenario(raw: Any) -> Scenario:
    top = _mapping(raw, ())
    _known(top, ("name", "description", "start", "duration_h", "seed", "sites", "traffic",
                 "profile", "surges", "skills", "handle_time", "callers", "agents", "acd",
                 "interflow", "focus_region"), ())
    sites_raw = _mapping(_need(top, "sites", ()), ("sites",))
    sites = {name: _site(name, value, ("sites", name)) for name, value in sites_raw.items()}
    if not sites:
        raise ScenarioError("at least one site is needed", ("sites",))
    if sum(s.role == "hub" for s in sites.values()) > 1:
        raise ScenarioError("at most one site has role hub", ("sites",))
    skills = _skills(_need(top, "skills", ()), ("skills",))
    for site in sites.values():
        for i, group in enumerate(site.roster):
            for skill in group.skills:
                if skill not in {s.skill for s in skills}:
                    raise ScenarioError(f"skill {skill!r} is not under skills",
                                        ("sites", site.name, "roster", i, "skills", skill))
    traffic = _traffic(_need(top, "traffic", ()), sites)
    profile = _profile(top.get("profile"))
    surges = tuple(_surge(v, ("surges", i), sites)
                   for i, v in enumerate(_list(top.get("surges", []), ("surges",))))
    start = top.get("start", "2018-10-15T00:00:00+07:00")
    focus = str(top.get("focus_region", next(iter(sites))))
    if focus not in sites:
        raise ScenarioError(f"{focus!r} is not a site", ("focus_region",))
    seed = top.get("seed", 1)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ScenarioError("must be an integer", ("seed",))
    return Scenario(
        name=_text(top.get("name", "scenario"), ("name",)),
        description=_text(top.get("description", ""), ("description",)),
        start_epoch=_start(start),
        duration_h=_number(top.get("duration_h", 24), ("duration_h",), low=0.01, high=24 * 14),
        seed=seed,
        sites=sites,
        traffic=traffic,
        profile=profile,
        surges=surges,
        skills=skills,
        handle=_distribution(_need(top, "handle_time", ()), ("handle_time",)),
        callers=_callers(top.get("callers", {}), ("callers",)),
        agents=_agents(top.get("agents", {}), ("agents",)),
        acd=_acd(top.get("acd", {}), ("acd",), skills),
        interflow=_interflow(top.get("interflow", {}), ("interflow",), sites),
        focus_region=focus,
    )


# -- the sections ------------------------------------------------------------------------


def _site(name: str, raw: Any, path: tuple[str | int, ...]) -> SiteSpec:
    try:
        checked_name(name, "site")
    except ValueError as error:
        raise ScenarioError(str(error), path) from None
    if len(name) > 20:
        raise ScenarioError("at most 20 characters (the run prefixes it)", path)
    body = _mapping(raw, path)
    _known(body, ("role", "roster"), path)
    role = body.get("role", "site")
    if role not in ("site", "hub"):
        raise ScenarioError("must be site or hub", (*path, "role"))
    groups = _list(_need(body, "roster", path), (*path, "roster"))
    roster = tuple(_group(g, (*path, "roster", i)) for i, g in enumerate(groups))
    return SiteSpec(name, role, roster)


def _group(raw: Any, path: tuple[str | int, ...]) -> RosterGroup:
    body = _mapping(raw, path)
    _known(body, ("count", "skills", "shift"), path)
    count = body.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 2000:
        raise ScenarioError("must be an integer 0..2000", (*path, "count"))
    skills_raw = _mapping(_need(body, "skills", path), (*path, "skills"))
    skills: dict[str, int] = {}
    for skill, level in skills_raw.items():
        if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 10:
            raise ScenarioError("skill level must be 1..10", (*path, "skills", str(skill)))
        skills[str(skill)] = level
    if not skills:
        raise ScenarioError("at least one skill", (*path, "skills"))
    shift_raw = _list(body.get("shift", [0, 24]), (*path, "shift"))
    if len(shift_raw) != 2:
        raise ScenarioError("must be [start_hour, end_hour]", (*path, "shift"))
    start = _number(shift_raw[0], (*path, "shift", 0), low=0, high=24)
    end = _number(shift_raw[1], (*path, "shift", 1), low=0, high=24)
    return RosterGroup(count, skills, (start, end))


def _skills(raw: Any, path: tuple[str | int, ...]) -> tuple[SkillMix, ...]:
    body = _mapping(raw, path)
    mix = []
    for skill, value in body.items():
        here = (*path, str(skill))
        try:
            checked_name(str(skill), "skill")
        except ValueError as error:
            raise ScenarioError(str(error), here) from None
        entry = _mapping(value, here)
        _known(entry, ("share", "priority"), here)
        share = _number(_need(entry, "share", here), (*here, "share"), low=0, high=1)
        priority = entry.get("priority", 5)
        if not isinstance(priority, int) or not 1 <= priority <= 9:
            raise ScenarioError("must be an integer 1..9", (*here, "priority"))
        mix.append(SkillMix(str(skill), share, priority))
    total = sum(m.share for m in mix)
    if not mix or abs(total - 1.0) > 1e-6:
        raise ScenarioError(f"the shares must add up to 1 (they add up to {total:g})", path)
    return tuple(mix)


def _traffic(raw: Any, sites: Mapping[str, SiteSpec]) -> tuple[AreaTraffic, ...]:
    path: tuple[str | int, ...] = ("traffic",)
    body = _mapping(raw, path)
    out = []
    seen: set[str] = set()
    for site, codes in body.items():
        here = (*path, str(site))
        if site not in sites:
            raise ScenarioError(f"{site!r} is not a site", here)
        _mapping(codes, here)
        for raw_code, calls in codes.items():
            code = str(raw_code)
            if not isinstance(raw_code, str):
                raise ScenarioError("quote area codes (\"0711\"): YAML reads 0711 as a number",
                                    (*here, code))
            if not code.isdigit() or not 2 <= len(code) <= 5 or code in seen:
                raise ScenarioError("an area code: 2-5 digits, once", (*here, code))
            seen.add(code)
            out.append(AreaTraffic(code, str(site), _number(calls, (*here, code), low=0,
                                                            high=10_000_000)))
    if not out:
        raise ScenarioError("at least one area code with calls", path)
    return tuple(out)


def _profile(raw: Any) -> tuple[float, ...]:
    if raw is None:
        return tuple(1.0 / HOURS for _ in range(HOURS))
    values = _list(raw, ("profile",))
    if len(values) != HOURS:
        raise ScenarioError(f"24 hourly weights are needed (got {len(values)})", ("profile",))
    weights = [_number(v, ("profile", i), low=0, high=1e9) for i, v in enumerate(values)]
    total = sum(weights)
    if total <= 0:
        raise ScenarioError("the weights must not all be 0", ("profile",))
    return tuple(w / total for w in weights)


def _surge(raw: Any, path: tuple[str | int, ...], sites: Mapping[str, SiteSpec]) -> Surge:
    body = _mapping(raw, path)
    _known(body, ("region", "from_h", "to_h", "factor"), path)
    region = str(_need(body, "region", path))
    if region not in sites:
        raise ScenarioError(f"{region!r} is not a site (a region is named by its site)",
                            (*path, "region"))
    start = _number(_need(body, "from_h", path), (*path, "from_h"), low=0, high=24 * 14)
    end = _number(_need(body, "to_h", path), (*path, "to_h"), low=start, high=24 * 14)
    return Surge(region, start, end,
                 _number(_need(body, "factor", path), (*path, "factor"), low=0, high=1000))


def _distribution(raw: Any, path: tuple[str | int, ...]) -> Distribution:
    body = _mapping(raw, path)
    _known(body, ("distribution", "mean_s", "cv"), path)
    kind = body.get("distribution", "exponential")
    if kind not in DISTRIBUTIONS:
        raise ScenarioError(f"one of {', '.join(DISTRIBUTIONS)}", (*path, "distribution"))
    mean = _number(_need(body, "mean_s", path), (*path, "mean_s"), low=0.001, high=1e7)
    cv = _number(body.get("cv", 1.0), (*path, "cv"), low=0.01, high=10)
    if kind == "exponential":
        cv = 1.0
    return Distribution(kind, mean, 0.0 if kind == "fixed" else cv)


def _callers(raw: Any, path: tuple[str | int, ...]) -> Callers:
    body = _mapping(raw, path)
    _known(body, ("patience", "redial", "callback"), path)
    patience = None
    if body.get("patience") is not None:
        patience = _distribution(body["patience"], (*path, "patience"))
    redial = _mapping(body.get("redial", {}), (*path, "redial"))
    _known(redial, ("probability", "delay", "max_attempts"), (*path, "redial"))
    callback = _mapping(body.get("callback", {}), (*path, "callback"))
    _known(callback, ("accept", "answer"), (*path, "callback"))
    attempts = redial.get("max_attempts", 10)
    if not isinstance(attempts, int) or not 1 <= attempts <= 100:
        raise ScenarioError("must be an integer 1..100", (*path, "redial", "max_attempts"))
    delay = Distribution("exponential", 120.0)
    if "delay" in redial:
        delay = _distribution(redial["delay"], (*path, "redial", "delay"))
    return Callers(
        patience=patience,
        redial_probability=_number(redial.get("probability", 0.0),
                                   (*path, "redial", "probability"), low=0, high=1),
        redial_delay=delay,
        max_attempts=attempts,
        callback_accept=_number(callback.get("accept", 0.0), (*path, "callback", "accept"),
                                low=0, high=1),
        callback_answer=_number(callback.get("answer", 0.9), (*path, "callback", "answer"),
                                low=0, high=1),
    )


def _agents(raw: Any, path: tuple[str | int, ...]) -> AgentBehaviour:
    body = _mapping(raw, path)
    _known(body, ("ring_s", "no_answer", "no_answer_pause_s"), path)
    ring = _list(body.get("ring_s", [2, 5]), (*path, "ring_s"))
    if len(ring) != 2:
        raise ScenarioError("must be [shortest, longest]", (*path, "ring_s"))
    lo = _number(ring[0], (*path, "ring_s", 0), low=0, high=60)
    hi = _number(ring[1], (*path, "ring_s", 1), low=lo, high=60)
    return AgentBehaviour(
        (lo, hi),
        _number(body.get("no_answer", 0.0), (*path, "no_answer"), low=0, high=1),
        _number(body.get("no_answer_pause_s", 60.0), (*path, "no_answer_pause_s"), low=0,
                high=86400))


def _acd(raw: Any, path: tuple[str | int, ...], skills: Sequence[SkillMix]) -> AcdTimings:
    body = _mapping(raw, path)
    names = ("service_level_s", "escalation_s", "ring_timeout_s", "announce_every_s",
             "callback_offer_ewt_s", "abandon_resume_s")
    _known(body, (*names, "queues", "waiting_room"), path)
    values = {n: _number(body[n], (*path, n), low=0, high=1e7) for n in names if n in body}
    queues = _mapping(body.get("queues", {}), (*path, "queues"))
    wrapup: dict[str, float] = {}
    max_wait: dict[str, float] = {}
    for skill, q in queues.items():
        here = (*path, "queues", str(skill))
        if skill not in {s.skill for s in skills}:
            raise ScenarioError(f"skill {skill!r} is not under skills", here)
        entry = _mapping(q, here)
        _known(entry, ("wrapup_s", "max_wait_s"), here)
        if "wrapup_s" in entry:
            wrapup[str(skill)] = _number(entry["wrapup_s"], (*here, "wrapup_s"), low=0,
                                         high=3600)
        if "max_wait_s" in entry:
            max_wait[str(skill)] = _number(entry["max_wait_s"], (*here, "max_wait_s"),
                                           low=1, high=1e7)
    room = body.get("waiting_room", True)
    if not isinstance(room, bool):
        raise ScenarioError("must be true or false", (*path, "waiting_room"))
    return AcdTimings(**values, wrapup_s=wrapup, max_wait_s=max_wait, waiting_room=room)


def _interflow(raw: Any, path: tuple[str | int, ...], sites: Mapping[str, SiteSpec]
               ) -> InterflowTimings:
    body = _mapping(raw, path)
    floats = ("threshold_s", "accept_s", "margin_s", "reevaluate_s")
    _known(body, (*floats, "max_moves", "trunk_limit", "order"), path)
    values: dict[str, Any] = {n: _number(body[n], (*path, n), low=0, high=1e6)
                              for n in floats if n in body}
    for name in ("max_moves", "trunk_limit"):
        if name in body:
            value = body[name]
            if not isinstance(value, int) or not 0 <= value <= 10_000:
                raise ScenarioError("must be an integer 0..10000", (*path, name))
            values[name] = value
    order: dict[str, tuple[str, ...]] = {}
    for site, targets in _mapping(body.get("order", {}), (*path, "order")).items():
        here = (*path, "order", str(site))
        if site not in sites:
            raise ScenarioError(f"{site!r} is not a site", here)
        listed = tuple(str(t) for t in _list(targets, here))
        for i, target in enumerate(listed):
            if target not in sites or target == site:
                raise ScenarioError(f"{target!r} is not another site", (*here, i))
        order[str(site)] = listed
    return InterflowTimings(**values, order=order)


# -- plain checks ------------------------------------------------------------------------


def _mapping(raw: Any, path: Sequence[str | int]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ScenarioError("must be a mapping", path)
    return {str(k): v for k, v in raw.items()}


def _list(raw: Any, path: Sequence[str | int]) -> list[Any]:
    if not isinstance(raw, list):
        raise ScenarioError("must be a list", path)
    return raw


def _need(body: Mapping[str, Any], key: str, path: Sequence[str | int]) -> Any:
    if key not in body:
        raise ScenarioError("is missing", (*path, key))
    return body[key]


def _known(body: Mapping[str, Any], keys: Sequence[str], path: Sequence[str | int]) -> None:
    for key in body:
        if key not in keys:
            raise ScenarioError(f"unknown key (known: {', '.join(keys)})", (*path, key))


def _number(raw: Any, path: Sequence[str | int], *, low: float, high: float) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or math.isnan(raw):
        raise ScenarioError("must be a number", path)
    if not low <= raw <= high:
        raise ScenarioError(f"must be between {low:g} and {high:g}", path)
    return float(raw)


def _text(raw: Any, path: Sequence[str | int]) -> str:
    if not isinstance(raw, str):
        raise ScenarioError("must be text", path)
    return raw


def _start(raw: Any) -> float:
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(str(raw))
    except ValueError:
        raise ScenarioError("an ISO date and time with offset, e.g. "
                            "2018-10-15T00:00:00+07:00", ("start",)) from None
    if moment.tzinfo is None:
        raise ScenarioError("needs a UTC offset, e.g. +07:00", ("start",))
    return moment.timestamp()
