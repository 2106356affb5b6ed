"""The multi-site dialplan on three real Asterisks joined by the rendered IAX2 trunks,
driven by raw AMI only (no pln123): another site's agent is rung at their own site through
the trunk (`agent-<agent id>-<call id>`) and the home site sees how that went in
OriginateResponse's Reason, and a site whose pln123 is down has its new callers served by
the hub's IVR with their own area code.

Every AMI action here is made as the `pln123` user, so the test also proves that user has
what the multi-site flow needs: DBPut, DBDel and DBDelTree (the heartbeat, the agents'
phones), Originate, and the AsyncAGI, call and user events.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from urllib.parse import unquote

import pytest

from ivr.dialplan.names import (
    AGENTS_FAMILY,
    AGI_ARG_AREA_CODE,
    AGI_ARG_SITE,
    HEARTBEAT_FAMILY,
    HEARTBEAT_KEY,
    REMOTE_CALL_EVENT,
    TRUNK_IN_CONTEXT,
    lent_agent_extension,
)
from tests.fixtures.asterisk_sandbox import SandboxSession, assume_pln123_alive
from tools.sandbox import PLN123_USER, Instance, RawAmi

pytestmark = pytest.mark.asterisk

SITES = ("palembang", "medan", "jakarta")
CALLER = "Local/0711123@pln123-inbound-palembang"
HUB_WITHIN_S = 5.0  # answered at the hub within 5 s of the answer at home
LABEL = "Palembang 512345678901"  # the caller's region and IDPEL, for the agent's display
RING_MS = 10_000  # the home site's ring timeout in these tests


@pytest.fixture(scope="module")
def sites(asterisk_sandbox: SandboxSession) -> Iterator[dict[str, Instance]]:
    instances = dict(zip(SITES, asterisk_sandbox.sites(*SITES), strict=True))
    yield instances
    for instance in instances.values():  # later tests expect pln123 "alive" again
        if instance.is_running():
            assume_pln123_alive(instance)


@pytest.fixture
def ami(sites: dict[str, Instance]) -> Iterator[dict[str, RawAmi]]:
    """One pln123-user session per site, with call, AsyncAGI and user events."""
    sessions: dict[str, RawAmi] = {}
    try:
        for site, instance in sites.items():
            sessions[site] = instance.ami(PLN123_USER, events="call,agi,user", timeout=10)
        yield sessions
    finally:
        for session in sessions.values():
            session.close()


def env_of(event: dict[str, str]) -> dict[str, str]:
    pairs = (line.partition(": ") for line in unquote(event["Env"]).splitlines())
    return {key: value for key, _, value in pairs if key}


def beat(ami: RawAmi, value: str | None) -> None:
    """Set the site's heartbeat (None: delete it) as pln123 would, with its own user."""
    if value is None:
        response = ami.action("DBDel", {"Family": HEARTBEAT_FAMILY, "Key": HEARTBEAT_KEY})
        assert response["Response"] == "Success" or "not found" in response.get("Message", "")
        return
    response = ami.action("DBPut", {"Family": HEARTBEAT_FAMILY, "Key": HEARTBEAT_KEY,
                                    "Val": value})
    assert response["Response"] == "Success", response


def now() -> str:
    return str(int(time.time()))


