"""Splitting the AMI byte stream into packets.

Asterisk sends one banner line with no blank line after it, then packets ended by an empty
line. Packets may be split across TCP segments anywhere (even inside a CRLF), may use bare
LF, and have no length limit: a 40 KB `Command` output must never cost us the connection,
so we never use a line receiver with a maximum length.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

BANNER_PREFIX = b"Asterisk Call Manager/"
# LF, optional CR, LF; the CR before the first LF is trimmed from the packet below. The
# pattern must start with a literal: with `\r?\n\r?\n` `re` tries a match at every byte.
_PACKET_END = re.compile(rb"\n\r?\n")
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
        self.skipped = 0
        self._clean_tail = True  # the unconsumed bytes hold no bare LF

    def feed(
        self, data: bytes, skip_event: Callable[[bytes], bool] | None = None
    ) -> Iterator[bytes]:
        """Add received bytes; yield the packets they complete, in order.

        `skip_event(name)` is asked, as each packet comes up, whether an `Event:` packet
        can be dropped unread; asking lazily matters, because handling one packet (a list
        response) can change the answer for the next one in the same segment.
        """
        # Only the new bytes are scanned for a bare LF; the kept tail was checked before.
        clean = self._clean_tail and data.count(b"\n") == data.count(b"\r\n")
        self._buffer += data
        if self._awaiting_banner and not self._take_banner():
            self._clean_tail = clean
            return
        if clean:
            yield from self._split_crlf(skip_event)
        else:
            yield from self._split_mixed(skip_event)

    def _split_crlf(self, skip_event: Callable[[bytes], bool] | None) -> Iterator[bytes]:
        """Fast path: every line ends in CRLF (what Asterisk sends), so a C split works."""
        *complete, rest = bytes(self._buffer).split(b"\r\n\r\n")
        self._buffer = bytearray(rest)
        self._searched = len(rest)
        for part in complete:
            if skip_event is not None and part.startswith(b"Event:"):
                newline = part.find(b"\r\n")
                if skip_event(part[6 : None if newline < 0 else newline].strip()):
                    self.skipped += 1
                    continue
            if part.strip(b"\r\n"):
                yield part.lstrip(b"\r\n")

    def _split_mixed(self, skip_event: Callable[[bytes], bool] | None) -> Iterator[bytes]:
        """Bare LF somewhere: find each blank line with a regex."""
        buffer = self._buffer
        start = 0
        search_from = max(0, self._searched - _OVERLAP)
        try:
            while True:
                match = _PACKET_END.search(buffer, search_from)
                if match is None:
                    break
                end = match.start()
                if end > start and buffer[end - 1] == 0x0D:  # the CR of "\r\n\r\n"
                    end -= 1
                packet_start, start = start, match.end()
                search_from = start
                if skip_event is not None and buffer.startswith(b"Event:", packet_start):
                    newline = buffer.find(b"\n", packet_start, end)
                    name = bytes(buffer[packet_start + 6 : end if newline < 0 else newline])
                    if skip_event(name.strip()):
                        self.skipped += 1
                        continue
                block = bytes(buffer[packet_start:end])
                if block.strip(b"\r\n"):
                    yield block.lstrip(b"\r\n")
        finally:
            if start:
                del buffer[:start]
            self._searched = len(buffer)
            self._clean_tail = buffer.count(b"\n") == buffer.count(b"\r\n")

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
