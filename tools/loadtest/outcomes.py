"""How each load-test call ended, read from the ACD's call records in Redis.

A caller is known by its unique caller number. A call has one record, at the caller's
site, even when another site's agent answered it (national pooling: the caller never leaves
their site); the load test's callers do not redial, but should a number have more than one
record, all of them decide:

    answered     some record has answered_at: an agent took it
    callback     a record carries a callback number: the caller keeps the place
    turned_away  outcome max_wait or surge: the waiting room's fallback (apology, ticket)
    abandoned    the caller hung up while queued
    waiting      still queued or ringing an agent when the test stopped waiting
    no_queue     the IVR took the call (AsyncAGIStart) but it never reached a queue
    no_ivr       pln123 never saw the call (no AsyncAGIStart, no record)

An answered call whose record names another site in `agent_site` was answered by that
site's agent (a loan, `pooled`). Lost = everything but answered and callback (turned_away
too: counted, shown apart, so the reader sees whether any caller left with only an
apology).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

import redis

from acd.store.keys import SiteKeys

KINDS = ("answered", "callback", "turned_away", "abandoned", "waiting", "no_queue", "no_ivr")
NOT_LOST = ("answered", "callback")


def records_by_number(client: redis.Redis,
                      sites: Iterable[SiteKeys]) -> dict[str, list[dict[str, str]]]:
    """caller number -> its call records at every site (each site's keys carry its pool's
    hash tag, so the scan pattern is `acd:{<pool>}:<site>:call:*`)."""
    found: dict[str, list[dict[str, str]]] = {}
    for keys in sites:
        for key in client.scan_iter(match=keys.calls_pattern, count=1000):
            fields = {str(k): str(v) for k, v in client.hgetall(key).items()}
            number = fields.get("caller_number", "")
            if number:
                found.setdefault(number, []).append(fields)
    return found


def outcome(records: list[dict[str, str]], ivr_took: bool) -> str:
    if not records:
        return "no_queue" if ivr_took else "no_ivr"
    if any(r.get("answered_at") for r in records):
        return "answered"
    if any(r.get("callback") for r in records):
        return "callback"
    if any(r.get("outcome") in ("max_wait", "surge") for r in records):
        return "turned_away"
    if any(r.get("state") == "abandoned" for r in records):
        return "abandoned"
    return "waiting"


def classify(numbers: Iterable[str], records: Mapping[str, list[dict[str, str]]],
             ivr_took: set[str]) -> Counter[str]:
    counts: Counter[str] = Counter(dict.fromkeys(KINDS, 0))
    for number in numbers:
        counts[outcome(records.get(number, []), number in ivr_took)] += 1
    return counts


def lost(counts: Mapping[str, int]) -> int:
    return sum(n for kind, n in counts.items() if kind not in NOT_LOST)


def pooled(numbers: Iterable[str], records: Mapping[str, list[dict[str, str]]]) -> int:
    """How many of `numbers` another site's agent answered (national pooling)."""
    return sum(1 for number in numbers
               if any(r.get("answered_at") and r.get("agent_site", "") not in ("", r.get("site"))
                      for r in records.get(number, [])))
