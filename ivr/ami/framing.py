"""Splitting the AMI byte stream into packets.

Asterisk sends one banner line with no blank line after it, then packets ended by an empty
line. Packets may be split across TCP segments anywhere (even inside a CRLF), may use bare
LF, and have no length limit: a 40 KB `Command` output must never cost us the connection,
so we never use a line receiver with a maximum length.
"""

from __future__ import annotations

import re

BANNER_PREFIX = b"Asterisk Call Manager/"
_PACKET_END = re.compile(rb"\r?\n\r?\n")
# A terminator is at most 4 bytes; keep 3 bytes of overlap when searching new data.
_OVERLAP = 3


class Framer:
    """Accumulates bytes and hands out complete packets as raw `bytes` blocks.

    Parsing is left to the caller, so packets nobody listens to can be dropped without
    decoding them.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._searched = 0
        self.banner: str | None = None
        self._awaiting_banner = True

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the packets they complete, in order."""
        self._buffer += data
        packets: list[bytes] = []
        if self._awaiting_banner and not self._take_banner():
            return packets
        buffer = self._buffer
        start = 0
        search_from = max(0, self._searched - _OVERLAP)
        while True:
            match = _PACKET_END.search(buffer, search_from)
            if match is None:
                break
            block = bytes(buffer[start : match.start()])
            start = search_from = match.end()
            if block.strip(b"\r\n"):
                packets.append(block.lstrip(b"\r\n"))
        if start:
            del buffer[:start]
        self._searched = len(buffer)
        return packets

    def _take_banner(self) -> bool:
        newline = self._buffer.find(b"\n")
        if newline < 0:
            return False
        line = bytes(self._buffer[:newline]).rstrip(b"\r")
        if line.startswith(BANNER_PREFIX):
            self.banner = line.decode("utf-8", "replace")
            del self._buffer[: newline + 1]
        # Anything else means the peer skipped the banner: parse it as a packet.
        self._awaiting_banner = False
        return True

    @property
    def version(self) -> str | None:
        """The AMI protocol version from the banner, e.g. '10.0.0' for Asterisk 22."""
        if self.banner is None:
            return None
        return self.banner[len(BANNER_PREFIX) :]

    def pending_bytes(self) -> int:
        return len(self._buffer)


def peek_event_name(block: bytes) -> bytes | None:
    """The `Event:` value of a packet if it is its first header, without full parsing.

    Asterisk always writes `Event:` first; anything else falls back to full parsing.
    """
    if block[:6].lower() != b"event:":
        return None
    end = block.find(b"\n")
    line = block[6:] if end < 0 else block[6:end]
    return line.strip()
