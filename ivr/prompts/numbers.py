"""Numbers, digit strings and clock times spoken from short recorded fragments.

A caller hears their 12-digit customer number read back, a ticket number and the time power
is expected back. Rendering a whole sentence per number is impossible (the numbers are not
known in advance), so the IVR plays a sequence of fragment files, one word each, exactly as
Asterisk's own `SayNumber` does with `digits/*`. We do not use `SayNumber`: Asterisk 22
has no Indonesian number grammar, and our fragments come from the same voice as the prompts.

Fragment ids name a *value or role*, not a word, so the same id means the same thing in
every language and only its text differs (the channel's language picks the folder):

| id | Indonesian | English | role |
|---|---|---|---|
| `num-0` ... `num-9` | nol ... sembilan | zero ... nine | digits (also `say_digits`) |
| `num-10`, `num-11` | sepuluh, sebelas | ten, eleven | the se- forms in Indonesian |
| `num-12` ... `num-19` | — | twelve ... nineteen | English teens |
| `num-20` ... `num-90` | — | twenty ... ninety | English tens |
| `num-100` | seratus | one hundred | exactly one hundred |
| `num-teen` | belas | — | "dua belas" = [num-2, num-teen] |
| `num-x10` | puluh | — | "dua puluh" = [num-2, num-x10] |
| `num-x100` | ratus | hundred | "dua ratus" / "two hundred" = [num-2, num-x100] |
| `time-oclock` | tepat | o'clock | a time on the hour |
| `time-oh` | — | oh | "eighteen oh five" |

Conventions (fixed here so tests and recordings agree):
- English follows the American form without "and": 121 = "one hundred twenty one".
- Times use the 24-hour clock in both languages, as PLN announces them (WIB). The word
  "pukul" / "at" is *not* a fragment: it ends the catalogue prompt `outage-restore-at`
  ("... menyala kembali pukul"), so `say_time` returns only the hour and minute.
  18:30 = "delapan belas tiga puluh" / "eighteen thirty"; 18:00 = "delapan belas tepat" /
  "eighteen o'clock"; 18:05 = "delapan belas nol lima" / "eighteen oh five".

Every id maps to the file `pln123/<id>` under the language's sounds folder
(`<sounds>/<lang>/pln123/<id>.wav`), built by `pln123 prompts build`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ivr.prompts.catalogue import SOUND_FOLDER

MAX_NUMBER = 999
DIGITS = frozenset("0123456789")

_ID_WORDS = ("nol", "satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan",
             "sembilan")
_EN_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
             "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
             "seventeen", "eighteen", "nineteen")
_EN_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")

_INDONESIAN: dict[str, str] = {
    **{f"num-{n}": word for n, word in enumerate(_ID_WORDS)},
    "num-10": "sepuluh",
    "num-11": "sebelas",
    "num-100": "seratus",
    "num-teen": "belas",
    "num-x10": "puluh",
    "num-x100": "ratus",
    "time-oclock": "tepat",
}
_ENGLISH: dict[str, str] = {
    **{f"num-{n}": word for n, word in enumerate(_EN_WORDS)},
    **{f"num-{10 * (n + 2)}": word for n, word in enumerate(_EN_TENS)},
    "num-100": "one hundred",
    "num-x100": "hundred",
    "time-oclock": "o'clock",
    "time-oh": "oh",
}

FRAGMENTS: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "id": MappingProxyType(_INDONESIAN),
    "en": MappingProxyType(_ENGLISH),
})
"""language -> fragment id -> the text the voice speaks for it."""

SUPPORTED_LANGUAGES: tuple[str, ...] = tuple(FRAGMENTS)


def fragment_file(fragment_id: str) -> str:
    """What Playback/STREAM FILE takes for a fragment: `pln123/<id>`, no extension."""
    return f"{SOUND_FOLDER}/{fragment_id}"


def say_number(n: int, language: str) -> list[str]:
    """The fragment ids that speak `n` (0-999) in `language`, e.g. 21/id -> num-2 num-x10 num-1.

    Raises ValueError for a number out of range (the IVR never needs more: ticket and
    customer numbers are read digit by digit) and for a language without fragments.
    """
    _check_language(language)
    if isinstance(n, bool) or not isinstance(n, int):
        raise ValueError(f"say_number needs an int, not {n!r}")
    if not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"say_number speaks 0-{MAX_NUMBER}, not {n}")
    if n == 0:
        return ["num-0"]
    speak = _indonesian_below_100 if language == "id" else _english_below_100
    hundreds, rest = divmod(n, 100)
    out: list[str] = []
    if hundreds == 1:
        out.append("num-100")  # seratus / one hundred
    elif hundreds > 1:
        out += [f"num-{hundreds}", "num-x100"]
    if rest:
        out += speak(rest)
    return out


def say_digits(text: str, language: str) -> list[str]:
    """One fragment per digit ("0711" -> num-0 num-7 num-1 num-1), for IDPEL and tickets.

    Only 0-9: `#` and `*` are keys, not digits, and reading them back would mean the caller
    typed something the IVR should have refused already.
    """
    _check_language(language)
    if not text:
        raise ValueError("say_digits needs at least one digit")
    bad = sorted({c for c in text if c not in DIGITS})
    if bad:
        raise ValueError(f"say_digits speaks only 0-9, not {''.join(bad)!r} in {text!r}")
    return [f"num-{c}" for c in text]


def say_time(hour: int, minute: int, language: str) -> list[str]:
    """A 24-hour clock time, without "pukul"/"at" (see the module docstring).

    18:30 -> delapan belas tiga puluh; 18:00 -> delapan belas tepat; 18:05 -> delapan belas
    nol lima. English: eighteen thirty / eighteen o'clock / eighteen oh five.
    """
    _check_language(language)
    for name, value, top in (("hour", hour, 23), ("minute", minute, 59)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
            raise ValueError(f"say_time: {name} must be 0-{top}, not {value!r}")
    out = say_number(hour, language)
    if minute == 0:
        out.append("time-oclock")
    elif minute < 10:
        out += ["num-0" if language == "id" else "time-oh", f"num-{minute}"]
    else:
        out += say_number(minute, language)
    return out


def _indonesian_below_100(n: int) -> list[str]:
    if n < 10:
        return [f"num-{n}"]
    if n in (10, 11):
        return [f"num-{n}"]  # sepuluh, sebelas
    if n < 20:
        return [f"num-{n - 10}", "num-teen"]  # dua belas ... sembilan belas
    tens, units = divmod(n, 10)
    out = [f"num-{tens}", "num-x10"]
    return [*out, f"num-{units}"] if units else out


def _english_below_100(n: int) -> list[str]:
    if n < 20:
        return [f"num-{n}"]
    tens, units = divmod(n, 10)
    out = [f"num-{10 * tens}"]
    return [*out, f"num-{units}"] if units else out


def _check_language(language: str) -> None:
    if language not in FRAGMENTS:
        supported = ", ".join(SUPPORTED_LANGUAGES)
        raise ValueError(f"no number fragments for language {language!r} (have: {supported})")
