"""The multi-site contexts: the heartbeat check before AsyncAGI at a site (never
at the hub), lent agents' rings and hub arrivals over the trunk, and the values refused."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from ivr.dialplan import (
    IVR_CONTEXT,
    TRUNK_IN_CONTEXT,
    DialplanError,
    multisite,
    render_all,
    render_site,
)
from ivr.dialplan.multisite import HEARTBEAT_CONTEXT, literal_pattern
from ivr.dialplan.names import (
    AGENTS_FAMILY,
    LENT_AGENT_PREFIX,
    REMOTE_CALL_EVENT,
    lent_agent_extension,
)
from pln123.config import Config, load_config
from tests.unit.test_dialplan_render import contexts

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "config" / "pln.yaml"


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(SHIPPED)


def with_timings(config: Config, **changes: object) -> Config:
    asterisk = dataclasses.replace(config.asterisk, **changes)  # type: ignore[arg-type]
    return dataclasses.replace(config, asterisk=asterisk)


def with_site(config: Config, site: str, **changes: object) -> Config:
    sites = dict(config.sites)
    sites[site] = dataclasses.replace(sites[site], **changes)  # type: ignore[arg-type]
    return dataclasses.replace(config, sites=sites)


def test_a_site_checks_the_heartbeat_before_async_agi(config: Config) -> None:
    assert contexts(render_site(config, "palembang"))[IVR_CONTEXT] == [
        "exten => s,1,Answer()",
        " same => n,Set(CHANNEL(language)=id)",
        " same => n,Set(PLN123_AREA=${ARG1})",
        " same => n,Set(PLN123_SITE=${ARG2})",
        " same => n,Gosub(pln123-heartbeat,s,1)",
        ' same => n,GotoIf($["${GOSUB_RETVAL}" = "fresh"]?agi)',
        " same => n,Dial(IAX2/pln-jakarta/ivr-${ARG1},10)",
        ' same => n,GotoIf($["${DIALSTATUS}" = "ANSWER"]?done)',
        " same => n(agi),AGI(agi:async,${ARG1},${ARG2})",
        " same => n(done),Return()",
    ]


@pytest.mark.parametrize("site", ["palembang", "medan", "surabaya", "makassar"])
def test_every_site_but_the_hub_sends_to_the_hub(config: Config, site: str) -> None:
    body = contexts(render_site(config, site))[IVR_CONTEXT]
    dials = [line for line in body if "Dial(" in line]
    assert dials == [" same => n,Dial(IAX2/pln-jakarta/ivr-${ARG1},10)"]
    # The check comes before the hand-off, the hand-off still follows a failed trunk call.
    assert body.index(" same => n,Gosub(pln123-heartbeat,s,1)") < body.index(dials[0])
    assert body[-2] == " same => n(agi),AGI(agi:async,${ARG1},${ARG2})"


def test_the_hub_has_no_check(config: Config) -> None:
    body = contexts(render_site(config, "jakarta"))[IVR_CONTEXT]
    assert not any("Gosub" in line or "Dial" in line or "DB(" in line for line in body)
    assert body[-2:] == [" same => n,AGI(agi:async,${ARG1},${ARG2})", " same => n,Return()"]


def test_without_a_hub_no_site_has_a_check(config: Config) -> None:
    no_hub = with_site(config, "jakarta", role="site")
    for text in render_all(no_hub).values():
        assert not any("Dial(" in line for line in contexts(text)[IVR_CONTEXT])


def test_the_heartbeat_gosub(config: Config) -> None:
    assert contexts(render_site(config, "medan"))[HEARTBEAT_CONTEXT] == [
        "exten => s,1,Set(LOCAL(beat)=${DB(pln123/heartbeat)})",
        " same => n,Set(LOCAL(beat)=${FILTER(0-9,${CUT(beat,.,1)})})",
        ' same => n,GotoIf($["${beat}" = ""]?stale)',
        " same => n,GotoIf($[${EPOCH} - ${beat} > 3]?stale)",
        " same => n,Return(fresh)",
        " same => n(stale),Return(stale)",
    ]


def test_staleness_and_timeout_come_from_the_config(config: Config) -> None:
    changed = with_timings(config, heartbeat_stale_s=2.5, trunk_dial_timeout_s=7.2)
    text = render_site(changed, "medan")
    assert " same => n,GotoIf($[${EPOCH} - ${beat} > 2.5]?stale)" in text
    assert " same => n,Dial(IAX2/pln-jakarta/ivr-${ARG1},8)" in text  # whole seconds, up


LENT = "exten => _age[n]t-X.,1,"


def test_trunk_arrivals(config: Config) -> None:
    assert contexts(render_site(config, "medan"))[TRUNK_IN_CONTEXT] == [
        f"{LENT}Set(PLN123_LENT_AGENT=${{FILTER(0-9,${{CUT(EXTEN,-,2)}})}})",
        " same => n,Set(PLN123_LENT_CALL=${FILTER(0-9a-f,${CUT(EXTEN,-,3)})})",
        ' same => n,GotoIf($["${PLN123_LENT_AGENT}" = "" | "${PLN123_LENT_CALL}" = ""]?refused)',
        " same => n,Set(PLN123_LENT_PHONE=${DB(pln123-agents/${PLN123_LENT_AGENT})})",
        ' same => n,GotoIf($["${PLN123_LENT_PHONE}" = ""]?refused)',
        " same => n,UserEvent(PlnRemoteCall,agent: ${PLN123_LENT_AGENT},"
        "call: ${PLN123_LENT_CALL})",
        " same => n,Dial(${PLN123_LENT_PHONE})",  # no timeout: the home site's governs
        ' same => n,GotoIf($["${DIALSTATUS}" = "ANSWER"]?done)',
        " same => n,Busy(10)",  # the phone did not ring out: the home site's NO_ANSWER
        " same => n(done),Hangup()",
        " same => n(refused),Hangup(34)",  # never answered: the home site's TRUNK_FAILED
        "exten => _ivr-X.,1,Gosub(pln123-ivr,s,1(${FILTER(0-9,${EXTEN:4})},medan))",
        " same => n,Hangup()",
    ]


def test_every_site_takes_lent_agents_rings(config: Config) -> None:
    for site, text in render_all(config).items():
        body = contexts(text)[TRUNK_IN_CONTEXT]
        assert body[0].startswith(LENT), site
        assert f"exten => _ivr-X.,1,Gosub(pln123-ivr,s,1(${{FILTER(0-9,${{EXTEN:4}})}},{site}))" \
            in body


def lent_agent_body(config: Config) -> list[str]:
    body = contexts(render_site(config, "palembang"))[TRUNK_IN_CONTEXT]
    end = next(i for i, line in enumerate(body[1:], 1) if line.startswith("exten"))
    return body[:end]


def test_a_ring_without_a_phone_is_refused_before_answer(config: Config) -> None:
    body = lent_agent_body(config)
    assert not any("Answer(" in line for line in body)  # Dial answers only when the agent does
    lookup = body.index(
        f" same => n,Set(PLN123_LENT_PHONE=${{DB({AGENTS_FAMILY}/${{PLN123_LENT_AGENT}})}})")
    check = body.index(' same => n,GotoIf($["${PLN123_LENT_PHONE}" = ""]?refused)')
    event = next(i for i, line in enumerate(body) if REMOTE_CALL_EVENT in line)
    dial = body.index(" same => n,Dial(${PLN123_LENT_PHONE})")
    assert lookup < check < event < dial
    # The ids are checked before AstDB is read: an empty key is never looked up.
    assert body.index(' same => n,GotoIf($["${PLN123_LENT_AGENT}" = "" | '
                      '"${PLN123_LENT_CALL}" = ""]?refused)') < lookup
    assert body[-1] == " same => n(refused),Hangup(34)"


def _expand(allowed: str) -> set[str]:
    """FILTER's character set: single characters and a-b ranges."""
    chars: set[str] = set()
    for match in re.finditer(r"(.)(?:-(.))?", allowed):
        first, last = match.group(1), match.group(2) or match.group(1)
        chars |= {chr(c) for c in range(ord(first), ord(last) + 1)}
    return chars


