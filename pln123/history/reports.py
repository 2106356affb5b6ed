"""The reports over the history: per 15 minutes, per agent, the abandoned callers, the calls.

The interval report rebuilds, from the archived events, the very counters the ACD's
scripts keep in Redis (acd/queues/metrics.py: the same event, the same 15-minute bucket
of the ACD's clock, the same integer milliseconds), and turns them into figures with the
same functions the dashboard uses (`acd.queues.metrics` through `pln123.web.figures`): a
report and `/api` cannot define SL, SL2, ASA or the abandon rate differently.

Every report is a list of rows (dicts keyed by its COLUMNS, in order); docs/reports.md
describes them. Times are epoch seconds here; the output formats them in local time.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, func, select

from acd.queues.metrics import Counters
from acd.store.keys import INTERVAL_S
from pln123.history.rows import AGENT, CALL
from pln123.history.schema import calls, events
from pln123.web.figures import figures

ALL = "all"   # the site or skill column of a total row

INTERVAL_COLUMNS = ("interval", "site", "skill", "offered", "answered", "answered_in_sl",
                    "abandoned", "abandoned_in_sl", "service_level", "service_level_2",
                    "asa_s", "abandon_rate", "pooled_in", "pooled_out", "max_wait", "surge",
                    "longest_wait_s")
AGENT_COLUMNS = ("site", "agent", "calls", "aht_s", "talk_s", "wrap_up_s", "ready_s",
                 "ringing_s", "paused_s", "paused_by_reason")
ABANDONED_COLUMNS = ("abandoned_at", "site", "skill", "caller_number", "wait_s", "region",
                     "area_code", "call_id", "answered_later_at")
CALL_COLUMNS = ("call_id", "site", "skill", "caller_number", "region", "entered_at",
                "offered_at", "answered_at", "ended_at", "wait_s", "in_sl", "talk_s",
                "outcome", "agent", "agent_site", "pooled_to", "callback", "ticket",
                "recording_path")
COLUMNS = {"interval": INTERVAL_COLUMNS, "agents": AGENT_COLUMNS,
           "abandoned": ABANDONED_COLUMNS, "calls": CALL_COLUMNS}
# Columns holding epoch seconds (shown as local time) and ratios (shown as percentages).
TIME_COLUMNS = frozenset({"interval", "entered_at", "offered_at", "answered_at", "ended_at",
                          "abandoned_at", "answered_later_at"})
RATIO_COLUMNS = frozenset({"service_level", "service_level_2", "abandon_rate"})

# The counted events: what each adds to a counters hash (acd/queues/lua, `metric`).
_COUNTED = ("offered", "answered", "abandoned", "max_wait", "surge", "trunk_failed")
_FIGURES = ("offered", "answered", "answered_in_sl", "abandoned", "abandoned_in_sl",
            "service_level", "service_level_2", "asa_s", "abandon_rate", "pooled_in",
            "pooled_out")


@dataclass(frozen=True)
class Window:
    start: float   # epoch s, included
    end: float     # epoch s, excluded
    sites: frozenset[str] = frozenset()   # empty: every site

    def has(self, site: str) -> bool:
        return not self.sites or site in self.sites


# -- per 15 minutes ----------------------------------------------------------------------

Hashes = dict[tuple[int, str, str], dict[str, int]]  # (interval, site, skill) -> counters


def interval_hashes(rows: Iterable[Mapping[str, Any]]) -> Hashes:
    """The counters hashes the ACD kept, rebuilt from its call events (pure)."""
    out: Hashes = defaultdict(lambda: defaultdict(int))
    for row in rows:
        start = int(math.floor(row["at"] / INTERVAL_S) * INTERVAL_S)
        site, skill, name = row["site"], row["skill"], row["event"]
        here = out[(start, site, skill)]
        wait = row["wait_ms"]
        if name == "offered":
            here["offered"] += 1
        elif name in ("answered", "abandoned"):
            here[name] += 1
            here[f"{name}_in_sl"] += 1 if row["in_sl"] else 0
            if name == "answered":
                here["answer_wait_ms"] += wait or 0
            agent_site = row["agent_site"]
            if name == "answered" and agent_site and agent_site != site:
                here["pooled_in"] += 1
                out[(start, agent_site, skill)]["pooled_out"] += 1
        elif name in ("max_wait", "surge"):
            here[name] += 1
            wait = _ms(row.get("detail_waited"))
        elif name == "trunk_failed":
            here["pool_trunk_failed"] += 1
        if wait is not None and name != "offered":
            here["longest_wait_ms"] = max(here.get("longest_wait_ms", -1), wait)
    return out


def _ms(text: object) -> int | None:
    try:
        return math.floor(float(str(text)) * 1000 + 0.5)
    except ValueError:
        return None


def counters_of(raw: Mapping[str, int]) -> Counters:
    return Counters.from_hash({k: str(v) for k, v in raw.items()})


def interval_rows(hashes: Hashes, window: Window) -> list[dict[str, Any]]:
    """Rows per interval, site and skill, then each site's total (skill `all`), then the
    nation's (site `all`, only without a site filter); last, the same for the whole window
    (interval None: `total`)."""
    kept = {key: counters_of(raw) for key, raw in hashes.items() if window.has(key[1])}
    rows: list[dict[str, Any]] = []
    for start in sorted({key[0] for key in kept}):
        rows += _grouped(start, {(site, skill): c for (s, site, skill), c in kept.items()
                                 if s == start}, national=not window.sites)
    whole: dict[tuple[str, str], Counters] = defaultdict(Counters)
    for (_start, site, skill), counters in sorted(kept.items()):
        whole[(site, skill)] = whole[(site, skill)] + counters
    rows += _grouped(None, whole, national=not window.sites)
    return rows


def _grouped(start: int | None, parts: Mapping[tuple[str, str], Counters], *,
             national: bool) -> list[dict[str, Any]]:
    rows = []
    sites = sorted({site for site, _ in parts})
    skills = sorted({skill for _, skill in parts})
    for site in sites:
        mine = [(skill, parts[(site, skill)]) for skill in skills if (site, skill) in parts]
        rows += [_interval_row(start, site, skill, c) for skill, c in mine]
        rows.append(_interval_row(start, site, ALL, sum((c for _, c in mine), Counters())))
    if national and sites:
        for skill in skills:
            rows.append(_interval_row(start, ALL, skill, sum(
                (c for (_, k), c in parts.items() if k == skill), Counters())))
        rows.append(_interval_row(start, ALL, ALL, sum(parts.values(), Counters())))
    return rows


def _interval_row(start: int | None, site: str, skill: str, c: Counters) -> dict[str, Any]:
    shown = figures(c)
    row: dict[str, Any] = {"interval": start, "site": site, "skill": skill}
    row.update({name: shown[name] for name in _FIGURES})
    row.update(max_wait=c.max_wait, surge=c.surge, longest_wait_s=c.longest_wait)
    return {column: row[column] for column in INTERVAL_COLUMNS}


def interval_report(engine: Engine, window: Window) -> list[dict[str, Any]]:
    """Per 15 minutes: offered, answered, SL, SL2, ASA, abandons, pooled in and out."""
    # The counters of an interval come from its events alone: whole intervals are read,
    # so a window that starts mid-interval still shows that interval as the ACD counted it.
    first = math.floor(window.start / INTERVAL_S) * INTERVAL_S
    last = math.ceil(window.end / INTERVAL_S) * INTERVAL_S
    query = select(events.c.site, events.c.at, events.c.event, events.c.skill,
                   events.c.agent_site, events.c.wait_ms, events.c.in_sl,
                   events.c.detail).where(
        events.c.subject == CALL, events.c.event.in_(_COUNTED),
        events.c.at >= first, events.c.at < last)
    with engine.connect() as connection:
        rows = []
        for row in connection.execute(query).mappings():
            values = dict(row)
            if values["event"] in ("max_wait", "surge"):
                values["detail_waited"] = json.loads(values["detail"] or "{}").get("waited")
            rows.append(values)
    return interval_rows(interval_hashes(rows), window)


# -- per agent ---------------------------------------------------------------------------

def agent_rows(changes: Iterable[Mapping[str, Any]], answered: Mapping[tuple[str, str], int],
               window: Window) -> list[dict[str, Any]]:
    """Time per state of each agent within the window, from their state changes in order
    (the last change before the window says how it began); pure."""
    timeline: dict[tuple[str, str], list[tuple[float, str, str]]] = defaultdict(list)
    for change in changes:
        timeline[(change["site"], change["agent"])].append(
            (change["at"], change["state"], change["reason"]))
    rows = []
    for key in sorted(set(timeline) | set(answered)):
        site, agent = key
        if not window.has(site):
            continue
        spent: dict[str, float] = defaultdict(float)
        paused: dict[str, float] = defaultdict(float)
        changes_ = sorted(timeline.get(key, []), key=lambda c: c[0])
        for index, (at, state, reason) in enumerate(changes_):
            until = changes_[index + 1][0] if index + 1 < len(changes_) else window.end
            seconds = max(0.0, min(until, window.end) - max(at, window.start))
            spent[state] += seconds
            if state == "paused":
                paused[reason or "-"] += seconds
        count = answered.get(key, 0)
        handle = spent["on_call"] + spent["wrap_up"]
        rows.append({
            "site": site, "agent": agent, "calls": count,
            "aht_s": handle / count if count else None,
            "talk_s": spent["on_call"], "wrap_up_s": spent["wrap_up"],
            "ready_s": spent["ready"], "ringing_s": spent["reserved"],
            "paused_s": spent["paused"],
            "paused_by_reason": ";".join(f"{reason}={round(seconds, 3)}"
                                         for reason, seconds in sorted(paused.items())),
        })
    return rows


def agent_report(engine: Engine, window: Window, *, now: float | None = None
                 ) -> list[dict[str, Any]]:
    """Per agent: calls answered, AHT, talk, wrap-up, ready, ringing and paused time."""
    end = min(window.end, now) if now is not None else window.end
    bounded = Window(window.start, end, window.sites)
    columns = (events.c.site, events.c.agent, events.c.at, events.c.state, events.c.reason,
               events.c.entry_id)
    agent_events = events.c.subject == AGENT
    before = select(events.c.site, events.c.agent, func.max(events.c.at).label("at")).where(
        agent_events, events.c.at < window.start).group_by(
        events.c.site, events.c.agent).subquery()
    first = select(*columns).join(before, and_(
        events.c.site == before.c.site, events.c.agent == before.c.agent,
        events.c.at == before.c.at)).where(agent_events)
    inside = select(*columns).where(agent_events, events.c.at >= window.start,
                                    events.c.at < end)
    answers = select(events.c.agent_site, events.c.site, events.c.agent,
                     func.count()).where(
        events.c.subject == CALL, events.c.event == "answered",
        events.c.at >= window.start, events.c.at < end).group_by(
        events.c.agent_site, events.c.site, events.c.agent)
    with engine.connect() as connection:
        changes = [dict(r) for r in connection.execute(first).mappings()]
        changes += [dict(r) for r in connection.execute(inside).mappings()]
        answered: dict[tuple[str, str], int] = defaultdict(int)
        for agent_site, call_site, agent, count in connection.execute(answers):
            answered[(agent_site or call_site, agent)] += count
    changes.sort(key=lambda c: (c["at"], c["entry_id"]))
    return agent_rows(changes, answered, bounded)


# -- the abandoned callers, and the calls -------------------------------------------------

def abandoned_report(engine: Engine, window: Window) -> list[dict[str, Any]]:
    """Callers who hung up before an agent answered, oldest first: a call-back list, with
    when the same number was answered later (if it was)."""
    query = select(calls).where(calls.c.outcome == "abandoned",
                                calls.c.ended_at >= window.start,
                                calls.c.ended_at < window.end).order_by(calls.c.ended_at)
    if window.sites:
        query = query.where(calls.c.site.in_(sorted(window.sites)))
    with engine.connect() as connection:
        found = [dict(r) for r in connection.execute(query).mappings()]
        numbers = sorted({r["caller_number"] for r in found if r["caller_number"]})
        later: dict[str, list[float]] = defaultdict(list)
        for chunk in _chunks(numbers):
            answered = select(calls.c.caller_number, calls.c.answered_at).where(
                calls.c.caller_number.in_(chunk), calls.c.answered_at.is_not(None))
            for number, at in connection.execute(answered):
                later[number].append(at)
    return [{
        "abandoned_at": r["ended_at"], "site": r["site"], "skill": r["skill"],
        "caller_number": r["caller_number"], "wait_s": r["wait_s"], "region": r["region"],
        "area_code": r["area_code"], "call_id": r["call_id"],
        "answered_later_at": min((t for t in later.get(r["caller_number"], [])
                                  if t > r["ended_at"]), default=None),
    } for r in found]


def call_report(engine: Engine, window: Window) -> list[dict[str, Any]]:
    """One row per call that entered the IVR (or, its path unknown, was offered to the ACD)
    in the window."""
    began = func.coalesce(calls.c.entered_at, calls.c.offered_at)
    query = select(calls).where(began >= window.start, began < window.end).order_by(
        began, calls.c.call_id)
    if window.sites:
        query = query.where(calls.c.site.in_(sorted(window.sites)))
    with engine.connect() as connection:
        return [{column: row[column] for column in CALL_COLUMNS}
                for row in connection.execute(query).mappings()]


def _chunks(items: list[str], size: int = 400) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]

