"""The multi-site contexts (issue 5): the heartbeat check before AsyncAGI at a site (never
at the hub), overflow out to every other site, trunk arrivals, and the values refused."""

from __future__ import annotations

import dataclasses
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
from ivr.dialplan.multisite import HEARTBEAT_CONTEXT
from ivr.dialplan.names import OVERFLOW_OUT_CONTEXT
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
    assert "exten => palembang,1,Dial(IAX2/pln-palembang/ovf-" in text and ",8)\n" in text


def test_overflow_out_has_every_other_site(config: Config) -> None:
    for site, text in render_all(config).items():
        body = contexts(text)[OVERFLOW_OUT_CONTEXT]
        extens = [line.split(",", 1)[0].removeprefix("exten => ") for line in body
                  if line.startswith("exten")]
        assert extens == [name for name in config.sites if name != site]


def test_one_overflow_extension(config: Config) -> None:
    body = contexts(render_site(config, "palembang"))[OVERFLOW_OUT_CONTEXT]
    call = "${FILTER(0-9a-f,${PLN123_CALL})}"
    start = body.index(f"exten => medan,1,Dial(IAX2/pln-medan/ovf-{call},10)")
    assert body[start:start + 4] == [
        f"exten => medan,1,Dial(IAX2/pln-medan/ovf-{call},10)",
        ' same => n,GotoIf($["${DIALSTATUS}" = "ANSWER"]?done)',
        f" same => n,AGI(agi:async,${{FILTER(0-9,${{PLN123_AREA}})}},palembang,returned,{call})",
        " same => n(done),Hangup()",
    ]
    # The call id and the area reach a Dial string or AGI argument only through FILTER.
    for line in body:
        for raw in ("${PLN123_CALL}", "${PLN123_AREA}"):
            assert raw not in line.replace(f",{raw})", "")


def test_trunk_arrivals(config: Config) -> None:
    assert contexts(render_site(config, "medan"))[TRUNK_IN_CONTEXT] == [
        "exten => _ovf-.,1,Gosub(pln123-heartbeat,s,1)",
        ' same => n,GotoIf($["${GOSUB_RETVAL}" = "fresh"]?fresh)',
        " same => n,Hangup(34)",  # before Answer: the sender's DIALSTATUS is not ANSWER
        " same => n(fresh),Answer()",
        " same => n,Set(CHANNEL(language)=id)",
        " same => n,Set(PLN123_SITE=medan)",
        " same => n,Set(PLN123_AREA=)",
        " same => n,AGI(agi:async,,medan,moved,${FILTER(0-9a-f,${EXTEN:4})})",
        " same => n,Hangup()",
        "exten => _ivr-X.,1,Gosub(pln123-ivr,s,1(${FILTER(0-9,${EXTEN:4})},medan))",
        " same => n,Hangup()",
    ]


def test_the_header_documents_the_new_contexts(config: Config) -> None:
    header = render_site(config, "palembang").split("\n[", 1)[0].replace("\n;     ", " ")
    for needle in (f"; [{OVERFLOW_OUT_CONTEXT}]", f"; [{HEARTBEAT_CONTEXT}]",
                   "Dial(IAX2/pln-jakarta/ivr-<area code>, 10)", "Hangup(34)",
                   "palembang,returned,<call id>", "palembang,moved,<call id>",
                   "older than 3 s", "PLN123_CALL"):
        assert needle in header, needle
    assert "PLACEHOLDER until the multi-site" not in header
    assert "No heartbeat check here" in render_site(config, "jakarta").split("\n[", 1)[0]


@pytest.mark.parametrize("peer", ["pln/medan", "pln,medan", "pln)medan", "pln\nmedan",
                                  "pln${X}", "-pln", ""])
def test_unsafe_peer_names_are_refused(config: Config, peer: str) -> None:
    broken = with_site(config, "medan", iax2_peer=peer)
    with pytest.raises(DialplanError, match="peer name of site medan"):
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
