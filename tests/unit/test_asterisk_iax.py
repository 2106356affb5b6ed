"""The IAX2 trunk include: one user the other sites call in as (their hosts only), one peer
per other site (address from the config or the override), and unsafe values refused."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from ivr.asterisk import TRUNK_USER, render_iax
from ivr.dialplan import DialplanError
from pln123.config import Config, load_config
from pln123.config.model import TrunkAddress

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "config" / "pln.yaml"


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(SHIPPED)


def sections(text: str) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        if match := re.fullmatch(r"\[([^\]]+)\]", line):
            current = result.setdefault(match.group(1), [])
        elif line and not line.startswith(";"):
            current.append(line)
    return result


def with_site(config: Config, site: str, **changes: object) -> Config:
    sites = dict(config.sites)
    sites[site] = dataclasses.replace(sites[site], **changes)  # type: ignore[arg-type]
    return dataclasses.replace(config, sites=sites)


def test_the_user_permits_only_the_other_sites(config: Config) -> None:
    found = sections(render_iax(config, "palembang"))
    assert found[TRUNK_USER] == [
        "type=user", "context=pln123-trunk-in", "deny=0.0.0.0/0.0.0.0", "deny=::/0",
        "permit=10.123.2.10/32", "permit=10.123.0.10/32", "permit=10.123.3.10/32",
        "permit=10.123.4.10/32",
    ]
    assert "permit=10.123.1.10/32" not in render_iax(config, "palembang")  # itself


def test_one_peer_per_other_site(config: Config) -> None:
    found = sections(render_iax(config, "jakarta"))
    assert list(found) == [TRUNK_USER, "pln-palembang", "pln-medan", "pln-surabaya",
                           "pln-makassar"]
    assert found["pln-medan"] == ["type=peer", "host=10.123.2.10", "port=4569",
                                  f"username={TRUNK_USER}"]


def test_the_override_chooses_peers_and_addresses(config: Config) -> None:
    text = render_iax(config, "medan", peers_override={"palembang": ("127.0.0.1", 14571),
                                                       "jakarta": ("127.0.0.1", 14572)})
    found = sections(text)
    assert list(found) == [TRUNK_USER, "pln-palembang", "pln-jakarta"]
    assert found["pln-jakarta"] == ["type=peer", "host=127.0.0.1", "port=14572",
                                    f"username={TRUNK_USER}"]
    assert [line for line in found[TRUNK_USER] if line.startswith("permit")] == [
        "permit=127.0.0.1/32"]  # one host, once


def test_ipv6_hosts(config: Config) -> None:
    changed = with_site(config, "medan", iax2=TrunkAddress("2001:db8::2", 4570))
    found = sections(render_iax(changed, "palembang"))
    assert "permit=2001:db8::2/128" in found[TRUNK_USER]
    assert found["pln-medan"][1:3] == ["host=2001:db8::2", "port=4570"]


def test_deterministic_ascii(config: Config) -> None:
    for site in config.sites:
        text = render_iax(config, site)
        assert text == render_iax(config, site) and text.isascii() and text.endswith("\n")
        assert "[general]" not in text


@pytest.mark.parametrize(
    ("site", "changes", "message"),
    [
        ("medan", {"iax2": TrunkAddress("10.0.0.1\npermit=0.0.0.0/0")}, "not an IP address"),
        ("medan", {"iax2": TrunkAddress("medan.example")}, "not an IP address"),
        ("medan", {"iax2": TrunkAddress("0.0.0.0")}, "not the address of one host"),
        ("medan", {"iax2": TrunkAddress("10.0.0.1", 0)}, "not a port"),
        ("medan", {"iax2": TrunkAddress("10.0.0.1", True)}, "not a port"),
        ("medan", {"iax2": None}, "no iax2 address"),
        ("medan", {"iax2_peer": "pln-medan]\n[evil"}, "peer name"),
        ("medan", {"iax2_peer": TRUNK_USER}, "trunk user"),
    ],
    ids=["host-newline", "host-name", "host-any", "port-zero", "port-bool", "no-address",
         "peer-newline", "peer-is-user"],
)
def test_unsafe_values_are_refused(config: Config, site: str, changes: dict[str, object],
                                   message: str) -> None:
    with pytest.raises(DialplanError, match=message):
        render_iax(with_site(config, site, **changes), "palembang")


def test_unknown_sites_are_refused(config: Config) -> None:
    with pytest.raises(DialplanError, match="no site 'bali'"):
        render_iax(config, "bali")
    with pytest.raises(DialplanError, match="bali: not another site"):
        render_iax(config, "medan", peers_override={"bali": ("127.0.0.1", 1)})
    with pytest.raises(DialplanError, match="medan: not another site"):
        render_iax(config, "medan", peers_override={"medan": ("127.0.0.1", 1)})
