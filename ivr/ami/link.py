"""The AMI link's connection state as one explicit table: what each event does in each state.

A table, in the same form as the agent lifecycle in `acd.agents.state`, rather than
Automat (which Twisted's ClientService uses): the whole (state, event) grid is plain data
that a test walks row by row, and everything not in it raises `IllegalTransition`, so an
event nobody thought about fails loudly in a test instead of leaving the link stuck.
ClientService's Automat machine is the cautionary tale: it raises NoTransition when a
connection drops while it waits to retry or after it stopped, both of which happen to an
AMI client. Here those cases cannot arise: the service lets go of a connection as soon as
it leaves it (a refused login, a drop), and a late disconnect from a connection it no
longer holds is not an event of the link at all. The service's side effects (timers,
sockets, waiters) stay in its ordinary methods, run after the step.

The states:

- stopped: not started, or stopped and every socket closed.
- connecting: the endpoint is opening a connection.
- logging_in: connected; the Login (or MD5 challenge and Login) is on its way.
- resyncing: Asterisk accepted the login; the resync hooks recover what the outage hid.
  The connection is already usable (the hooks send on it), but `when_connected` waiters
  are released only when the hooks are done.
- up: logged in and resynced.
- reconnect_wait: the backoff delay before the next attempt.
- stopping: stopped while a connection was open; waiting for it to close.

The table is at the bottom of the module: read it first.
"""

from __future__ import annotations

from enum import StrEnum


class LinkState(StrEnum):
    STOPPED = "stopped"
    CONNECTING = "connecting"
    LOGGING_IN = "logging_in"
    RESYNCING = "resyncing"
    UP = "up"
    RECONNECT_WAIT = "reconnect_wait"
    STOPPING = "stopping"


class LinkEvent(StrEnum):
    START = "start"                    # startService
    CONNECTED = "connected"            # the endpoint's connection is made
    CONNECT_FAILED = "connect_failed"  # the endpoint could not connect
    LOGIN_ACCEPTED = "login_accepted"
    LOGIN_FAILED = "login_failed"      # refused, unanswered in time, or a bad Events mask
    RESYNCED = "resynced"              # every resync hook has run
    LOST = "lost"                      # the connection the link holds has closed
    RETRY = "retry"                    # the backoff delay is over
    STOP = "stop"                      # stopService


class IllegalTransition(ValueError):
    """The event cannot happen in the link's state (a bug in the service, not the network)."""

    def __init__(self, state: LinkState, event: LinkEvent):
        super().__init__(f"the AMI link cannot {event} while {state}")
        self.state = state
        self.event = event


def step(state: LinkState, event: LinkEvent) -> LinkState:
    """The state after `event`, or IllegalTransition. Pure: nothing is changed or stored."""
    after = TRANSITIONS.get((state, event))
    if after is None:
        raise IllegalTransition(state, event)
    return after


# The states in which the link holds a logged-in connection that may be used.
LOGGED_IN = frozenset({LinkState.RESYNCING, LinkState.UP})

# --- the table ------------------------------------------------------------------------------

_S = LinkState
_E = LinkEvent

TRANSITIONS: dict[tuple[LinkState, LinkEvent], LinkState] = {
    # from              event               to
    (_S.STOPPED,        _E.START):          _S.CONNECTING,
    (_S.CONNECTING,     _E.CONNECTED):      _S.LOGGING_IN,
    (_S.CONNECTING,     _E.CONNECT_FAILED): _S.RECONNECT_WAIT,
    (_S.CONNECTING,     _E.STOP):           _S.STOPPED,     # the attempt is cancelled
    (_S.LOGGING_IN,     _E.LOGIN_ACCEPTED): _S.RESYNCING,
    (_S.LOGGING_IN,     _E.LOGIN_FAILED):   _S.RECONNECT_WAIT,  # the socket is aborted
    (_S.LOGGING_IN,     _E.LOST):           _S.RECONNECT_WAIT,
    (_S.LOGGING_IN,     _E.STOP):           _S.STOPPING,
    (_S.RESYNCING,      _E.RESYNCED):       _S.UP,
    (_S.RESYNCING,      _E.LOST):           _S.RECONNECT_WAIT,
    (_S.RESYNCING,      _E.STOP):           _S.STOPPING,
    (_S.UP,             _E.LOST):           _S.RECONNECT_WAIT,
    (_S.UP,             _E.STOP):           _S.STOPPING,
    (_S.RECONNECT_WAIT, _E.RETRY):          _S.CONNECTING,
    (_S.RECONNECT_WAIT, _E.STOP):           _S.STOPPED,     # the timer is cancelled
    (_S.STOPPING,       _E.LOST):           _S.STOPPED,
}