def next_agi(ami: RawAmi, timeout: float = 10.0, **env: str) -> dict[str, str]:
    """The next AsyncAGIStart whose Env has every `env` pair (others are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        event = ami.wait_event("AsyncAGIStart", max(0.05, deadline - time.monotonic()))
        found = env_of(event)
        if all(found.get(key) == value for key, value in env.items()):
            return event


def phone(ami: RawAmi, agent: str, endpoint: str | None) -> None:
    """Write (None: delete) an agent's phone in the site's AstDB, as AgentDirectory does."""
    if endpoint is None:
        response = ami.action("DBDel", {"Family": AGENTS_FAMILY, "Key": agent})
        # Asterisk 22 says "could not be deleted" for an entry that is not there.
        assert response["Response"] == "Success" or "could not be deleted" in response.get(
            "Message", ""), response
        return
    response = ami.action("DBPut", {"Family": AGENTS_FAMILY, "Key": agent, "Val": endpoint})
    assert response["Response"] == "Success", response


def ring_at_medan(ami: RawAmi, exten: str) -> dict[str, str]:
    """What pln123's AMITelephony does for a lent agent: Originate through the trunk into
    Wait, with the caller's label; its OriginateResponse."""
    response = ami.action("Originate", {
        "Channel": f"IAX2/pln-medan/{exten}", "Application": "Wait", "Data": "5",
        "Timeout": str(RING_MS), "CallerID": f'"{LABEL}" <0811>', "Async": "true",
    })
    assert response["Response"] == "Success", response
    return ami.wait_event("OriginateResponse", RING_MS / 1000 + 5)


def hang_up(ami: RawAmi, channel: str) -> None:
    ami.action("Hangup", {"Channel": channel})


def test_the_instances_dial_each_other_by_the_rendered_peer_names(
    sites: dict[str, Instance]
) -> None:
    for site, instance in sites.items():
        peers = instance.cli("iax2 show peers")
        for other in SITES:
            if other != site:
                assert f"pln-{other}" in peers and str(sites[other].iax_port) in peers, peers
        assert f"pln-{site} " not in peers  # not its own peer
        users = instance.cli("iax2 show users")
        assert "pln123-trunk" in users and TRUNK_IN_CONTEXT in users, users
        for module in ("func_db.so", "app_dial.so", "chan_iax2.so"):
            assert "1 modules loaded" in instance.cli(f"module show like {module}"), module


def test_a_lent_agent_is_rung_at_their_own_site(ami: dict[str, RawAmi]) -> None:
    phone(ami["medan"], "1001", "Local/1001@test-answer")
    call_id = secrets.token_hex(6)
    outcome: dict[str, str] = {}
    try:
        started = time.monotonic()
        outcome = ring_at_medan(ami["palembang"], lent_agent_extension("1001", call_id))
        assert outcome["Response"] == "Success", outcome  # answered: bridged at home
        assert outcome["Channel"].startswith("IAX2/pln-medan-"), outcome
        assert time.monotonic() - started < RING_MS / 1000
        event = ami["medan"].wait_event("UserEvent", 5, UserEvent=REMOTE_CALL_EVENT)
        assert (event["agent"], event["call"]) == ("1001", call_id)
        assert event["Context"] == TRUNK_IN_CONTEXT
        # The agent's display: the caller id the home site sent, through the trunk.
        assert (event["CallerIDName"], event["CallerIDNum"]) == (LABEL, "0811")
    finally:
        if outcome.get("Channel", "").startswith("IAX2/"):
            hang_up(ami["palembang"], outcome["Channel"])
        phone(ami["medan"], "1001", None)


def test_a_ring_for_an_agent_without_a_phone_fails_at_once(ami: dict[str, RawAmi]) -> None:
    phone(ami["medan"], "1999", None)
    started = time.monotonic()
    outcome = ring_at_medan(ami["palembang"], lent_agent_extension("1999", "0a1b2c"))
    # Refused before answer (cause 34), well before the ring timeout: Reason 0 (Asterisk
    # stops waiting once the trunk leg is hung up), which pln123 counts as a trunk failure,
    # not the agent's no answer.
    assert (outcome["Response"], outcome["Reason"]) == ("Failure", "0"), outcome
    assert time.monotonic() - started < 3
    with pytest.raises(TimeoutError):
        ami["medan"].wait_event("UserEvent", 0.5, UserEvent=REMOTE_CALL_EVENT)


