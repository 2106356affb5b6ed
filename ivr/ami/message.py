"""The AMI message model: an ordered list of headers, decoded lazily from the wire bytes.

AMI headers repeat (`Output:`, `Variable:`, `ChanVariable:`) and their order matters, so a
dict is the wrong model (it is how starpy and asterisk-ami lose data). Keys compare
case-insensitively. Values are decoded as UTF-8 with `surrogateescape`, so invalid bytes
survive a round trip and never raise; values Asterisk C-escapes (caller names, channel
variables, VarSet values) are unescaped on lookup, so a `\\r\\n` in a caller name arrives
as data, never as a line break.
"""

from __future__ import annotations

from collections.abc import Iterator
from operator import itemgetter

WIRE_ENCODING = "utf-8"
WIRE_ERRORS = "surrogateescape"

# Keys whose values Asterisk writes through ast_escape_c (manager.c, since 2015).
_ESCAPED_SUFFIXES = ("calleridname", "connectedlinename")
_ESCAPED_PREFIXES = ("chanvariable",)

_C_ESCAPES = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}


_KEY = itemgetter(0)


def c_unescape(value: str) -> str:
    """Undo Asterisk's ast_escape_c; an unknown escape keeps its backslash."""
    if "\\" not in value:
        return value
    out: list[str] = []
    i = 0
    length = len(value)
    while i < length:
        char = value[i]
        if char == "\\" and i + 1 < length:
            replacement = _C_ESCAPES.get(value[i + 1])
            if replacement is not None:
                out.append(replacement)
                i += 2
                continue
        out.append(char)
        i += 1
    return "".join(out)


def is_c_escaped(key: str, event: str | None) -> bool:
    lowered = key.lower()
    if lowered.endswith(_ESCAPED_SUFFIXES) or lowered.startswith(_ESCAPED_PREFIXES):
        return True
    return lowered == "value" and event is not None and event.lower() == "varset"


class Message:
    """One AMI packet: a response, an event, or (outbound) an action.

    Built from raw header lines; lookups return strings, with C-escaped values decoded.
    """

    __slots__ = ("_event", "_headers", "_index", "_keys", "unparsed")

    def __init__(self, headers: list[tuple[str, str]], unparsed: list[str] | None = None):
        self._headers = headers
        self.unparsed = unparsed or []
        self._index: dict[str, int] | None = None  # lowered key -> its first position
        self._keys: list[str] = []  # every key, lowered, in wire order
        self._event: str | None = None
        for key, value in headers:
            if key.lower() == "event":
                self._event = value
                break

    @classmethod
    def from_wire(cls, block: bytes) -> Message:
        """Parse one packet (without its terminating blank line) from the wire.

        Lines end with CRLF or a bare LF; a line without a colon is kept in `unparsed`
        rather than dropped, so nothing Asterisk sent is silently lost.
        """
        text = block.decode(WIRE_ENCODING, WIRE_ERRORS)
        if "\r" in text:  # CRLF -> LF once, not a test and a slice per line
            text = text.replace("\r\n", "\n")
            if text.endswith("\r"):
                text = text[:-1]
        headers: list[tuple[str, str]] = []
        append = headers.append
        unparsed: list[str] = []
        for line in text.split("\n"):
            key, sep, value = line.partition(":")
            if sep:
                append((key.strip(), value[1:] if value[:1] == " " else value))
            elif line:
                unparsed.append(line)
        return cls(headers, unparsed)

    def _lookup(self) -> dict[str, int]:
        if self._index is None:
            # Built once per message, at its first look-up, in C: the keys lowered, and a
            # dict filled from the last header back so that each key keeps its first.
            keys = self._keys = list(map(str.lower, map(_KEY, self._headers)))
            self._index = dict(zip(reversed(keys), range(len(keys) - 1, -1, -1),
                                   strict=True))
        return self._index

    def _decoded(self, position: int) -> str:
        key, value = self._headers[position]
        if "\\" in value and is_c_escaped(key, self._event):  # no backslash: nothing to undo
            return c_unescape(value)
        return value

    def get(self, key: str, default: str | None = None) -> str | None:
        """The first value of `key` (case-insensitive), decoded."""
        index = self._index if self._index is not None else self._lookup()
        position = index.get(key.lower())
        if position is None:
            return default
        return self._decoded(position)

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._lookup()

    def getall(self, key: str) -> list[str]:
        """Every value of `key` in wire order, decoded."""
        lowered = key.lower()
        if lowered not in self._lookup():
            return []
        return [self._decoded(p) for p, k in enumerate(self._keys) if k == lowered]

    def items(self) -> Iterator[tuple[str, str]]:
        """Every header in wire order, values decoded."""
        for position, (key, _value) in enumerate(self._headers):
            yield key, self._decoded(position)

    def raw_items(self) -> list[tuple[str, str]]:
        return list(self._headers)

    @property
    def event(self) -> str | None:
        return self._event

    @property
    def response(self) -> str | None:
        return self.get("Response")

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    def is_success(self) -> bool:
        response = self.response
        return response is not None and response.lower() in ("success", "goodbye", "follows")

    def to_dict(self) -> dict[str, str | list[str]]:
        """A JSON-friendly view for logs and transcripts; repeated keys become lists."""
        out: dict[str, str | list[str]] = {}
        for key, value in self.items():
            previous = out.get(key)
            if previous is None:
                out[key] = value
            elif isinstance(previous, list):
                previous.append(value)
            else:
                out[key] = [previous, value]
        return out

    def __repr__(self) -> str:
        kind = f"event={self._event!r}" if self._event else f"response={self.response!r}"
        return f"<Message {kind} headers={len(self._headers)}>"
