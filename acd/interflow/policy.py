"""The interflow decision, as one pure function of what every site can do now.

Modelled on Avaya's Look-Ahead Interflow and Best Service Routing: a waiting call stays at
home while home will answer it soon enough; otherwise the live sites that may take it
(siblings in the configured order, then the hub) are compared on their expected wait, and
a site only qualifies if it staffs the skill, accepts (its own EWT is under its accept
threshold, so a busy receiver protects its own callers) and beats home by the margin
(Avaya's adjust-by, in seconds and in percent). The best EWT wins; ties go to the earlier
site in the order. A call never goes back to a site it has been at, never to a site whose
trunk refused it, moves at most `max_moves` times and never over a trunk that is full.

Pure (no Redis, no clock): the monitor gathers the inputs on the clock and carries out
what this returns, so every rule can be tested with plain values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from acd.interflow.status import SiteStatus, effective_threshold
from acd.settings import InterflowSettings


@dataclass(frozen=True)
class WaitingCall:
    call_id: str
    site: str                       # where it waits now
    skill: str
    home_ewt_s: float               # its expected wait here, at its position
    visited: tuple[str, ...] = ()   # sites it has been at (this one included)
    refused: tuple[str, ...] = ()   # sites whose trunk call failed for it
    moves: int = 0


@dataclass(frozen=True)
class Decision:
    target: str | None              # None: stay
    reason: str                     # why, for the log and the tests
    candidate_ewt_s: float = math.inf


def decide(call: WaitingCall, statuses: Mapping[str, SiteStatus | None],
           settings: InterflowSettings, *, overrides: Mapping[str, float] | None = None,
           trunks_in_use: Mapping[str, int] | None = None,
           sent_since_status: Mapping[str, int] | None = None) -> Decision:
    """Stay or move `call`; `statuses` by site (None or absent: down), `trunks_in_use` by
    target site (interflowed calls from `call.site` to it now), `sent_since_status` by
    target site (calls sent to it after its status was published: they count against its
    EWT, so callers evaluated together do not all rush to the same site)."""
    if not settings.enabled:
        return Decision(None, "interflow disabled")
    home = statuses.get(call.site)
    if home is not None and home.skill(call.skill).ready > 0:
        return Decision(None, "an agent is ready at home")
    rule = settings.rule(call.site, call.skill)
    threshold = effective_threshold(overrides or {}, call.site, call.skill, rule.threshold_s)
    if call.home_ewt_s <= threshold:
        return Decision(None, "home answers within the threshold")
    if call.moves >= settings.max_moves:
        return Decision(None, "moved the maximum number of times")
    in_use = trunks_in_use or {}
    sent = sent_since_status or {}
    best: tuple[float, int, str] | None = None
    reasons: list[str] = []
    for index, site in enumerate(settings.candidates(call.site)):
        why = _refusal(call, site, statuses.get(site), settings, in_use.get(site, 0),
                       sent.get(site, 0))
        if why:
            reasons.append(f"{site}: {why}")
            continue
        status = statuses[site]
        assert status is not None
        ewt = status.skill(call.skill).ewt_with(sent.get(site, 0))
        if best is None or (ewt, index) < best[:2]:
            best = (ewt, index, site)
    if best is None:
        return Decision(None, "; ".join(reasons) or "no candidate site")
    return Decision(best[2], "beats home", best[0])


def _refusal(call: WaitingCall, site: str, status: SiteStatus | None,
             settings: InterflowSettings, in_use: int, sent: int) -> str:
    """Why `site` cannot take `call` now, or "" if it can."""
    if site in call.visited:
        return "visited"
    if site in call.refused:
        return "its trunk refused this call"
    if status is None or not status.ami_up:
        return "down"
    skill = status.skill(call.skill)
    if skill.staffed <= 0:
        return "does not staff the skill"
    expected = skill.ewt_with(sent)   # its status, plus the calls sent since
    if not expected < settings.rule(site, call.skill).accept_s:
        return "does not accept (own EWT over its accept threshold)"
    rule = settings.rule(call.site, call.skill)
    beat_by = max(rule.margin_s, call.home_ewt_s * rule.margin_pct / 100)
    if not expected <= call.home_ewt_s - beat_by:
        return "does not beat home by the margin"
    if in_use >= settings.trunk_limit_for(call.site, site):
        return "trunk full"
    return ""


def over_capacity(site: str, skill: str, home_ewt_s: float,
                  statuses: Mapping[str, SiteStatus | None],
                  settings: InterflowSettings) -> bool:
    """Surge admission control: home and every live candidate are over the national
    maximum EWT for `skill`, so a new caller would not be answered in reasonable time
    anywhere (a site that is down or does not staff the skill offers no way out)."""
    limit = settings.national_max_ewt_s
    if home_ewt_s <= limit:
        return False
    for candidate in settings.candidates(site):
        status = statuses.get(candidate)
        if status is None or not status.ami_up:
            continue
        figures = status.skill(skill)
        if figures.staffed > 0 and figures.ewt_s <= limit:
            return False
    return True
