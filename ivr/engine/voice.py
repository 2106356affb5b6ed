"""Speaking to the caller and hearing keys: prompts with barge-in, digit collection.

Prompts are played as `pln123/<id>`; Asterisk picks `<sounds>/<language>/pln123/<id>`
from the channel's language, which `set_language` changes, so one prompt id serves every
language and admins can drop recordings in place of the synthesised files.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.engine.channel import CallChannel
from ivr.prompts.numbers import say_digits, say_time

ALL_KEYS = "0123456789*#"
PROMPT_DIR = "pln123"
# Keys typed ahead are discarded until the keypad has been quiet this long: longer than
# the gap between two keys of one burst, short enough to pass unnoticed before a prompt.
TYPE_AHEAD_QUIET_MS = 1000
# A keypad that is never quiet (a burst without end, a stuck or noisy line) is given up on
# after this many keys: then nothing it sends can be taken as the caller's answer.
TYPE_AHEAD_MAX_KEYS = 30


def prompt_file(prompt_id: str) -> str:
    return f"{PROMPT_DIR}/{prompt_id}"


@dataclass(frozen=True)
class Heard:
    """What the caller keyed in: digits, and whether the wait ran out first."""

    digits: str
    timed_out: bool

    @property
    def nothing(self) -> bool:
        return not self.digits


@dataclass(frozen=True)
class Flushed:
    """Keys typed ahead and discarded; `quiet` once no more came, False if they never stopped."""

    discarded: int
    quiet: bool


@dataclass(frozen=True)
class Answer:
    """A yes/no answer: the key, pressed after the question began, and what was discarded."""

    key: str
    flushed: Flushed


class Voice:
    def __init__(self, channel: CallChannel, language: str):
        self.channel = channel
        self.language = language

    async def set_language(self, language: str) -> None:
        self.language = language
        await self.channel.set_variable("CHANNEL(language)", language)

    async def play(self, prompt_ids: list[str], barge_in: bool = True) -> str | None:
        """Play prompts in order; a key pressed stops them and is returned."""
        for prompt_id in prompt_ids:
            result = await self.channel.stream_file(
                prompt_file(prompt_id), ALL_KEYS if barge_in else ""
            )
            if result.digit is not None:
                return result.digit
        return None

    async def ask(
        self, prompt_ids: list[str], timeout_s: float, max_digits: int
    ) -> Heard:
        """Play prompts (interruptible) and collect up to `max_digits` keys; `#` ends early.

        All but the last prompt are streamed with every key as an escape, so a caller who
        knows the menu does not have to wait; the last prompt is GET DATA's own.
        """
        *leading, last = prompt_ids
        first = await self.play(leading) if leading else None
        if first is not None:
            if max_digits == 1:
                return Heard(first, False)
            if first == "#":
                return Heard("", False)
            rest = await self.channel.get_data("silence/1", int(timeout_s * 1000),
                                               max_digits - 1)
            return Heard(first + rest.digits, rest.timed_out)
        result = await self.channel.get_data(prompt_file(last), int(timeout_s * 1000),
                                             max_digits)
        if max_digits == 1 and not result.digits and not result.timed_out:
            return Heard("#", False)  # GET DATA ends on # and leaves it out of the result
        return Heard(result.digits, result.timed_out)

    async def flush(self) -> Flushed:
        """Discard every key pressed so far, until the keypad has been quiet a moment.

        A caller may key a whole call's worth of answers in one burst; its keys arrive for
        seconds after, and Asterisk gives each to whatever command is running when it
        arrives. Taking them one at a time (WAIT FOR DIGIT) until none comes for a moment
        is what empties the burst, so that the next question hears only new keys.
        """
        discarded = 0
        while discarded < TYPE_AHEAD_MAX_KEYS:
            result = await self.channel.execute("WAIT FOR DIGIT", TYPE_AHEAD_QUIET_MS)
            if result.digit is None:
                return Flushed(discarded, True)
            discarded += 1
        return Flushed(discarded, False)

    async def confirm(self, prompt_ids: list[str], timeout_s: float) -> Answer:
        """Ask a yes/no question whose answer is only a key pressed once it has begun.

        Keys typed ahead are discarded first, so a burst can never answer for the caller;
        if they never stop, the question is not asked at all and the answer is no key.
        """
        flushed = await self.flush()
        if not flushed.quiet:
            return Answer("", flushed)
        heard = await self.ask(prompt_ids, timeout_s, 1)
        return Answer(heard.digits, flushed)

    def digits_prompts(self, digits: str) -> list[str]:
        return say_digits(digits, self.language)

    def time_prompts(self, hour: int, minute: int) -> list[str]:
        return say_time(hour, minute, self.language)
