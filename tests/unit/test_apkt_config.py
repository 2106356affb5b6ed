"""The `apkt:` section of the admin config: defaults, and every mistake named by its key
path; and what a reload does with it (kept until a restart: the sender is built once)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pln123.config import ConfigError, parse_config
from pln123.config.apkt import ApktRetry
from pln123.serve.reload import plan_reload
from tests.doubles.config import shipped_data

TOKEN = "apkt-token-0123456789"
SECRET = "apkt-webhook-secret-0123456789abcdef"


def with_apkt(tmp_path: Path, **section: Any) -> dict[str, Any]:
    (tmp_path / "apkt.token").write_text(TOKEN + "\n", encoding="utf-8")
    (tmp_path / "apkt-webhook.secret").write_text(SECRET + "\n", encoding="utf-8")
    data = shipped_data()
    data["apkt"] = {"url": "https://apkt.example.id/api/pln123", "token_file": "apkt.token",
                    "webhook_secret_file": "apkt-webhook.secret", **section}
    return data


def problems(data: dict[str, Any], base: Path) -> list[str]:
    with pytest.raises(ConfigError) as error:
        parse_config(data, base / "pln.yaml")
    return [str(problem) for problem in error.value.problems]


def test_the_section_with_its_defaults_and_secrets_read_from_files(tmp_path: Path) -> None:
    config = parse_config(with_apkt(tmp_path), tmp_path / "pln.yaml")
    apkt = config.apkt
    assert apkt is not None
    assert apkt.url == "https://apkt.example.id/api/pln123"
    assert (apkt.timeout_s, apkt.concurrency, apkt.backfill_s, apkt.claim_idle_s) == (
        10.0, 16, 86_400.0, 60.0)
    assert apkt.retry == ApktRetry(1.0, 2.0, 300.0, 20)
    assert apkt.read_token() == TOKEN
    assert apkt.read_webhook_secret() == SECRET.encode()
    assert TOKEN not in repr(config) and SECRET not in repr(config)


def test_without_the_section_nothing_is_sent() -> None:
    data = shipped_data()
    data.pop("apkt", None)
    assert parse_config(data, Path("pln.yaml")).apkt is None


@pytest.mark.parametrize(("change", "expected"), [
    ({"url": "ftp://apkt"}, "apkt.url: 'ftp://apkt' is not an http:// or https:// URL"),
    ({"url": "https://user:pw@apkt"}, "apkt.url: "),
    ({"token_file": "missing.token"}, "apkt.token_file: cannot read"),
    ({"webhook_secret_file": "apkt.token"},
     "apkt.webhook_secret_file: the secret in"),
    ({"timeout_s": 0}, "apkt.timeout_s: must be between 0.5 and 120, not 0"),
    ({"concurrency": "many"}, "apkt.concurrency: must be an integer, not 'many'"),
    ({"retry": {"initial_s": 10, "max_s": 5}}, "apkt.retry.max_s: must be at least"),
    ({"retry": {"factr": 2}}, "apkt.retry.factr: unknown key"),
    ({"secret": "x"}, "apkt.secret: unknown key"),
])
def test_mistakes_are_named_by_their_key_path(tmp_path: Path, change: dict[str, Any],
                                              expected: str) -> None:
    found = problems(with_apkt(tmp_path, **change), tmp_path)
    assert any(problem.startswith(expected) for problem in found), found


def test_the_url_token_and_secret_are_required(tmp_path: Path) -> None:
    data = shipped_data()
    data["apkt"] = {}
    found = problems(data, tmp_path)
    for key in ("url", "token_file", "webhook_secret_file"):
        assert f"apkt.{key}: is required" in found


def test_a_reload_keeps_the_running_connector_until_a_restart(tmp_path: Path) -> None:
    old = parse_config(with_apkt(tmp_path), tmp_path / "pln.yaml")
    assert old.apkt is not None
    new = replace(old, apkt=replace(old.apkt, url="https://other.example.id"))
    plan = plan_reload(old, new, "palembang")
    assert plan.needs_restart == ("apkt.url",)
    assert plan.effective.apkt == old.apkt
