"""Audit entries become history rows: parsed without failing on a missing field, and folded
into one row per call the same way however often an entry is replayed."""

from __future__ import annotations

from typing import Any

from pln123.history.rows import AGENT, CALL, OTHER, Event, fold, parse_entry, stream_time

T0 = 1_735_801_200.0


def entry(event: str, call: str = "c1", at: float = T0, **extra: str) -> dict[str, str]:
    return {"event": event, "site": "palembang", "call": call, "agent": "", "skill": "billing",
            "state": extra.pop("state", ""), "at": f"{at:.3f}", **extra}


def folded(*entries: dict[str, str]) -> dict[str, Any]:
    row = None
    for index, fields in enumerate(entries):
        row = fold(row, parse_entry("palembang", f"{index}-0", fields))
    assert row is not None
    return row


def test_an_entry_is_parsed_by_what_it_is_about() -> None:
    answered = parse_entry("palembang", "5-0", entry(
        "answered", at=T0 + 12, agent="1101", agent_site="medan", wait_ms="12345", in_sl="1",
        state="connected"))
    assert (answered.subject, answered.wait_ms, answered.in_sl, answered.agent_site,
            answered.at) == (CALL, 12345, True, "medan", T0 + 12)
    pause = parse_entry("palembang", "6-0", {"event": "pause", "agent": "1101", "call": "",
                                             "state": "paused", "reason": "lunch",
                                             "subject": "agent", "at": "10.5"})
    assert (pause.subject, pause.reason, pause.call_id) == (AGENT, "lunch", "")
    board = parse_entry("palembang", "1765000000123-0",
                        {"event": "dashboard_pause", "supervisor": "nasional"})
    assert board.subject == OTHER
    assert board.at == stream_time("1765000000123-0") == 1765000000.123
    assert board.detail == {"supervisor": "nasional"}


def test_an_odd_entry_is_kept_rather_than_refused() -> None:
    odd = parse_entry("palembang", "7-0", {"event": "answered", "call": "c9", "at": "soon",
                                           "wait_ms": "x", "in_sl": "maybe"})
    assert (odd.at, odd.wait_ms, odd.in_sl) == (0.007, None, None)
    assert odd.row()["detail"] == "{}"


def test_an_answered_call_is_one_row() -> None:
    row = folded(
        entry("offered", state="new", caller_number="0711555", enqueued_at=f"{T0 - 3:.3f}",
              entered_at=f"{T0 - 20:.3f}", priority="5", region="Sumatera Selatan",
              area_code="0711", language="id", uniqueid="171.5", idpel="512345678901"),
        entry("queued", state="queued", at=T0),
        entry("pooled", at=T0 + 8, agent="2001", agent_site="medan", state="reserved"),
        entry("answered", at=T0 + 10, agent="2001", agent_site="medan", wait_ms="13000",
              in_sl="1", state="connected"),
        entry("finished", at=T0 + 70, agent="2001", agent_site="medan", state="finished"),
    )
    assert {k: row[k] for k in ("site", "caller_number", "region", "idpel", "priority",
                                "entered_at", "offered_at", "enqueued_at", "answered_at",
                                "ended_at", "wait_s", "in_sl", "talk_s", "outcome", "state",
                                "agent", "agent_site", "pooled_to")} == {
        "site": "palembang", "caller_number": "0711555", "region": "Sumatera Selatan",
        "idpel": "512345678901", "priority": 5, "entered_at": T0 - 20, "offered_at": T0,
        "enqueued_at": T0 - 3, "answered_at": T0 + 10, "ended_at": T0 + 70, "wait_s": 13.0,
        "in_sl": True, "talk_s": 60.0, "outcome": "answered", "state": "finished",
        "agent": "2001", "agent_site": "medan", "pooled_to": "medan"}
    assert row["recording_path"] is None and row["updated_at"] == T0 + 70


