"""What the overview and the site view show, assembled from Redis as plain JSON values.

The REST resources, the Server-Sent Events feed and the Prometheus exporter all read these
same dicts, so a figure on the page, in `/api/` and in `/metrics` can never disagree.

Sources (all in Redis, written by the sites' pln123 processes):
- the queues, agents and call records of each site (`acd/store/keys.py`), read directly;
- the live 15-minute figures through `SiteMetrics.live`;
- today's figures: the 15-minute interval hashes since local midnight (completed intervals
  are re-read at most once a minute, the current one every time);
- each site's live status (`acd.pooling.status`): absent means the site is down;
- each site's lending (`acd.pooling.lending`): the supervisors' overrides, the agents it
  lends and the calls it borrows for now; and the outage board.

Lent and borrowed, counted (15 minutes, today): `pooled_out` (other sites' callers this
site's agents answered) and `pooled_in` (this site's callers other sites' agents answered).
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.interfaces import IReactorTime

from acd.agents.phones import unreachable
from acd.agents.state import AgentStatus
from acd.pooling.lending import Lending, LendingBoard
from acd.pooling.status import SiteStatus, StatusBoard
from acd.queues.metrics import DEFAULT_AHT_S, Counters, LiveView, SiteMetrics, aht, ewt
from acd.selfservice.models import Outage
from acd.selfservice.outages import RedisOutageBoard
from acd.selfservice.outbox import TicketOutbox
from acd.settings import AcdSettings
from acd.store.keys import INTERVAL_S, SiteKeys, queue_entry
from acd.store.redis import Client, RedisStore, text
from pln123.web.figures import figures, finite, sl_colour

DAY_S = 86_400
_CALL_FIELDS = ["area_code", "region", "caller_number", "callback", "language", "state"]


@dataclass(frozen=True)
class DashboardSite:
    """A site as the dashboard needs it: name, role and the area codes it answers."""

    name: str
    role: str = "site"                                          # "site" or "hub"
    area_codes: Mapping[str, str] = field(default_factory=dict)  # code -> region


def agent_groups(states: Mapping[AgentStatus, int], phone_down: int = 0) -> dict[str, int]:
    """Agents by what a supervisor asks: ready, on a call (ringing counts), wrap-up, paused,
    and ready but offered nothing because their phone is unregistered or busy (`states`
    counts those apart: not as ready)."""
    return {
        "ready": states.get(AgentStatus.READY, 0),
        "on_call": states.get(AgentStatus.ON_CALL, 0) + states.get(AgentStatus.RESERVED, 0),
        "wrap_up": states.get(AgentStatus.WRAP_UP, 0),
        "paused": states.get(AgentStatus.PAUSED, 0),
        "phone_down": phone_down,
        "logged_in": phone_down + sum(n for s, n in states.items()
                                      if s is not AgentStatus.LOGGED_OUT),
    }


class TodayCounters:
    """Sums of today's interval hashes per (site, skill); completed ones cached a minute."""

    def __init__(self, utc_offset_s: float, refresh_s: float = 60.0):
        self.utc_offset_s = utc_offset_s
        self.refresh_s = refresh_s
        self._done: dict[tuple[str, str], tuple[float, float, Counters]] = {}

    def day_start(self, now: float) -> float:
        local = now + self.utc_offset_s
        return local - local % DAY_S - self.utc_offset_s

    async def read(self, client: Client, keys: SiteKeys, skill: str, now: float) -> Counters:
        current = int(now // INTERVAL_S * INTERVAL_S)
        first = int(self.day_start(now) // INTERVAL_S * INTERVAL_S)
        cached = self._done.get((keys.site, skill))
        starts = list(range(first, current, INTERVAL_S))
        names = [keys.interval(skill, current)]
        reuse = cached is not None and cached[0] == first and now - cached[1] < self.refresh_s
        if not reuse:
            names += [keys.interval(skill, start) for start in starts]
        async with client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(name)
            replies = await pipe.execute()
        sums = [Counters.from_hash({text(k): text(v) for k, v in raw.items()})
                for raw in replies]
        if reuse and cached is not None:
            done = cached[2]
        else:
            done = sum(sums[1:], Counters())
            self._done[(keys.site, skill)] = (first, now, done)
        return sums[0] + done


class ViewReader:
    def __init__(self, store: RedisStore, sites: Sequence[DashboardSite],
                 skills: Sequence[str], settings: AcdSettings, clock: IReactorTime, *,
                 sl_target: float = 0.8, utc_offset_s: float = 7 * 3600,
                 outbox: TicketOutbox | None = None):
        self.store = store
        self.outbox = outbox   # the APKT outbox, when the connector is configured
        self.sites = {site.name: site for site in sites}
        self.skills = tuple(skills)
        self.settings = settings
        self.clock = clock
        self.sl_target = sl_target
        self.metrics = {name: SiteMetrics(store, name, settings) for name in self.sites}
        self.keys = {name: SiteKeys(name, settings.pooling.pool_of(name))
                     for name in self.sites}
        self.status = StatusBoard(store)
        self.lending = LendingBoard(store, settings.pooling)
        self.outages = RedisOutageBoard(store, clock)
        self.today = TodayCounters(utc_offset_s)

    # -- the two views ------------------------------------------------------------------

    def overview(self) -> Deferred[dict[str, Any]]:
        return Deferred.fromCoroutine(self._overview())

    def site(self, name: str) -> Deferred[dict[str, Any]]:
        """KeyError (as a failed Deferred) for a site not in the config."""
        return Deferred.fromCoroutine(self._site(name))

    def all_sites(self) -> Deferred[list[dict[str, Any]]]:
        """Every site's full view (the Prometheus exporter's scrape)."""
        return Deferred.fromCoroutine(self._all_sites())

    async def _all_sites(self) -> list[dict[str, Any]]:
        return [await self._site(name) for name in self.sites]

    async def _overview(self) -> dict[str, Any]:
        now = self.clock.seconds()
        statuses = await self.status.read(self.sites)
        outages = await self.outages.all()
        tiles = await gatherResults([
            Deferred.fromCoroutine(self._tile(name, statuses.get(name), outages, now))
            for name in self.sites])
        return {"generated_at": round(now, 3), "service_level_s": self.settings.service_level_s,
                "sl_target": self.sl_target, "sites": [tile for tile, _ in tiles],
                "apkt": await self._apkt(now)}

    def apkt(self) -> Deferred[dict[str, Any] | None]:
        """The APKT outbox's backlog (None: no connector, or it never ran)."""
        return Deferred.fromCoroutine(self._apkt(self.clock.seconds()))

    async def _apkt(self, now: float) -> dict[str, Any] | None:
        if self.outbox is None:
            return None
        backlog = await self.outbox.backlog(now)
        return None if backlog is None else backlog.as_json()

    async def _site(self, name: str) -> dict[str, Any]:
        if name not in self.sites:
            raise KeyError(name)
        now = self.clock.seconds()
        statuses = await self.status.read([name])
        outages = await self.outages.all()
        tile, details = await self._tile(name, statuses.get(name), outages, now, full=True)
        tile.update(details)
        tile["generated_at"] = round(now, 3)
        tile["service_level_s"] = self.settings.service_level_s
        tile["sl_target"] = self.sl_target
        return tile

    # -- assembly ------------------------------------------------------------------------

    async def _tile(self, name: str, status: SiteStatus | None, outages: list[Outage],
                    now: float, *, full: bool = False
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
        site = self.sites[name]
        keys = self.keys[name]
        lives: list[LiveView] = list(await gatherResults(
            [self.metrics[name].live(skill, now) for skill in self.skills]))

        async def read(client: Client
                       ) -> tuple[list[Counters], dict[str, str], dict[str, str]]:
            todays = [await self.today.read(client, keys, skill, now) for skill in self.skills]
            raw = await client.hgetall(keys.agents)
            phones = await client.hgetall(keys.phones)
            return (todays, {text(k): text(v) for k, v in raw.items()},
                    {text(k): text(v) for k, v in phones.items()})

        todays, states, phones = await self.store.run(read)
        down = unreachable(states, phones)
        lending = await self.lending.read(name)
        live_total = sum((view.counters for view in lives), Counters())
        today_total = sum(todays, Counters())
        by_state = Tally(AgentStatus(s) for a, s in states.items() if a not in down)
        live_figures = figures(live_total)
        site_outages = [o for o in outages if set(o.area_codes) & set(site.area_codes)]
        tile: dict[str, Any] = {
            "site": name,
            "role": site.role,
            "up": status is not None,
            "ami_up": status.ami_up if status is not None else None,
            "waiting": sum(view.waiting for view in lives),
            "longest_wait_s": round(max((v.longest_waiting_s for v in lives), default=0.0), 3),
            "agents": agent_groups(by_state, len(down)),
            "live": live_figures,
            "today": figures(today_total),
            "sl_colour": sl_colour(live_figures["service_level"], self.sl_target),
            "pooling": self._pooling(name, lending, live_total, today_total),
            "outages": len(site_outages),
        }
        if not full:
            return tile, {}
        skills = [self._skill(name, view, today, status, lending)
                  for view, today in zip(lives, todays, strict=True)]
        calls, agents = await self.store.run(lambda c: self._details(c, name, now))
        return tile, {"skills": skills, "calls": calls, "agents": agents,
                      "outage_notices": [outage_json(o) for o in site_outages],
                      "area_codes": dict(site.area_codes)}

    def _pooling(self, name: str, lending: Lending, live: Counters,
                 today: Counters) -> dict[str, Any]:
        """Lent = this site's agents answering other sites' callers; borrowed = the other
        way round. Now from the lending sets, counted from the counters."""
        pooling = self.settings.pooling
        return {
            "pool": pooling.pool_of(name),
            "members": list(pooling.members(name)),
            "lending_on": not lending.off,
            "lent_now": lending.lent_now,
            "borrowed_now": lending.borrowed_now,
            "lent_15m": live.pooled_out,
            "borrowed_15m": live.pooled_in,
            "lent_today": today.pooled_out,
            "borrowed_today": today.pooled_in,
            "reserve_overrides": dict(sorted(lending.reserve.items())),
            "reserve_config": {skill: pooling.reserve_for(name, skill)
                               for skill in self.skills},
            "reserve_sl": lending.reserve_sl,
        }

    def _skill(self, site: str, view: LiveView, today: Counters, status: SiteStatus | None,
               lending: Lending) -> dict[str, Any]:
        live = figures(view.counters)
        override = lending.reserve.get(view.skill, lending.reserve.get(""))
        return {
            "skill": view.skill,
            "waiting": view.waiting,
            "longest_wait_s": round(view.longest_waiting_s, 3),
            "agents": agent_groups(view.agents, view.phone_down),
            "serving": view.serving,
            "ewt_s": finite(ewt(view.waiting + 1, view.serving,
                                aht(view.counters) or DEFAULT_AHT_S)),
            "live": live,
            "today": figures(today),
            "sl_colour": sl_colour(live["service_level"], self.sl_target),
            "reserve_config": self.settings.pooling.reserve_for(site, view.skill),
            "reserve_override": override,
            "published_ewt_s": (finite(status.skill(view.skill).ewt_s)
                                if status is not None else None),
        }

    async def _details(self, client: Client, name: str, now: float
                       ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        keys = self.keys[name]
        roster = self.settings.agents_at(name)
        async with client.pipeline(transaction=False) as pipe:
            for skill in self.skills:
                pipe.zrange(keys.queue(skill), 0, -1, withscores=True)
            for agent in roster:
                pipe.hgetall(keys.agent(agent.id))
            replies = await pipe.execute()
        queues, agent_raws = replies[: len(self.skills)], replies[len(self.skills):]
        entries = [(skill, index + 1, text(member), score)
                   for skill, queue in zip(self.skills, queues, strict=True)
                   for index, (member, score) in enumerate(queue)]
        async with client.pipeline(transaction=False) as pipe:
            for _skill, _position, call_id, _score in entries:
                pipe.hmget(keys.call(call_id), _CALL_FIELDS)
            call_raws = await pipe.execute()
        calls: list[dict[str, Any]] = []
        for (skill, position, call_id, score), raw in zip(entries, call_raws, strict=True):
            values = dict(zip(_CALL_FIELDS, (text(v) if v is not None else "" for v in raw),
                              strict=True))
            priority, enqueued = queue_entry(score)
            calls.append({
                "call_id": call_id, "skill": skill, "position": position,
                "priority": priority, "wait_s": round(max(0.0, now - enqueued), 3),
                "area_code": values["area_code"], "region": values["region"],
                "caller_number": values["caller_number"], "language": values["language"],
                "callback": bool(values["callback"]),
            })
        calls.sort(key=lambda c: (c["priority"], -c["wait_s"]))
        agents = []
        for agent, raw in zip(roster, agent_raws, strict=True):
            values = {text(k): text(v) for k, v in raw.items()}
            state = values.get("state") or AgentStatus.LOGGED_OUT.value
            since = float(values["since"]) if values.get("since") else None
            agents.append({
                "id": agent.id, "name": agent.name, "skills": dict(agent.skills),
                "state": state, "reason": values.get("reason", "") if state == "paused" else "",
                "pending_logout": values.get("pending_logout") == "1",
                "call": values.get("call", ""),
                "phone": values.get("phone") or "available",
                "time_in_state_s": round(max(0.0, now - since), 3) if since else None,
            })
        return calls, agents


def outage_json(outage: Outage) -> dict[str, Any]:
    return {"id": outage.id, "area_codes": list(outage.area_codes), "message": outage.message,
            "restore_at": outage.restore_at, "created_at": outage.created_at,
            "created_by": outage.created_by}
