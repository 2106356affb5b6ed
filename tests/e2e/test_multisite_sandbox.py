"""Issue 5's dialplan on three real Asterisks joined by the rendered IAX2 trunks, driven by
raw AMI only (no pln123): a moved call arrives in the target's AsyncAGI with its call id, a
target whose pln123 is down sends it back home in place, and a site whose pln123 is down
has its new callers served by the hub's IVR with their own area code.

Every AMI action here is made as the `pln123` user, so the test also proves that user has
what the multi-site flow needs: DBPut (the heartbeat), Setvar + Redirect (a move),
Originate, and the AsyncAGI events.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from urllib.parse import unquote

import pytest

from ivr.dialplan.names import (
    AGI_ARG_AREA_CODE,
    AGI_ARG_ARRIVAL,
    AGI_ARG_CALL,
    AGI_ARG_SITE,
    ARRIVAL_MOVED,
    ARRIVAL_RETURNED,
    CALL_VARIABLE,
    HEARTBEAT_FAMILY,
    HEARTBEAT_KEY,
    OVERFLOW_OUT_CONTEXT,
    TRUNK_IN_CONTEXT,
)
from tests.fixtures.asterisk_sandbox import SandboxSession, assume_pln123_alive
from tools.sandbox import PLN123_USER, Instance, RawAmi

pytestmark = pytest.mark.asterisk

SITES = ("palembang", "medan", "jakarta")
CALLER = "Local/0711123@pln123-inbound-palembang"
HUB_WITHIN_S = 5.0  # the issue: answered at the hub within 5 s of the answer at home


@pytest.fixture(scope="module")
def sites(asterisk_sandbox: SandboxSession) -> Iterator[dict[str, Instance]]:
    instances = dict(zip(SITES, asterisk_sandbox.sites(*SITES), strict=True))
    yield instances
    for instance in instances.values():  # later tests expect pln123 "alive" again
        if instance.is_running():
            assume_pln123_alive(instance)


@pytest.fixture
def ami(sites: dict[str, Instance]) -> Iterator[dict[str, RawAmi]]:
    """One pln123-user session per site, with call and AsyncAGI events."""
    sessions: dict[str, RawAmi] = {}
    try:
        for site, instance in sites.items():
            sessions[site] = instance.ami(PLN123_USER, events="call,agi", timeout=10)
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


def call_palembang(ami: RawAmi) -> None:
    response = ami.action("Originate", {
        "Channel": CALLER, "Context": "test-caller", "Exten": "s", "Priority": "1",
        "Async": "true", "Variable": "HOLD=20,HANGUP_AFTER=25",
    })
    assert response["Response"] == "Success", response


def move(ami: RawAmi, channel: str, call_id: str, target: str) -> None:
    """What pln123's Telephony.move does: Setvar the call id, Redirect into overflow-out."""
    response = ami.action("Setvar", {"Channel": channel, "Variable": CALL_VARIABLE,
                                     "Value": call_id})
    assert response["Response"] == "Success", response
    response = ami.action("Redirect", {"Channel": channel, "Context": OVERFLOW_OUT_CONTEXT,
                                       "Exten": target, "Priority": "1"})
    assert response["Response"] == "Success", response


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


def test_a_moved_call_arrives_in_the_targets_async_agi(ami: dict[str, RawAmi]) -> None:
    beat(ami["palembang"], now())
    beat(ami["medan"], now())
    call_palembang(ami["palembang"])
    home = next_agi(ami["palembang"], **{AGI_ARG_AREA_CODE: "0711", AGI_ARG_SITE: "palembang"})
    assert AGI_ARG_ARRIVAL not in env_of(home)  # a new caller
    call_id = secrets.token_hex(6)
    arrived = None
    try:
        move(ami["palembang"], home["Channel"], call_id, "medan")
        arrived = next_agi(ami["medan"], **{AGI_ARG_SITE: "medan"})
        env = env_of(arrived)
        assert env[AGI_ARG_ARRIVAL] == ARRIVAL_MOVED
        assert env[AGI_ARG_CALL] == call_id
        assert env[AGI_ARG_AREA_CODE] == ""
        assert env["agi_context"] == TRUNK_IN_CONTEXT and env["agi_extension"] == f"ovf-{call_id}"
        assert env["agi_language"] == "id"
    finally:
        if arrived is not None:
            hang_up(ami["medan"], arrived["Channel"])
        hang_up(ami["palembang"], home["Channel"])


def test_a_target_whose_pln123_is_down_sends_the_call_back_home(
    ami: dict[str, RawAmi]
) -> None:
    beat(ami["palembang"], now())
    beat(ami["medan"], str(int(time.time()) - 60))  # a minute old: medan's pln123 is down
    call_palembang(ami["palembang"])
    home = next_agi(ami["palembang"], **{AGI_ARG_AREA_CODE: "0711", AGI_ARG_SITE: "palembang"})
    call_id = secrets.token_hex(6)
    back = None
    try:
        move(ami["palembang"], home["Channel"], call_id, "medan")
        back = next_agi(ami["palembang"], **{AGI_ARG_ARRIVAL: ARRIVAL_RETURNED})
        env = env_of(back)
        assert env[AGI_ARG_CALL] == call_id
        assert (env[AGI_ARG_AREA_CODE], env[AGI_ARG_SITE]) == ("0711", "palembang")
        assert env["agi_context"] == OVERFLOW_OUT_CONTEXT and env["agi_extension"] == "medan"
        # Medan refused it before answering: its pln123 never saw the call.
        with pytest.raises(TimeoutError):
            next_agi(ami["medan"], timeout=0.5)
    finally:
        hang_up(ami["palembang"], (back or home)["Channel"])
        beat(ami["medan"], now())


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
        assert AGI_ARG_ARRIVAL not in env  # a new caller at the hub, with its own area code
        assert env["agi_extension"] == "s" and env["agi_context"] == "pln123-ivr"
        # Palembang's own IVR never ran for it.
        with pytest.raises(TimeoutError):
            next_agi(ami["palembang"], timeout=0.5)
        channels = sites["palembang"].cli("core show channels concise")
        assert "Dial" in channels and "IAX2/pln-jakarta" in channels, channels
    finally:
        hang_up(ami["jakarta"], at_hub["Channel"])
        assume_pln123_alive(sites["palembang"])
