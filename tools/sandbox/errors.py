"""The one exception type of the sandbox tooling.

The CLI turns it into a message and exit status 2 without a traceback: every failure the
sandbox can diagnose (not root, no debootstrap, a port in use, Asterisk exiting at start-up)
is a setup problem of the machine, and the message says what to do about it.
"""

from __future__ import annotations


class SandboxError(Exception):
    """A sandbox operation failed for a reason the user can act on; str() is the advice."""
