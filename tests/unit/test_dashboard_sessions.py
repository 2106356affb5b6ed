"""Sessions: wallboards and supervisors are capped apart, so neither can push the other out,
and whoever watches a session hears when it ends (the event streams close at logout)."""

from __future__ import annotations

from twisted.internet.task import Clock

from pln123.web.accounts import WALLBOARD, Role
from pln123.web.sessions import SessionStore

NATIONAL = Role.parse("national")


def test_wallboard_exchanges_never_evict_a_supervisor() -> None:
    clock = Clock()
    store = SessionStore(clock, 3600)
    boss = store.create("nas", NATIONAL)
    clock.advance(1)
    first_tv = store.create(WALLBOARD, Role(WALLBOARD), 30 * 86_400)
    last_tv = first_tv
    for _ in range(10_050):   # the leaked token, exchanged in a loop
        last_tv = store.create(WALLBOARD, Role(WALLBOARD), 30 * 86_400)
    assert store.get(boss.token) == boss
    assert store.get(last_tv.token) == last_tv
    assert store.get(first_tv.token) is None          # the oldest wallboard made room
    assert store.count(WALLBOARD) == store.wallboards
    assert store.count("nas") == 1


def test_a_supervisor_logging_in_everywhere_evicts_only_their_own_oldest_session() -> None:
    clock = Clock()
    store = SessionStore(clock, 3600)
    other = store.create("medan1", Role.parse("site:medan"))
    tv = store.create(WALLBOARD, Role(WALLBOARD), 86_400)
    mine = []
    for _ in range(store.per_supervisor + 5):
        clock.advance(1)
        mine.append(store.create("nas", NATIONAL))
    assert store.get(other.token) == other and store.get(tv.token) == tv
    assert [store.get(s.token) is not None for s in mine] == (
        [False] * 5 + [True] * store.per_supervisor)


def test_ending_a_session_tells_its_watchers_once() -> None:
    clock = Clock()
    store = SessionStore(clock, 3600)
    session = store.create("nas", NATIONAL)
    heard: list[str] = []
    store.watch(session.token, lambda: heard.append("a"))
    cancel = store.watch(session.token, lambda: heard.append("b"))
    cancel()
    store.end(session.token)
    store.end(session.token)
    assert heard == ["a"]
    assert store.get(session.token) is None


def test_an_evicted_session_tells_its_watchers_too() -> None:
    clock = Clock()
    store = SessionStore(clock, 3600, wallboards=2)
    first = store.create(WALLBOARD, Role(WALLBOARD))
    heard: list[str] = []
    store.watch(first.token, lambda: heard.append("closed"))
    store.create(WALLBOARD, Role(WALLBOARD))
    store.create(WALLBOARD, Role(WALLBOARD))
    assert heard == ["closed"]
