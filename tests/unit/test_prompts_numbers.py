"""Numbers, digits and times spoken from fragments, in Indonesian and English."""

from __future__ import annotations

import pytest

from ivr.prompts.numbers import (
    FRAGMENTS,
    fragment_file,
    say_digits,
    say_number,
    say_time,
)


def spoken(ids: list[str], language: str) -> str:
    """What the caller hears: the fragments' texts joined with spaces."""
    return " ".join(FRAGMENTS[language][i] for i in ids)


INDONESIAN = [
    (0, "nol"),
    (1, "satu"),
    (9, "sembilan"),
    (10, "sepuluh"),
    (11, "sebelas"),
    (12, "dua belas"),
    (19, "sembilan belas"),
    (20, "dua puluh"),
    (21, "dua puluh satu"),
    (30, "tiga puluh"),
    (99, "sembilan puluh sembilan"),
    (100, "seratus"),
    (101, "seratus satu"),
    (110, "seratus sepuluh"),
    (111, "seratus sebelas"),
    (112, "seratus dua belas"),
    (120, "seratus dua puluh"),
    (200, "dua ratus"),
    (210, "dua ratus sepuluh"),
    (999, "sembilan ratus sembilan puluh sembilan"),
]

ENGLISH = [
    (0, "zero"),
    (1, "one"),
    (9, "nine"),
    (10, "ten"),
    (11, "eleven"),
    (12, "twelve"),
    (19, "nineteen"),
    (20, "twenty"),
    (21, "twenty one"),
    (99, "ninety nine"),
    (100, "one hundred"),
    (101, "one hundred one"),
    (110, "one hundred ten"),
    (111, "one hundred eleven"),
    (200, "two hundred"),
    (215, "two hundred fifteen"),
    (999, "nine hundred ninety nine"),
]


@pytest.mark.parametrize(("n", "text"), INDONESIAN)
def test_indonesian_numbers(n: int, text: str) -> None:
    assert spoken(say_number(n, "id"), "id") == text


@pytest.mark.parametrize(("n", "text"), ENGLISH)
def test_english_numbers(n: int, text: str) -> None:
    assert spoken(say_number(n, "en"), "en") == text


def test_fragment_ids_are_values_not_words() -> None:
    assert say_number(21, "id") == ["num-2", "num-x10", "num-1"]
    assert say_number(21, "en") == ["num-20", "num-1"]
    assert say_number(100, "id") == say_number(100, "en") == ["num-100"]
    assert say_number(300, "id") == say_number(300, "en") == ["num-3", "num-x100"]
    assert fragment_file("num-7") == "pln123/num-7"


@pytest.mark.parametrize("language", ["id", "en"])
def test_every_number_uses_only_that_languages_fragments(language: str) -> None:
    table = FRAGMENTS[language]
    used = set()
    for n in range(1000):
        ids = say_number(n, language)
        assert ids and all(i in table for i in ids), (n, ids)
        used.update(ids)
    for hour in range(24):
        for minute in range(60):
            ids = say_time(hour, minute, language)
            assert all(i in table for i in ids), (hour, minute, ids)
            used.update(ids)
    # Nothing in the table is dead weight: each fragment is rendered for a reason.
    assert used == set(table)


@pytest.mark.parametrize("language", ["id", "en"])
def test_numbers_are_distinct(language: str) -> None:
    heard = [spoken(say_number(n, language), language) for n in range(1000)]
    assert len(set(heard)) == 1000


@pytest.mark.parametrize("bad", [-1, 1000, 12345, True, 1.0, "5"])
@pytest.mark.parametrize("language", ["id", "en"])
def test_number_out_of_range_or_not_int(bad: object, language: str) -> None:
    with pytest.raises(ValueError, match="say_number"):
        say_number(bad, language)  # type: ignore[arg-type]


def test_unknown_language_is_refused() -> None:
    for call in (lambda: say_number(1, "jv"), lambda: say_digits("1", "fr"),
                 lambda: say_time(1, 0, "de")):
        with pytest.raises(ValueError, match="no number fragments"):
            call()


@pytest.mark.parametrize("language", ["id", "en"])
def test_digits(language: str) -> None:
    ids = say_digits("071100012345", language)
    assert ids == ["num-0", "num-7", "num-1", "num-1", "num-0", "num-0", "num-0",
                   "num-1", "num-2", "num-3", "num-4", "num-5"]
    assert len(ids) == 12


def test_digits_spoken() -> None:
    assert spoken(say_digits("1090", "id"), "id") == "satu nol sembilan nol"
    assert spoken(say_digits("1090", "en"), "en") == "one zero nine zero"


@pytest.mark.parametrize("bad", ["", "12#", "*1", "1 2", "12a", "٣", "1\n"])
def test_digits_refuse_anything_but_0_to_9(bad: str) -> None:
    with pytest.raises(ValueError, match="say_digits"):
        say_digits(bad, "id")


TIMES = [
    (18, 30, "delapan belas tiga puluh", "eighteen thirty"),
    (18, 0, "delapan belas tepat", "eighteen o'clock"),
    (18, 5, "delapan belas nol lima", "eighteen oh five"),
    (9, 45, "sembilan empat puluh lima", "nine forty five"),
    (0, 0, "nol tepat", "zero o'clock"),
    (0, 10, "nol sepuluh", "zero ten"),
    (10, 11, "sepuluh sebelas", "ten eleven"),
    (23, 59, "dua puluh tiga lima puluh sembilan", "twenty three fifty nine"),
]


@pytest.mark.parametrize(("hour", "minute", "indonesian", "english"), TIMES)
def test_times(hour: int, minute: int, indonesian: str, english: str) -> None:
    assert spoken(say_time(hour, minute, "id"), "id") == indonesian
    assert spoken(say_time(hour, minute, "en"), "en") == english


@pytest.mark.parametrize(("hour", "minute"), [(24, 0), (-1, 0), (12, 60), (12, -1),
                                              (True, 0), (12, 5.0)])
def test_time_out_of_range(hour: object, minute: object) -> None:
    with pytest.raises(ValueError, match="say_time"):
        say_time(hour, minute, "id")  # type: ignore[arg-type]
