"""The one error the prompt tools raise: a sentence an admin can act on."""

from __future__ import annotations


class PromptError(Exception):
    """Building or installing prompts failed; the message says what to do."""
