"""The loop thread the property tests' state machines drive the ACD on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.harness.loop import LoopThread


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread()
    try:
        yield thread
    finally:
        thread.stop()
