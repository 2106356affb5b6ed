"""Several Deferreds awaited together, failing with the first one's own failure.

Why: reads that do not depend on each other are sent at once, so a caller waits one round
trip instead of one per read; Twisted's `gatherResults` wraps the first failure in
`FirstError`, which would change what the callers' error handling and logs see.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, FirstError, gatherResults
from twisted.python.failure import Failure


def gather(*work: Deferred[Any]) -> Deferred[list[Any]]:
    """The results of `work`, in order; the first failure as it was raised."""
    return gatherResults(list(work), consumeErrors=True).addErrback(_unwrapped)


def _unwrapped(failure: Failure) -> Failure:
    error = failure.value
    return error.subFailure if isinstance(error, FirstError) else failure
