"""The garbage collector and a long-running serve process.

Everything `pln123 serve` builds before the reactor runs (modules, the configuration, the
site's object graph) lives as long as the process. Left in the collector's generations,
every full collection walks it again while callers are on the line; frozen, a collection
only walks what calls create and drop.

A call allocates thousands of short-lived containers (Deferreds, coroutines, parsed AMI
packets), nearly all freed by reference counting; the default threshold (700 allocations)
runs a young collection every few events only to find them still in use. A larger one
collects as surely, less often.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000


def freeze_startup_heap() -> None:
    """Once, after the wiring and just before the reactor runs."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