def evaluate_ids(body: list[str], exten: str) -> dict[str, str]:
    """What the extension's Set(<variable>=${FILTER(set,${CUT(EXTEN,sep,field)})}) lines
    make of `exten`, as Asterisk's CUT and FILTER do (CUT of a missing field is empty;
    FILTER's string is everything after its first comma, commas included)."""
    found: dict[str, str] = {}
    pattern = re.compile(r".*,Set\((\w+)=\$\{FILTER\(([^,]+),"
                         r"\$\{CUT\(EXTEN,(.),([0-9]+)\)\}\)\}\)")
    for line in body:
        if match := pattern.fullmatch(line):
            name, allowed, separator, field = match.groups()
            parts = exten.split(separator)
            value = parts[int(field) - 1] if int(field) <= len(parts) else ""
            found[name] = "".join(c for c in value if c in _expand(allowed))
    return found


@pytest.mark.parametrize(
    ("exten", "agent", "call"),
    [
        (lent_agent_extension("1001", "0a1b2c3d4e5f"), "1001", "0a1b2c3d4e5f"),
        ("agent-1001,U(evil)-0a1b", "1001", "0a1b"),
        ("agent-1001,x)|$[1]-0a1b,c)d", "10011", "0a1bcd"),  # as the sandbox's Asterisk 22
        ("agent-1001)|${EVIL}-0a1b;x\nexten", "1001", "0a1bee"),
        ("agent-1$[1+1]0-ca11", "1110", "ca11"),
        ("agent-x1001-", "1001", ""),
        ("agent-1001", "1001", ""),
        ("agent--0a1b", "", "0a1b"),
        ('agent-"1001"-ABC-def', "1001", ""),
    ],
)
def test_only_digits_and_hex_digits_of_what_the_trunk_sends_are_used(
    config: Config, exten: str, agent: str, call: str
) -> None:
    body = lent_agent_body(config)
    assert evaluate_ids(body, exten) == {"PLN123_LENT_AGENT": agent, "PLN123_LENT_CALL": call}
    # EXTEN reaches nothing but CUT inside FILTER; everything after uses the filtered ids.
    for line in body:
        assert "${EXTEN" not in line.replace("${CUT(EXTEN,", "")
        if "CUT(EXTEN" in line:
            assert re.search(r"=\$\{FILTER\((0-9|0-9a-f),\$\{CUT\(EXTEN,", line), line
    event = next(line for line in body if "UserEvent(" in line)
    assert event == (" same => n,UserEvent(PlnRemoteCall,agent: ${PLN123_LENT_AGENT},"
                     "call: ${PLN123_LENT_CALL})")


