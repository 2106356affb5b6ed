"""The dialplan renderer: every context is there and documented, one extension per area
code, the hand-off passes area code and site, and unsafe values are refused, not escaped."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from ivr.dialplan import (
    AGENT_FEATURE_CONTEXT,
    IVR_CONTEXT,
    TRUNK_IN_CONTEXT,
    DialplanError,
    agent_features_context,
    entry_number,
    inbound_context,
    local_context,
    render_all,
    render_site,
)
from ivr.dialplan.multisite import HEARTBEAT_CONTEXT
from ivr.dialplan.names import HOLD_CONTEXT
from pln123.config import AreaCode, Config, load_config

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "config" / "pln.yaml"


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(SHIPPED)


def contexts(text: str) -> dict[str, list[str]]:
    """Context name -> its non-comment lines, in order."""
    result: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if match := re.fullmatch(r"\[([^\]]+)\]", line):
            current = result.setdefault(match.group(1), [])
        elif line and not line.startswith(";") and current is not None:
            current.append(line)
    return result


def with_site(config: Config, site: str, **changes: object) -> Config:
    sites = dict(config.sites)
    sites[site] = dataclasses.replace(sites[site], **changes)  # type: ignore[arg-type]
    return dataclasses.replace(config, sites=sites)


def test_palembang_has_every_context(config: Config) -> None:
    found = contexts(render_site(config, "palembang"))
    assert list(found) == [
        "pln123-inbound-palembang",
        *(f"pln123-local-{code}" for code in
          ("0711", "0712", "0713", "0721", "0725", "0741", "0761", "0765")),
        IVR_CONTEXT, HEARTBEAT_CONTEXT, HOLD_CONTEXT, "pln123-agent-features-palembang",
        AGENT_FEATURE_CONTEXT, TRUNK_IN_CONTEXT,
    ]


@pytest.mark.parametrize("site", ["palembang", "medan", "jakarta", "surabaya", "makassar"])
def test_one_entry_per_area_code(config: Config, site: str) -> None:
    found = contexts(render_site(config, site))
    inbound = found[inbound_context(site)]
    expected: list[str] = []
    for area in config.sites[site].area_codes:
        expected += [f"exten => {area.code}123,1,Gosub(pln123-ivr,s,1({area.code},{site}))",
                     " same => n,Hangup()"]
        assert found[local_context(area.code)] == [
            f"exten => 123,1,Gosub(pln123-ivr,s,1({area.code},{site}))", " same => n,Hangup()"]
    assert inbound == expected


def test_the_example_from_the_issue(config: Config) -> None:
    text = render_site(config, "palembang")
    assert "exten => 0711123,1,Gosub(pln123-ivr,s,1(0711,palembang))\n same => n,Hangup()\n" in text
    assert entry_number("0711") == "0711123"


def test_one_async_agi_hand_off(config: Config) -> None:
    text = render_site(config, "jakarta")  # the hub: no heartbeat check
    assert contexts(text)[IVR_CONTEXT] == [
        "exten => s,1,Answer()",
        " same => n,Set(CHANNEL(language)=id)",
        " same => n,Set(PLN123_AREA=${ARG1})",
        " same => n,Set(PLN123_SITE=${ARG2})",
        " same => n,AGI(agi:async,${ARG1},${ARG2})",
        " same => n,Return()",
    ]
    # Callers reach AsyncAGI in one place, whatever context they came in by (a caller of a
    # site whose pln123 is down included: the trunk hands them to the same Gosub).
    for site in config.sites:
        found = contexts(render_site(config, site))
        agi = {name: sum("AGI(" in line for line in body) for name, body in found.items()}
        assert {name: n for name, n in agi.items() if n} == {IVR_CONTEXT: 1}, site


def test_the_hold_subroutine_plays_then_starts_the_music(config: Config) -> None:
    # What HoldMusic's GOSUB relies on, at every site: ARG1 the files, ARG2 the class.
    for site in config.sites:
        assert contexts(render_site(config, site))[HOLD_CONTEXT] == [
            "exten => s,1,Playback(${ARG1})",
            " same => n,StartMusicOnHold(${ARG2})",
            " same => n,Return()",
        ], site


def test_the_default_language_comes_from_the_config(config: Config) -> None:
    english = dataclasses.replace(config, default_language="en")
    assert " same => n,Set(CHANNEL(language)=en)" in render_site(english, "medan")


@pytest.mark.parametrize("site", ["palembang", "jakarta"])
def test_no_context_is_a_placeholder(config: Config, site: str) -> None:
    """Every rendered context does something; none waits for later work to fill it."""
    text = render_site(config, site)
    assert "placeholder" not in text.lower()
    assert all(body and body != [" same => n,Hangup()"] for body in contexts(text).values())


def test_every_context_is_documented_at_the_top(config: Config) -> None:
    text = render_site(config, "makassar")
    header = text.split("\n[", 1)[0]
    assert all(line.startswith(";") or not line for line in header.splitlines())
    assert "; [pln123-local-<area code>]" in header
    for name in contexts(text):
        if name.startswith("pln123-local-"):
            assert re.search(rf"[( ]{name.removeprefix('pln123-local-')}[,)]", header), name
        else:
            assert f"; [{name}]" in header, name
    for needle in ("agi_arg_1 (area code)", "agi_arg_2 (site)", "GENERATED", "#include"):
        assert needle in header


def test_rendering_is_deterministic_ascii_and_newline_terminated(config: Config) -> None:
    first, second = render_all(config), render_all(config)
    assert first == second and list(first) == list(config.sites)
    for text in first.values():
        assert text.isascii() and text.endswith("\n") and not text.endswith("\n\n\n")
        assert "\r" not in text and "\t" not in text


def test_an_unknown_site_is_refused(config: Config) -> None:
    with pytest.raises(DialplanError, match="no site 'bali'"):
        render_site(config, "bali")


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "palem;bang"},
        {"name": "palembang\n[evil]"},
        {"name": "Palembang"},
        {"name": "palembang)"},
        {"area_codes": (AreaCode("0711\nexten => 666,1,System(id)", "Palembang"),)},
        {"area_codes": (AreaCode("0711,x", "Palembang"),)},
        {"area_codes": (AreaCode("0711", "Palembang\nexten => 666,1,Hangup()"),)},
        {"area_codes": (AreaCode("0711", "Palembang; [x]"),)},
        {"area_codes": ()},
    ],
    ids=["semicolon", "newline-context", "uppercase", "paren", "area-newline", "area-comma",
         "region-newline", "region-semicolon", "no-areas"],
)
def test_unsafe_values_are_refused(config: Config, changes: dict[str, object]) -> None:
    broken = with_site(config, "palembang", **changes)
    name = str(changes.get("name", "palembang"))
    if name != "palembang":
        broken = dataclasses.replace(
            broken, sites={name: broken.sites["palembang"]})
    with pytest.raises(DialplanError):
        render_site(broken, name)


@pytest.mark.parametrize("language", ["i;d", "id\n", "ind", "${X}"])
def test_an_unsafe_language_is_refused(config: Config, language: str) -> None:
    with pytest.raises(DialplanError, match="language"):
        render_site(dataclasses.replace(config, default_language=language), "medan")


def test_name_helpers_refuse_too() -> None:
    assert inbound_context("medan") == "pln123-inbound-medan"
    assert local_context("061") == "pln123-local-061"
    for bad in ("061;", "61", "0611234", "061\n"):
        with pytest.raises(DialplanError, match="area code"):
            local_context(bad)
    with pytest.raises(DialplanError, match="site name"):
        inbound_context("a b")


# -- agents' feature codes -----------------------------------------------------------------


def test_the_feature_codes_of_a_site(config: Config) -> None:
    gosub = f"Gosub({AGENT_FEATURE_CONTEXT},s,1("
    assert contexts(render_site(config, "medan"))[agent_features_context("medan")] == [
        f"exten => *11,1,{gosub}login,medan))", " same => n,Hangup()",
        f"exten => *12,1,{gosub}logout,medan))", " same => n,Hangup()",
        f"exten => _*13X,1,{gosub}pause,medan,${{EXTEN:3}}))", " same => n,Hangup()",
        f"exten => _*13XX,1,{gosub}pause,medan,${{EXTEN:3}}))", " same => n,Hangup()",
        f"exten => _*13XXX,1,{gosub}pause,medan,${{EXTEN:3}}))", " same => n,Hangup()",
        f"exten => _*13XXXX,1,{gosub}pause,medan,${{EXTEN:3}}))", " same => n,Hangup()",
        f"exten => *14,1,{gosub}ready,medan))", " same => n,Hangup()",
    ]


def test_the_feature_gosub_filters_what_the_phone_controls(config: Config) -> None:
    body = contexts(render_site(config, "jakarta"))[AGENT_FEATURE_CONTEXT]
    assert body == [
        "exten => s,1,Set(LOCAL(agent)=${FILTER(0-9,${PLN123_AGENT})})",
        ' same => n,ExecIf($["${agent}" = ""]?Set(LOCAL(agent)=${FILTER(0-9,${CALLERID(num)})}))',
        " same => n,Answer()",
        ' same => n,GotoIf($["${agent}" = ""]?refused)',
        " same => n,UserEvent(PlnAgent,action: ${ARG1},agent: ${agent},site: ${ARG2},"
        "reason: ${ARG3})",
        " same => n,Playback(beep)",
        " same => n,Return()",
        " same => n(refused),Playback(beeperr)",
        " same => n,Return()",
    ]
    # The caller id and the variable appear only inside FILTER: never raw in an argument.
    for line in body:
        for raw in ("${CALLERID(num)}", "${PLN123_AGENT}"):
            assert raw not in line.replace(f"FILTER(0-9,{raw})", "")


def test_every_site_has_its_own_feature_context(config: Config) -> None:
    for site, text in render_all(config).items():
        found = contexts(text)
        features = [name for name in found if name.startswith("pln123-agent-features-")]
        assert features == [agent_features_context(site)]
        assert all(f",{site}" in line for line in found[features[0]] if "Gosub" in line)


def test_the_features_are_documented_at_the_top(config: Config) -> None:
    header = render_site(config, "palembang").split("\n[", 1)[0]
    for needle in ("*11 log in", "*12 log out", "*13<reason> pause", "*14 ready",
                   "PLN123_AGENT", "UserEvent(PlnAgent)", "action, agent, site, reason",
                   "read class user"):
        assert needle in header.replace("\n;     ", " "), needle


def test_feature_codes_outside_the_safe_shape_are_refused(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ivr.dialplan import features  # the renderer's FEATURE_CODES is this dict

    monkeypatch.setitem(features.FEATURE_CODES, "login", "*11,1,System(id)")
    with pytest.raises(DialplanError, match="feature code"):
        render_site(config, "medan")


def test_the_features_context_name_refuses_unsafe_sites() -> None:
    assert agent_features_context("medan") == "pln123-agent-features-medan"
    with pytest.raises(DialplanError, match="site name"):
        agent_features_context("medan]\n[evil")