def test_a_phone_that_cannot_ring_is_busy_for_the_home_site(ami: dict[str, RawAmi]) -> None:
    phone(ami["medan"], "1002", "Local/1002@pln123-no-such-context")
    try:
        started = time.monotonic()
        outcome = ring_at_medan(ami["palembang"], lent_agent_extension("1002", "0a1b2c"))
        # Reason 5 (busy): the agent's phone failed, as a local agent's would (NO_ANSWER).
        assert (outcome["Response"], outcome["Reason"]) == ("Failure", "5"), outcome
        assert time.monotonic() - started < 3
        event = ami["medan"].wait_event("UserEvent", 5, UserEvent=REMOTE_CALL_EVENT)
        assert event["agent"] == "1002"
    finally:
        phone(ami["medan"], "1002", None)


def test_a_phone_that_rings_out_is_no_answer_for_the_home_site(
    ami: dict[str, RawAmi], sites: dict[str, Instance]
) -> None:
    phone(ami["medan"], "1003", "Local/1003@test-noanswer")
    try:
        response = ami["palembang"].action("Originate", {
            "Channel": f"IAX2/pln-medan/{lent_agent_extension('1003', '0a1b2c')}",
            "Application": "Wait", "Data": "5", "Timeout": "2000", "Async": "true"})
        assert response["Response"] == "Success", response
        outcome = ami["palembang"].wait_event("OriginateResponse", 10)
        assert (outcome["Response"], outcome["Reason"]) == ("Failure", "3"), outcome
        # Medan's Dial has no timeout of its own: the home site gave up, the trunk leg is
        # gone, and with it the ringing phone.
        deadline = time.monotonic() + 5
        while "test-noanswer" in sites["medan"].cli("core show channels concise"):
            assert time.monotonic() < deadline, sites["medan"].cli("core show channels")
            time.sleep(0.1)
    finally:
        phone(ami["medan"], "1003", None)


def test_only_the_digits_of_a_hostile_extension_are_used(ami: dict[str, RawAmi]) -> None:
    phone(ami["medan"], "1001", "Local/1001@test-answer")
    outcome: dict[str, str] = {}
    try:
        outcome = ring_at_medan(ami["palembang"], "agent-1001,x)|$[y]-0a1b,c)d")
        assert outcome["Response"] == "Success", outcome
        event = ami["medan"].wait_event("UserEvent", 5, UserEvent=REMOTE_CALL_EVENT)
        assert (event["agent"], event["call"]) == ("1001", "0a1bcd"), event
    finally:
        if outcome.get("Channel", "").startswith("IAX2/"):
            hang_up(ami["palembang"], outcome["Channel"])
        phone(ami["medan"], "1001", None)


def test_a_site_whose_pln123_is_down_has_its_callers_served_by_the_hub(
    ami: dict[str, RawAmi], sites: dict[str, Instance]
) -> None:
    beat(ami["palembang"], None)  # never written (or deleted): palembang's pln123 is down
    response = ami["palembang"].action("Originate", {
        "Channel": CALLER, "Context": "test-caller", "Exten": "s", "Priority": "1",
        "Async": "true", "Variable": "HOLD=20,HANGUP_AFTER=25",
    })
    assert response["Response"] == "Success", response
    answered = ami["palembang"].wait_event("OriginateResponse", 10.0)  # the caller is answered
    answered_at = time.monotonic()
    assert answered["Response"] == "Success", answered
    at_hub = next_agi(ami["jakarta"], timeout=HUB_WITHIN_S + 5,
                      **{AGI_ARG_AREA_CODE: "0711", AGI_ARG_SITE: "jakarta"})
    took = time.monotonic() - answered_at
    try:
        assert took < HUB_WITHIN_S, f"the hub's IVR took {took:.1f} s after the answer"
        env = env_of(at_hub)
        # A new caller at the hub, with its own area code.
        assert env["agi_extension"] == "s" and env["agi_context"] == "pln123-ivr"
        # Palembang's own IVR never ran for it.
        with pytest.raises(TimeoutError):
            next_agi(ami["palembang"], timeout=0.5)
        channels = sites["palembang"].cli("core show channels concise")
        assert "Dial" in channels and "IAX2/pln-jakarta" in channels, channels
    finally:
        hang_up(ami["jakarta"], at_hub["Channel"])
        assume_pln123_alive(sites["palembang"])