def test_the_prefix_is_a_literal_in_the_pattern() -> None:
    # N, X and Z (any case) are digit classes in a pattern: `_agent-X.` would never match.
    assert literal_pattern(LENT_AGENT_PREFIX) == "age[n]t-"
    assert literal_pattern("ivr-") == "ivr-"
    assert literal_pattern("xyz-NXZ") == "[x]y[z]-[N][X][Z]"


def test_the_extension_a_lent_agent_is_rung_at() -> None:
    assert lent_agent_extension("1001", "0a1b2c3d4e5f") == "agent-1001-0a1b2c3d4e5f"
    for agent, call in [("10a1", "0a1b"), ("1001", "0A1B"), ("1001", "0a-1b"), ("12", "0a"),
                        ("1001", ""), ("1001/x", "0a1b")]:
        with pytest.raises(DialplanError):
            lent_agent_extension(agent, call)


def test_the_header_documents_the_new_contexts(config: Config) -> None:
    header = render_site(config, "palembang").split("\n[", 1)[0].replace("\n;     ", " ")
    for needle in (f"; [{TRUNK_IN_CONTEXT}]", f"; [{HEARTBEAT_CONTEXT}]",
                   "Dial(IAX2/pln-jakarta/ivr-<area code>, 10)", "Hangup(34)",
                   "agent-<agent id>-<call id>", "pln123-agents/<agent id>",
                   "UserEvent(PlnRemoteCall)", "older than 3 s", "Busy()"):
        assert needle in header, needle
    assert "PLACEHOLDER until the multi-site" not in header
    assert "No heartbeat check here" in render_site(config, "jakarta").split("\n[", 1)[0]


@pytest.mark.parametrize("peer", ["pln/medan", "pln,medan", "pln)medan", "pln\nmedan",
                                  "pln${X}", "-pln", ""])
def test_unsafe_peer_names_are_refused(config: Config, peer: str) -> None:
    # The hub's peer is the one a site's dialplan dials (lent agents are rung by pln123).
    broken = with_site(config, "jakarta", iax2_peer=peer)
    with pytest.raises(DialplanError, match="peer name of site jakarta"):
        render_site(broken, "palembang")


@pytest.mark.parametrize("site", ["palembang", "jakarta"])
def test_an_unsafe_hub_peer_is_refused_everywhere(config: Config, site: str) -> None:
    broken = with_site(config, "jakarta", iax2_peer="pln-jakarta/evil")
    if site == "jakarta":
        render_site(broken, site)  # the hub never dials itself
    else:
        with pytest.raises(DialplanError, match="peer name"):
            render_site(broken, site)


@pytest.mark.parametrize("field", ["heartbeat_stale_s", "trunk_dial_timeout_s"])
@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), 1e9, "3", True])
def test_unsafe_timings_are_refused(config: Config, field: str, value: object) -> None:
    with pytest.raises(DialplanError):
        render_site(with_timings(config, **{field: value}), "medan")


def test_the_line_check_catches_what_a_name_would_smuggle(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(multisite, "HEARTBEAT_CONTEXT", "pln123-heartbeat]\n[evil")
    with pytest.raises(DialplanError, match="unexpected shape"):
        render_site(config, "medan")
