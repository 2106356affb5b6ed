"""The `dashboard:` section (pln123/config/dashboard.py) and `pln123 user add`.

Each broken variant is the shipped deploy/config/pln.yaml with one change, so the only
problem reported is the one under test, named by its key path.
"""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

import pytest
import yaml

from pln123.cli.main import main
from pln123.config import ConfigError, load_config, parse_config
from pln123.web.accounts import Role, verify

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "config" / "pln.yaml"
_DATA: dict[str, Any] = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def shipped() -> dict[str, Any]:
    return copy.deepcopy(_DATA)


def problems(data: dict[str, Any], base: Path = SHIPPED) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, base)
    return [str(problem) for problem in caught.value.problems]


def test_the_shipped_dashboard_section_and_its_demo_passwords() -> None:
    settings = load_config(SHIPPED).dashboard
    assert settings is not None
    assert (settings.host, settings.port, settings.secure) == ("127.0.0.1", 8123, False)
    assert settings.session_lifetime_s == 43200 and settings.utc_offset_s == 7 * 3600
    assert len(settings.read_wallboard_token()) >= 16
    by_name = {s.name: s for s in settings.supervisors}
    assert by_name["nasional"].role == Role("national")
    assert by_name["medan"].role == Role("site", "medan")
    assert set(by_name) == {"nasional", "palembang", "medan", "jakarta", "surabaya",
                            "makassar"}
    for name, supervisor in by_name.items():   # the documented demo passwords
        assert verify(supervisor, f"demo-{name}-123")
        assert not verify(supervisor, "demo")


def test_trusted_proxies_are_addresses_or_networks() -> None:
    data = shipped()
    assert parse_config(data, SHIPPED).dashboard.trusted_proxies == ()  # type: ignore[union-attr]
    data["dashboard"]["trusted_proxies"] = ["127.0.0.1", "10.1.0.0/16", "::1"]
    settings = parse_config(data, SHIPPED).dashboard
    assert settings is not None
    assert settings.trusted_proxies == ("127.0.0.1/32", "10.1.0.0/16", "::1/128")


def test_without_the_section_there_is_no_dashboard() -> None:
    data = shipped()
    del data["dashboard"]
    assert parse_config(data, SHIPPED).dashboard is None


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d.update(listen="localhost"),
     "dashboard.listen: 'localhost' is not host:port (port 1-65535)"),
    (lambda d: d.update(listen="0.0.0.0:99999"),
     "dashboard.listen: '0.0.0.0:99999' is not host:port (port 1-65535)"),
    (lambda d: d.update(session_lifetime_s=10),
     "dashboard.session_lifetime_s: must be between 60 and 604800, not 10"),
    (lambda d: d.update(service_level_target=80),
     "dashboard.service_level_target: must be between 0 and 1, not 80"),
    (lambda d: d.update(wallboard_token_file="secrets/missing.token"),
     "dashboard.wallboard_token_file: cannot read"),
    (lambda d: d.pop("wallboard_token_file"), "dashboard.wallboard_token_file: is required"),
    (lambda d: d.update(colour="blue"), "dashboard.colour: unknown key"),
    (lambda d: d["supervisors"][1].update(role="site:bandung"),
     "dashboard.supervisors[1].role: no site 'bandung'"),
    (lambda d: d["supervisors"][1].update(role="admin"),
     "dashboard.supervisors[1].role: role 'admin': must be 'national' or 'site:<site name>'"),
    (lambda d: d["supervisors"][2].update(name="nasional"),
     "dashboard.supervisors[2].name: 'nasional' is listed twice"),
    (lambda d: d["supervisors"][0].update(name="Big Boss"),
     "dashboard.supervisors[0].name: 'Big Boss' is not a supervisor name"),
    (lambda d: d["supervisors"][0].update(password_hash="secret"),
     "dashboard.supervisors[0].password_hash: must be an argon2 hash"),
    (lambda d: d["supervisors"][0].pop("password_hash"),
     "dashboard.supervisors[0].password_hash: is required"),
    (lambda d: d["supervisors"][0].update(password="x"),
     "dashboard.supervisors[0].password: unknown key"),
    (lambda d: d.update(tls={"cert": "secrets/none.crt"}), "dashboard.tls.cert: cannot read"),
    (lambda d: d.update(supervisors="nasional"), "dashboard.supervisors: must be a list"),
    (lambda d: d.update(trusted_proxies=["10.0.0.1", "proxy.local"]),
     "dashboard.trusted_proxies[1]: 'proxy.local' is not an IP address or network"),
    (lambda d: d.update(trusted_proxies="10.0.0.1"),
     "dashboard.trusted_proxies: must be a list"),
])
def test_mistakes_are_named_by_their_key_path(change: Any, expected: str) -> None:
    data = shipped()
    change(data["dashboard"])
    found = problems(data)
    assert len(found) <= 2 and any(p.startswith(expected) for p in found), found


def test_a_short_wallboard_token_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "pln.yaml"
    (tmp_path / "secrets").symlink_to(SHIPPED.parent / "secrets")
    (tmp_path / "short.token").write_text("abc\n", encoding="utf-8")
    data = shipped()
    data["dashboard"]["wallboard_token_file"] = "short.token"
    assert problems(data, config) == [
        f"dashboard.wallboard_token_file: the token in {tmp_path / 'short.token'} must be "
        "at least 16 characters"]


def test_user_add_prints_a_line_the_config_accepts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "pw"
    secret.write_text("correct horse\n", encoding="utf-8")
    assert main(["user", "add", "rina", "--role", "site:surabaya",
                 "--password-file", str(secret)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith('- {name: rina, role: "site:surabaya", password_hash: "$argon2id$')
    data = shipped()
    data["dashboard"]["supervisors"].append(yaml.safe_load(line)[0])
    settings = parse_config(data, SHIPPED).dashboard
    assert settings is not None
    rina = next(s for s in settings.supervisors if s.name == "rina")
    assert rina.role == Role("site", "surabaya") and verify(rina, "correct horse")
    assert "correct horse" not in line


def test_user_add_reads_stdin_and_refuses_bad_input(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("from-stdin-pass\n"))
    assert main(["user", "add", "ops", "--role", "national"]) == 0
    assert '"national"' in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["user", "add", "ops", "--role", "national"]) == 2
    assert "at least 8 characters" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("long-enough\n"))
    assert main(["user", "add", "ops", "--role", "boss"]) == 2
    assert "must be 'national' or 'site:<site name>'" in capsys.readouterr().err
    assert main(["user", "add", "Ops Team", "--role", "national"]) == 2
    assert "not a supervisor name" in capsys.readouterr().err
