"""Serialising AMI actions, refusing anything that could smuggle a second action.

A value containing CR or LF ends the header early and a blank line starts a new action that
runs with this session's rights (`agi` write is shell-equivalent), so every key and value is
validated and a bad one raises before a single byte is written. We reject rather than strip:
silently altered input hides the attack and the bug.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from ivr.ami.message import WIRE_ENCODING, WIRE_ERRORS

MAX_LINE_BYTES = 1022  # manager.c: 1024 including CRLF
MAX_HEADER_LINES = 128
MAX_VARIABLE_PAIRS = 64
MAX_CHANNEL_NAME = 80  # AST_CHANNEL_NAME
# Every ActionID a pln123 process sends starts with this (then its own random part): the
# AMI user's event filter lets through only the OriginateResponses of pln123's Originates.
ACTION_ID_PREFIX = "pln123-"

_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")
_FORBIDDEN = re.compile("[\r\n\x00]")
_CHANNEL_KEYS = frozenset({"channel", "channel1", "channel2", "extrachannel"})
# A channel name (Tech/resource, Local's ;1/;2) or a uniqueid/ChannelId, which Asterisk
# accepts wherever it looks a channel up by name.
_CHANNEL = re.compile(r"(?:[A-Za-z0-9_+-]+/[^\s,;]+(?:;[12])?|[A-Za-z0-9._-]+)\Z")
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_()]*\Z")
_UNESCAPED_COMMA = re.compile(r"(?<!\\)(?:\\\\)*,")

Fields = Mapping[str, str] | Sequence[tuple[str, str]]


class ActionRejected(ValueError):
    """An action that would be unsafe or that Asterisk would refuse; nothing was sent."""

    def __init__(self, reason: str, key: str | None = None):
        self.reason = reason
        self.key = key
        super().__init__(f"{key}: {reason}" if key else reason)


def escape_variable_value(value: str) -> str:
    """Escape a value for one `name=value` pair inside a `Variable:` header."""
    return value.replace("\\", "\\\\").replace(",", "\\,")


def variable_header(pairs: Mapping[str, str]) -> str:
    """Build a `Variable:` value from name/value pairs, escaping the values' commas."""
    return ",".join(f"{name}={escape_variable_value(value)}" for name, value in pairs.items())


def _check_variable(value: str) -> None:
    # Each unescaped comma separates two pairs; the caller must escape commas in values.
    pairs = _UNESCAPED_COMMA.split(value)
    if len(pairs) > MAX_VARIABLE_PAIRS:
        raise ActionRejected(
            f"{len(pairs)} pairs in one header; Asterisk takes {MAX_VARIABLE_PAIRS}", "Variable"
        )
    for pair in pairs:
        name, sep, _value = pair.partition("=")
        if not sep or not _VARIABLE_NAME.match(name):
            raise ActionRejected(
                f"{pair!r} is not name=value (escape commas inside values with "
                "escape_variable_value)",
                "Variable",
            )


# Actions whose `Variable:` headers carry name=value pairs (Getvar/Setvar carry one name).
_PAIR_VARIABLE_ACTIONS = frozenset({"originate"})


def _check_field(key: str, value: str, action: str) -> None:
    if not _KEY.match(key):
        raise ActionRejected(f"key {key!r} is not [A-Za-z0-9_-]+", key[:40] or "<empty>")
    if _FORBIDDEN.search(value):
        raise ActionRejected("value contains CR, LF or NUL", key)
    lowered = key.lower()
    if lowered in _CHANNEL_KEYS:
        if len(value) > MAX_CHANNEL_NAME or not _CHANNEL.match(value):
            raise ActionRejected(f"{value[:100]!r} is not a channel name", key)
    elif lowered == "variable" and action.lower() in _PAIR_VARIABLE_ACTIONS:
        _check_variable(value)


def _as_pairs(fields: Fields | None) -> Iterable[tuple[str, str]]:
    if fields is None:
        return ()
    if isinstance(fields, Mapping):
        return fields.items()
    return fields


def encode_action(name: str, action_id: str, fields: Fields | None = None) -> bytes:
    """The wire bytes of one action, or ActionRejected and nothing at all."""
    pairs = list(_as_pairs(fields))
    fast = _encode_plain(name, action_id, pairs)
    if fast is not None:
        return fast
    encoded = _encode_checked(name, action_id, pairs)
    if len(_GOOD_KEYS) < _GOOD_KEYS_MAX:
        _GOOD_KEYS.update(key for key, _value in pairs)
    return encoded


# Field keys of actions already encoded: well formed, and never Action/ActionID. They come
# from code, so there are few; bounded all the same.
_GOOD_KEYS: set[str] = set()
_GOOD_KEYS_MAX = 256
# No line this short can pass MAX_LINE_BYTES, at 4 UTF-8 bytes a character at worst.
_SURE_LINE_CHARS = MAX_LINE_BYTES // 4


def _clean(value: object) -> bool:
    return isinstance(value, str) and "\r" not in value and "\n" not in value \
        and "\x00" not in value


def _encode_plain(name: str, action_id: str, pairs: list[tuple[str, str]]) -> bytes | None:
    """The common case (keys seen before, short clean values) without the per-line checks'
    cost: every action is encoded per AGI command. None when any check could fail: then
    `_encode_checked` runs every check in order and says what is wrong."""
    if len(pairs) + 2 > MAX_HEADER_LINES or not (_clean(name) and _clean(action_id)):
        return None
    pair_variables = name.lower() in _PAIR_VARIABLE_ACTIONS
    lines = [f"Action: {name}", f"ActionID: {action_id}"]
    for key, value in pairs:
        if key not in _GOOD_KEYS or not _clean(value):
            return None
        lowered = key.lower()
        if lowered in _CHANNEL_KEYS:
            if len(value) > MAX_CHANNEL_NAME or not _CHANNEL.match(value):
                return None
        elif lowered == "variable" and pair_variables:
            return None
        line = f"{key}: {value}"
        if len(line) > _SURE_LINE_CHARS:
            return None
        lines.append(line)
    if len(lines[0]) > _SURE_LINE_CHARS or len(lines[1]) > _SURE_LINE_CHARS:
        return None
    lines.append("\r\n")
    try:
        return "\r\n".join(lines).encode(WIRE_ENCODING, WIRE_ERRORS)
    except UnicodeEncodeError:
        return None


def _encode_checked(name: str, action_id: str, pairs: list[tuple[str, str]]) -> bytes:
    lines = [("Action", name), ("ActionID", action_id)]
    for key, value in pairs:
        if not isinstance(value, str):
            raise ActionRejected(f"value must be str, not {type(value).__name__}", key)
        if key.lower() in ("action", "actionid"):
            raise ActionRejected("set by the client, not by the caller", key)
        lines.append((key, value))
    if len(lines) > MAX_HEADER_LINES:
        raise ActionRejected(f"{len(lines)} header lines; Asterisk takes {MAX_HEADER_LINES}")
    out = bytearray()
    for key, value in lines:
        _check_field(key, value, name)
        try:
            line = f"{key}: {value}".encode(WIRE_ENCODING, WIRE_ERRORS)
        except UnicodeEncodeError as err:
            raise ActionRejected("value is not encodable as UTF-8", key) from err
        if len(line) > MAX_LINE_BYTES:
            raise ActionRejected(f"line of {len(line)} bytes; Asterisk takes {MAX_LINE_BYTES}", key)
        out += line + b"\r\n"
    out += b"\r\n"
    return bytes(out)
