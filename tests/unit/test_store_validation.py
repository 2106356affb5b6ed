"""The self-service input rules, on their own: what a dashboard, a log or a caller gets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acd.selfservice import validation


@pytest.mark.parametrize("code", ["021", "061", "0711", "0411", "09999"])
def test_area_codes_accepted(code: str) -> None:
    assert validation.area_code(code) == code


@pytest.mark.parametrize("code", ["", "0", "01", "711", "00711", "099999", "0711\n",
                                  " 0711", "07a1", "\u0660\u0667\u0661\u0661", "\uff10711"])
def test_area_codes_refused(code: str) -> None:
    with pytest.raises(ValueError, match="is not valid"):
        validation.area_code(code)


def test_area_code_lists_are_deduplicated_in_order_and_bounded() -> None:
    assert validation.area_codes(["0721", "0711", "0721"]) == ("0721", "0711")
    with pytest.raises(ValueError, match="at most 100"):
        validation.area_codes([f"0{n}" for n in range(100, 201)])
    with pytest.raises(ValueError, match="must be a string, not int"):
        validation.area_codes([711])


def test_free_text_is_stripped_and_single_line() -> None:
    assert validation.message("  Padam di Palembang  ") == "Padam di Palembang"
    assert validation.message("Pemulihan ± 2 jam — mohon maaf 🙏") == (
        "Pemulihan ± 2 jam — mohon maaf 🙏"
    )
    for bad in ("a\u2028b", "a\x85b", "a\u200bb", "a\x00b", "a\rb"):
        with pytest.raises(ValueError, match="control character"):
            validation.message(bad)


@given(st.text(max_size=600))
def test_accepted_messages_are_one_stripped_line_and_bounded(text: str) -> None:
    try:
        accepted = validation.message(text)
    except ValueError:
        return
    assert 0 < len(accepted) <= validation.MAX_MESSAGE
    assert accepted.splitlines() == [accepted] == [accepted.strip()]
    assert all(c.isprintable() or c.isspace() for c in accepted)


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_any_twelve_ascii_digits_are_an_idpel(digits: str) -> None:
    assert validation.idpel(digits) == digits


def test_epoch_seconds() -> None:
    assert validation.epoch_seconds(1_735_801_200, "t") == 1_735_801_200.0
    for bad in (True, "1735801200", float("inf"), -1, 0):
        with pytest.raises(ValueError):
            validation.epoch_seconds(bad, "t")


def test_ticket_status_and_caller_number() -> None:
    assert validation.ticket_status("resolved") == "resolved"
    assert validation.caller_number("+6281234567890") == "+6281234567890"
    assert validation.caller_number("anonymous") == "anonymous"
    with pytest.raises(ValueError):
        validation.caller_number("1" * 41)


@pytest.mark.parametrize(("sent", "recorded"), [
    ("081234567890", "081234567890"),
    ("+6281234567890", "+6281234567890"),
    (" +62 (812) 3456-7890 ", "+6281234567890"),
    ("0812 3456", "08123456"),
    ("<0812>", "0812"),
    ("62+812", "62812"),           # a + only counts first
    ("0812\r\nAction: x", "0812"),
    ("1" * 20, "1" * 20),
    ("1" * 21, ""),                # too long: unknown rather than cut to a wrong number
    ("1 " * 40, ""),
    ("anonymous", ""),
    ("unknown", ""),
    ("", ""),
    ("+", ""),
    ("\u0660\u0661\u0662", ""),   # Arabic-Indic digits are not ASCII digits
])
def test_ticket_caller_number_is_cleaned_never_refused(sent: str, recorded: str) -> None:
    assert validation.ticket_caller_number(sent) == recorded
    assert validation.caller_number(recorded) == recorded


def test_ticket_fields_refuse_what_the_system_got_wrong() -> None:
    good = {"idpel": "512345678901", "area_code": "0711", "category": "padam",
            "caller_number": "0811 2233 <x>", "site": "palembang", "call_id": "c-1"}
    assert validation.ticket_fields(**good) == {**good, "caller_number": "08112233"}
    for name, bad in (("idpel", "5123"), ("area_code", "711"), ("category", "Padam"),
                      ("site", ""), ("call_id", "a b"), ("caller_number", None)):
        with pytest.raises(ValueError):
            validation.ticket_fields(**{**good, name: bad})
