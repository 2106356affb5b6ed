"""A tiny blocking AMI conversation for tooling: readiness checks and test set-up.

It is deliberately not pln123's AMI client (ivr.ami): it serves the sandbox and the tests
that must talk to Asterisk independently of the client under test. It still refuses CR, LF
and NUL in what it sends, so test code cannot inject actions by accident either.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping

from tools.sandbox.errors import SandboxError

BANNER_PREFIX = b"Asterisk Call Manager/"
PROBE_PREFIX = "probe-"  # the ActionIDs of tooling sessions (not pln123's, ivr.ami.actions)

Message = dict[str, str]


class RawAmi:
    """One blocking AMI session on 127.0.0.1; messages are plain dicts."""

    def __init__(self, port: int, timeout: float = 5.0, host: str = "127.0.0.1", *,
                 action_id_prefix: str = PROBE_PREFIX) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.action_id_prefix = action_id_prefix
        self._buffer = b""
        self._partial: Message = {}
        self.banner = self._read_line()
        if not self.banner.startswith(BANNER_PREFIX):
            self.close()
            raise SandboxError(f"port {port} answered {self.banner[:80]!r}, not AMI")

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawAmi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, action: str, fields: Mapping[str, str] | None = None) -> None:
        lines = [f"Action: {action}", *(f"{k}: {v}" for k, v in (fields or {}).items())]
        for line in lines:
            if any(c in line for c in "\r\n\0"):
                raise ValueError(f"control character in AMI line {line!r}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

    def read_message(self) -> Message:
        """The next message; a socket timeout keeps what was read for the next call."""
        while True:
            line = self._read_line()
            if not line:
                if self._partial:
                    message, self._partial = self._partial, {}
                    return message
                continue
            key, _, value = line.decode("utf-8", "replace").partition(":")
            key, value = key.strip(), value.strip()
            # Repeated keys (Command's Output:) are joined with newlines.
            self._partial[key] = f"{self._partial[key]}\n{value}" if key in self._partial else value

    def action(self, action: str, fields: Mapping[str, str] | None = None) -> Message:
        """Send an action and return its response, skipping events that arrive before it."""
        action_id = f"{self.action_id_prefix}{time.monotonic_ns()}"
        self.send(action, {**(fields or {}), "ActionID": action_id})
        while True:
            message = self.read_message()
            if message.get("ActionID") == action_id and "Response" in message:
                return message

    def login(self, username: str, secret: str, events: str = "on") -> None:
        response = self.action("Login", {"Username": username, "Secret": secret, "Events": events})
        if response.get("Response") != "Success":
            raise SandboxError(f"AMI login as {username} failed: {response.get('Message')}")

    def wait_event(self, name: str, timeout: float, **match: str) -> Message:
        """The next event called `name` whose fields include `match`, within `timeout` s."""
        deadline = time.monotonic() + timeout
        previous = self.sock.gettimeout()
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {name} event {match} within {timeout} s")
                self.sock.settimeout(left)
                try:
                    message = self.read_message()
                except TimeoutError:
                    continue
                if message.get("Event", "").lower() != name.lower():
                    continue
                if all(message.get(k) == v for k, v in match.items()):
                    return message
        finally:
            self.sock.settimeout(previous)

    def command(self, command: str) -> str:
        """CLI output of an AMI `Command` (needs the `command` write class)."""
        response = self.action("Command", {"Command": command})
        if response.get("Response") != "Success":
            raise SandboxError(f"Command {command!r} failed: {response.get('Message')}")
        return response.get("Output", "")

    def _read_line(self) -> bytes:
        while b"\n" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("AMI connection closed")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.rstrip(b"\r")
