"""What can go wrong talking to Asterisk, as types a caller can catch precisely."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ivr.ami.message import Message


class AMIError(Exception):
    """Base of every AMI failure."""


class AMIActionError(AMIError):
    """Asterisk answered `Response: Error` (or another non-success) to an action."""

    def __init__(self, action: str, response: Message):
        self.action = action
        self.response = response
        super().__init__(f"{action}: {response.get('Message', response.response)}")


class AMIAuthError(AMIActionError):
    """Login refused: wrong user or secret, or the user is not permitted from here."""


class AMITimeout(AMIError):
    """No (complete) answer within the action's timeout; the action may still run."""


class AMIConnectionLost(AMIError):
    """The connection closed before the answer came; the action is never resent."""


class AMINotConnected(AMIError):
    """No logged-in connection right now; nothing was sent."""
