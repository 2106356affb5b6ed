"""The one error the Asterisk renderers raise: a message an admin can act on, no secret in it."""

from __future__ import annotations


class RenderError(Exception):
    """The admin config (or a secrets file) cannot be rendered into Asterisk configuration."""
