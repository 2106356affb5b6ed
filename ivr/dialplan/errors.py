"""The renderer's one error: a value that must not be written into a dialplan."""

from __future__ import annotations


class DialplanError(ValueError):
    """A name or value outside the characters a dialplan line may safely contain."""
