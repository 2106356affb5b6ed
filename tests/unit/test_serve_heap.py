"""`freeze_startup_heap`: what exists at start-up leaves the collector's generations."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from pln123.serve.heap import YOUNG_THRESHOLD, freeze_startup_heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_the_start_up_heap_is_frozen_and_young_collections_are_rarer() -> None:
    before = gc.get_freeze_count()
    wiring = [{"site": n} for n in range(1000)]
    freeze_startup_heap()
    assert gc.get_freeze_count() >= before + len(wiring)
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    garbage: list[object] = []
    garbage.append(garbage)  # a cycle made after start-up is still collected
    del garbage
    assert gc.collect() >= 1
