"""`ivr.repeat_callers` in the admin config: IVR-wide with per-site overrides, and every
mistake named by its key path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ivr.settings import RepeatCallers
from pln123.config import ConfigError, parse_config
from tests.doubles.config import shipped_data


def with_section(section: Any) -> dict[str, Any]:
    data = shipped_data()
    data["ivr"]["repeat_callers"] = section
    return data


def problems(data: dict[str, Any], base: Path) -> list[str]:
    with pytest.raises(ConfigError) as error:
        parse_config(data, base / "pln.yaml")
    return [str(problem) for problem in error.value.problems]


def test_on_everywhere_as_shipped_and_when_the_section_is_left_out(tmp_path: Path) -> None:
    shipped = parse_config(shipped_data(), tmp_path / "pln.yaml").ivr.repeat_callers
    assert shipped == RepeatCallers(enabled=True, sites={}, offer_timeout_s=5.0)
    data = shipped_data()
    del data["ivr"]["repeat_callers"]
    default = parse_config(data, tmp_path / "pln.yaml").ivr.repeat_callers
    assert default == RepeatCallers()
    assert all(default.enabled_at(site) for site in ("palembang", "medan"))


def test_a_site_overrides_the_ivr_wide_switch(tmp_path: Path) -> None:
    config = parse_config(with_section({"enabled": False, "sites": {"medan": True},
                                        "offer_timeout": 8}), tmp_path / "pln.yaml")
    repeat = config.ivr.repeat_callers
    assert repeat.enabled_at("medan") and not repeat.enabled_at("palembang")
    assert repeat.offer_timeout_s == 8.0


@pytest.mark.parametrize(("section", "expected"), [
    ({"enabled": "yes"}, "ivr.repeat_callers.enabled: must be true or false, not 'yes'"),
    ({"sites": {"atlantis": False}},
     "ivr.repeat_callers.sites.atlantis: site 'atlantis' is not in sites"),
    ({"sites": {"medan": "off"}},
     "ivr.repeat_callers.sites.medan: must be true or false, not 'off'"),
    ({"sites": ["medan"]}, "ivr.repeat_callers.sites: must be a mapping"),
    ({"offer_timeout": 0}, "ivr.repeat_callers.offer_timeout"),
    ({"offer_timeout": "5s"}, "ivr.repeat_callers.offer_timeout: must be a number"),
    ({"enable": True}, "ivr.repeat_callers.enable: unknown key"),
    (True, "ivr.repeat_callers: must be a mapping"),
])
def test_a_bad_value_names_its_key_path(section: Any, expected: str, tmp_path: Path) -> None:
    found = problems(with_section(section), tmp_path)
    assert any(problem.startswith(expected) for problem in found), found
