"""Carrier trunks: `sites.<name>.sip` in the config, and what `pln123 asterisk render` makes
of it (transport, endpoint/identify/aor, the numbers each carrier's context accepts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ivr.asterisk.carriers import (
    CARRIERS_DIALPLAN_FILE,
    CARRIERS_PJSIP_FILE,
    render_carriers,
)
from ivr.asterisk.errors import RenderError
from ivr.asterisk.pjsip import PJSIP_FILE, render_pjsip
from pln123.config import Config, ConfigError, parse_config
from tests.doubles.config import shipped_data

TELKOM = {"from": ["203.0.113.10", "203.0.113.16/28"], "numbers": ["national", "e164", "local"],
          "area_code": "0711", "area_code_header": "X-PLN-Area", "codecs": ["alaw"],
          "contact": "203.0.113.10:5060"}


def config_with(sip: dict[str, Any]) -> Config:
    data = shipped_data()
    data["sites"]["palembang"]["sip"] = sip
    return parse_config(data, Path(__file__))


def problems(sip: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config_with(sip)
    return [str(problem) for problem in caught.value.problems]


def test_the_transport_and_the_carrier_trunk_are_rendered() -> None:
    config = config_with({"bind": "10.123.1.10", "carriers": {"telkom": TELKOM}})
    text = render_carriers(config, "palembang")[CARRIERS_PJSIP_FILE]
    assert "[pln123-udp]\ntype = transport\nprotocol = udp\nbind = 10.123.1.10:5060\n" in text
    endpoint = text.split("type = endpoint\n", 1)[1].split("\n\n", 1)[0]
    for line in ("context = pln123-carrier-telkom", "allow = alaw", "dtmf_mode = rfc4733",
                 "transport = pln123-udp", "direct_media = no", "aors = telkom",
                 "media_address = 10.123.1.10", "bind_rtp_to_media_address = yes"):
        assert line in endpoint.splitlines()
    assert ("[telkom]\ntype = identify\nendpoint = telkom\nmatch = 203.0.113.10\n"
            "match = 203.0.113.16/28\n") in text
    assert "[telkom]\ntype = aor\ncontact = sip:203.0.113.10:5060\n" in text


def test_every_accepted_format_goes_to_the_sites_own_entry() -> None:
    config = config_with({"bind": "10.123.1.10", "carriers": {"telkom": TELKOM}})
    text = render_carriers(config, "palembang")[CARRIERS_DIALPLAN_FILE]
    context = text.split("[pln123-carrier-telkom]\n", 1)[1]
    for number, entry in (("0711123", "0711123"), ("+62711123", "0711123"),
                          ("62711123", "0711123"), ("+62765123", "0765123")):
        assert (f"exten => {number},1,Gosub(pln123-carrier-caller,s,1)\n"
                f" same => n,Goto(pln123-inbound-palembang,{entry},1)\n") in context
    # Plain 123: the header's area code if this site serves it, else the trunk's region.
    local = context.split("exten => 123,1,", 1)[1]
    assert "PJSIP_HEADER(read,X-PLN-Area)" in local
    assert 'GotoIf($["${PLN123_CARRIER_AREA}" = "0721"]?pln123-local-0721,123,1)' in local
    assert local.rstrip().endswith("Goto(pln123-local-0711,123,1)")
    assert "061123" not in text  # Medan's area code is not this site's
    caller = text.split("[pln123-carrier-caller]\n", 1)[1]
    assert '"${number:0:3}" = "+62"' in caller and "Set(LOCAL(number)=0${number:3})" in caller


def test_a_national_only_carrier_gets_national_numbers_only() -> None:
    config = config_with({"bind": "10.123.1.10", "carriers": {"indosat": {
        "from": ["198.51.100.7"], "numbers": ["national"]}}})
    context = render_carriers(config, "palembang")[CARRIERS_DIALPLAN_FILE].split(
        "[pln123-carrier-indosat]\n", 1)[1]
    assert "exten => 0711123," in context
    assert "+62" not in context and "exten => 123," not in context


def test_agents_use_rfc4733_and_the_rendered_transport() -> None:
    config = config_with({"bind": "10.123.1.10"})
    secrets = {a.id: "a-secret-long-enough" for a in config.acd.agents}
    text = render_pjsip(config, "palembang", config.acd.agents, secrets)[PJSIP_FILE]
    endpoint = text.split("[1001]\ntype = endpoint\n", 1)[1].split("\n\n", 1)[0]
    assert {"dtmf_mode = rfc4733", "transport = pln123-udp",
            "bind_rtp_to_media_address = yes"} <= set(endpoint.splitlines())


def test_a_site_without_sip_renders_no_carriers() -> None:
    config = parse_config(shipped_data(), Path(__file__))
    with pytest.raises(RenderError, match="no sip section"):
        render_carriers(config, "palembang")


@pytest.mark.parametrize(("sip", "path", "words"), [
    ({"bind": "sip.example"}, "sites.palembang.sip.bind", "not an IP address"),
    ({"bind": "10.0.0.1", "carriers": {"t": {"from": ["x"]}}},
     "sites.palembang.sip.carriers.t.from[0]", "not an IP address"),
    ({"bind": "10.0.0.1", "carriers": {"t": {"from": ["10.0.0.2"], "numbers": ["tollfree"]}}},
     "sites.palembang.sip.carriers.t.numbers[0]", "not a number format"),
    ({"bind": "10.0.0.1", "carriers": {"t": {"from": ["10.0.0.2"], "numbers": ["local"]}}},
     "sites.palembang.sip.carriers.t.area_code", "is required"),
    ({"bind": "10.0.0.1", "carriers": {"t": {"from": ["10.0.0.2"], "area_code": "061"}}},
     "sites.palembang.sip.carriers.t.area_code", "not an area code this site serves"),
    ({"bind": "10.0.0.1", "carriers": {"t": {"from": ["10.0.0.2"], "numbers": ["local"],
                                             "area_code": "0711",
                                             "area_code_header": "Area\r\nX: y"}}},
     "sites.palembang.sip.carriers.t.area_code_header", "not a private SIP header"),
    ({"bind": "10.0.0.1", "carriers": {"a": {"from": ["10.0.0.0/24"]},
                                       "b": {"from": ["10.0.0.9"]}}},
     "sites.palembang.sip.carriers.b.from[0]", "overlaps the addresses of carrier 'a'"),
    ({"bind": "10.0.0.1", "carriers": {"Bad;name": {"from": ["10.0.0.2"]}}},
     "sites.palembang.sip.carriers.Bad;name", "not a carrier name"),
    ({"bind": "10.0.0.1", "carriers": {"t": {"from": ["10.0.0.2"], "codecs": ["al aw"]}}},
     "sites.palembang.sip.carriers.t.codecs[0]", "not a codec name"),
    ({"bind": "10.0.0.1", "carriers": {"t": {"from": ["10.0.0.2"], "contact": "sbc:99999"}}},
     "sites.palembang.sip.carriers.t.contact", "not an IP address"),
])
def test_bad_sip_values_name_their_path(sip: dict[str, Any], path: str, words: str) -> None:
    found = problems(sip)
    assert any(problem.startswith(path) and words in problem for problem in found), found
