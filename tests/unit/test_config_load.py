"""What the shipped config means once loaded: the area codes the issue names reach the right
site and region, menus and actions come out typed, and names are safe for the dialplan."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ivr.prompts.catalogue import REQUIRED_PROMPTS
from pln123.config import Action, Config, ConfigError, load_config, parse_config
from pln123.config.loader import AREA_CODE, NAME, PEER, REGION
from pln123.config.model import TrunkAddress

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "config" / "pln.yaml"


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(SHIPPED)


@pytest.mark.parametrize(
    ("code", "site", "region"),
    [
        ("0711", "palembang", "Palembang"),
        ("0721", "palembang", "Lampung"),
        ("0761", "palembang", "Pekanbaru"),
        ("0741", "palembang", "Jambi"),
        ("061", "medan", "Medan"),
        ("021", "jakarta", "Jakarta"),
        ("022", "jakarta", "Bandung"),
        ("031", "surabaya", "Surabaya"),
        ("0411", "makassar", "Makassar"),
    ],
)
def test_area_codes_reach_their_site(config: Config, code: str, site: str, region: str) -> None:
    found = config.site_for_area(code)
    assert found is not None
    assert (found[0].name, found[1].region) == (site, region)
    assert config.area_for_number(f"{code}123") == found


def test_five_sites_one_hub(config: Config) -> None:
    assert list(config.sites) == ["palembang", "medan", "jakarta", "surabaya", "makassar"]
    assert config.hub is not None and config.hub.name == "jakarta"
    assert config.sites["palembang"].primary_area.number == "0711123"


def test_no_area_code_is_served_twice(config: Config) -> None:
    codes = [area.code for site in config.sites.values() for area in site.area_codes]
    assert len(codes) == len(set(codes)) >= 9


def test_unknown_numbers_have_no_site(config: Config) -> None:
    assert config.site_for_area("0999") is None
    assert config.area_for_number("0711") is None
    assert config.area_for_number("0999123") is None


def test_menus_are_typed_actions(config: Config) -> None:
    main = config.menus["main"]
    assert main.options["2"] == Action("submenu", target="report")
    assert main.options["1"] == Action("flow", target="outage_info", category="gangguan")
    assert config.menus["report"].options["3"] == Action("queue", skill="fault", priority=1)
    assert main.on_failure.describe() == "queue general (priority 5)"
    assert config.menus["report"].timeout_s == 5.0 and config.menus["report"].retries == 3
    assert config.ivr.root_menu == "main" and config.ivr.agent_key == "0"


def test_every_required_prompt_has_both_languages(config: Config) -> None:
    assert config.languages == ("id", "en") and config.default_language == "id"
    for prompt_id in REQUIRED_PROMPTS:
        assert set(config.prompts[prompt_id].text) == {"id", "en"}


def test_secrets_are_read_from_files_next_to_the_config(config: Config) -> None:
    ami = config.sites["medan"].ami
    assert ami.secret_file == SHIPPED.parent / "secrets" / "ami-medan.secret"
    assert ami.read_secret() and "\n" not in ami.read_secret()


def test_names_that_reach_the_dialplan_have_no_separators(config: Config) -> None:
    # The renderer re-checks, but the loader is where an admin sees the key path.
    for site in config.sites.values():
        assert NAME.match(site.name) and PEER.match(site.iax2_peer)
        for area in site.area_codes:
            assert AREA_CODE.match(area.code) and REGION.match(area.region)
    for pattern in (NAME, PEER, REGION, AREA_CODE):
        for bad in ("a;b", "a\nb", "ab\n", "a\rb", "a\x85b"):
            assert not pattern.match(bad), (pattern.pattern, bad)


def test_parse_config_refuses_instead_of_returning_half_a_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"languages": ["id"]}, tmp_path / "x.yaml")
    paths = {problem.path for problem in caught.value.problems}
    assert {"sites", "menus", "ivr", "regions", "skills"} <= paths
    assert str(caught.value).startswith("ivr: is required")


def test_every_site_has_its_own_trunk_address(config: Config) -> None:
    trunks = {name: site.iax2 for name, site in config.sites.items()}
    assert trunks["palembang"] == TrunkAddress("10.123.1.10", 4569)
    assert trunks["jakarta"] == TrunkAddress("10.123.0.10", 4569)
    hosts = [trunk.host for trunk in trunks.values() if trunk is not None]
    assert len(set(hosts)) == len(config.sites) == 5


def test_the_trunk_port_defaults_to_iax2s_own() -> None:
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    del data["sites"]["medan"]["iax2"]["port"]
    data["sites"]["jakarta"]["iax2"] = {"host": "2001:db8::10", "port": 14569}
    config = parse_config(data, SHIPPED)
    assert config.sites["medan"].iax2 == TrunkAddress("10.123.2.10", 4569)
    assert config.sites["jakarta"].iax2 == TrunkAddress("2001:db8::10", 14569)
