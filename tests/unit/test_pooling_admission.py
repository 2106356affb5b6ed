"""Surge admission control's decision on a Clock: the pool's statuses as a stub board."""

from __future__ import annotations

from collections.abc import Iterable

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from acd.pooling.admission import Admission
from acd.pooling.status import SiteStatus, SkillStatus
from acd.settings import PoolingSettings

SITES = ("palembang", "medan")


class Board:
    """Every site's status as the test sets it; counts the reads."""

    def __init__(self, statuses: dict[str, SiteStatus | None]):
        self.statuses = statuses
        self.reads = 0

    def read(self, sites: Iterable[str]) -> Deferred[dict[str, SiteStatus | None]]:
        self.reads += 1
        return succeed({site: self.statuses.get(site) for site in sites})


def unstaffed(site: str) -> SiteStatus:
    return SiteStatus(site, 0.0, True, {"general": SkillStatus(waiting=3)})


def judged(pooling: PoolingSettings, board: Board) -> bool:
    admission = Admission("palembang", pooling, board, Clock())  # type: ignore[arg-type]
    result: list[bool] = []
    admission.over_capacity("general").addCallback(result.append)
    return result[0]


def test_nobody_serving_anywhere_in_the_pool_turns_new_callers_away() -> None:
    board = Board({site: unstaffed(site) for site in SITES})
    assert judged(PoolingSettings(pools={"national": SITES}), board) is True


def test_with_pooling_off_nobody_is_turned_away() -> None:
    board = Board({site: unstaffed(site) for site in SITES})
    assert judged(PoolingSettings(enabled=False, pools={"national": SITES}), board) is False
    assert board.reads == 0


def test_nothing_known_lets_the_caller_wait() -> None:
    assert judged(PoolingSettings(pools={"national": SITES}), Board({})) is False