def test_abandons_fallbacks_and_callbacks() -> None:
    abandoned = folded(entry("offered", state="new"),
                       entry("abandoned", at=T0 + 31, wait_ms="31000", in_sl="0",
                             state="abandoned"))
    assert (abandoned["outcome"], abandoned["wait_s"], abandoned["in_sl"],
            abandoned["ended_at"]) == ("abandoned", 31.0, False, T0 + 31)
    fallback = folded(entry("offered", state="new"),
                      entry("max_wait", at=T0 + 600, fallback="ticket", waited="600.000",
                            state="finished"))
    assert (fallback["outcome"], fallback["fallback"], fallback["wait_s"]) == (
        "max_wait", "ticket", 600.0)
    called = folded(entry("offered", state="new"),
                    entry("callback_accepted", callback="0711555", state="queued"),
                    entry("callback_retry", tries="1", state="called_back"),
                    entry("callback_failed", at=T0 + 900, tries="3", state="finished"))
    assert (called["callback"], called["callback_tries"], called["outcome"],
            called["ended_at"]) == ("0711555", 3, "callback_failed", T0 + 900)


def test_replaying_an_entry_changes_nothing() -> None:
    entries = [entry("offered", state="new"),
               entry("answered", at=T0 + 4, agent="1", wait_ms="4000", in_sl="1",
                     state="connected"),
               entry("finished", at=T0 + 9, agent="1", state="finished")]
    once = folded(*entries)
    twice = fold(once, parse_entry("palembang", "2-0", entries[2]))
    assert twice == once


def test_an_event_before_its_offer_still_makes_a_row() -> None:
    """The stream was trimmed before the archiver first ran: the call's row starts late."""
    row = fold(None, Event("palembang", "9-0", T0, "abandoned", CALL, call_id="c7",
                           skill="billing", wait_ms=5000, in_sl=True, state="abandoned"))
    assert (row["call_id"], row["site"], row["outcome"], row["offered_at"]) == (
        "c7", "palembang", "abandoned", None)


def test_the_ivr_path_completes_the_row_or_makes_one() -> None:
    path = entry("ivr", at=T0 + 2, state="queued", entered_at=f"{T0 - 20:.3f}",
                 caller_number="0711555", area_code="0711", region="Sumatera Selatan",
                 steps="0.000 call_started,1.500 menu_entered:main,9.000 digit:main:0")
    handed = folded(entry("offered", state="new"), path)
    assert (handed["entered_at"], handed["state"], handed["outcome"]) == (T0 - 20, "new", "")
    self_service = folded(entry("ivr", at=T0 + 60, state="hung_up_by_ivr",
                                entered_at=f"{T0:.3f}", ticket="10000042"))
    assert (self_service["outcome"], self_service["ticket"], self_service["ended_at"],
            self_service["offered_at"]) == ("ivr_hung_up_by_ivr", "10000042", T0 + 60, None)
    assert parse_entry("palembang", "1-0", path).detail["steps"].startswith("0.000 call")


def test_the_agents_wrap_up_completes_the_row() -> None:
    """The desktop's disposition and the ticket the agent filed for the call (audited in
    the agent's site's stream, which need not be the caller's) land on the call's row."""
    desk = {"site": "medan", "agent": "2001", "call": "c1"}
    row = folded(
        entry("offered", state="new", caller_number="0711555"),
        entry("answered", at=T0 + 10, agent="2001", agent_site="medan", wait_ms="10000",
              in_sl="1", state="connected"),
        entry("finished", at=T0 + 70, agent="2001", agent_site="medan", state="finished"),
        {**desk, "event": "desktop_disposition", "disposition": "resolved",
         "at": f"{T0 + 75:.3f}"},
        {**desk, "event": "desktop_ticket_created", "ticket": "7711000123",
         "at": f"{T0 + 80:.3f}"},
    )
    assert (row["site"], row["outcome"], row["disposition"], row["ticket"], row["agent"]) == (
        "palembang", "answered", "resolved", "7711000123", "2001")
    assert row["updated_at"] == T0 + 80
