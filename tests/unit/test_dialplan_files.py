"""The checked-in dialplans/ are exactly what the renderer makes of deploy/config/pln.yaml,
and `pln123 dialplan render` writes them (stdout, --out, --all --out-dir)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ivr.dialplan import render_all, render_site
from pln123.cli.main import main
from pln123.config import load_config

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "deploy" / "config" / "pln.yaml"
CHECKED_IN = REPO / "dialplans"
FIX = "pln123 dialplan render --config deploy/config/pln.yaml --all --out-dir dialplans"
SITES = ["palembang", "medan", "jakarta", "surabaya", "makassar"]


@pytest.mark.parametrize("site", SITES)
def test_checked_in_dialplan_matches_the_renderer(site: str) -> None:
    rendered = render_site(load_config(SHIPPED), site).encode("ascii")
    path = CHECKED_IN / f"{site}.conf"
    assert path.is_file(), f"{path} is missing; run: {FIX}"
    assert path.read_bytes() == rendered, f"{path} drifted from the renderer; run: {FIX}"


def test_no_stale_dialplan_is_checked_in() -> None:
    sites = set(load_config(SHIPPED).sites)
    assert sites == set(SITES)
    files = {path.stem for path in CHECKED_IN.glob("*.conf")}
    assert files == sites, f"dialplans/ has {sorted(files - sites)} for no site; remove them"


def test_render_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dialplan", "render", "--config", str(SHIPPED), "--site", "medan"]) == 0
    out = capsys.readouterr()
    assert out.out == (CHECKED_IN / "medan.conf").read_text() and out.err == ""


def test_render_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "etc" / "pln123-medan.conf"
    assert main(["dialplan", "render", "--config", str(SHIPPED), "--site", "medan",
                 "--out", str(target)]) == 0
    assert target.read_bytes() == (CHECKED_IN / "medan.conf").read_bytes()
    assert target.stat().st_mode & 0o777 == 0o644
    assert capsys.readouterr().out == ""
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temp file left


def test_render_all_regenerates_the_checked_in_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dialplan", "render", "--config", str(SHIPPED), "--all",
                 "--out-dir", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{s}.conf" for s in SITES)
    for name in (f"{site}.conf" for site in SITES):
        assert (tmp_path / name).read_bytes() == (CHECKED_IN / name).read_bytes()
    assert capsys.readouterr().out.count("wrote ") == len(SITES)


def test_an_invalid_config_renders_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "pln.yaml"
    bad.write_text(SHIPPED.read_text().replace('"0711", "0712"', '"0711", "07;12"'))
    (tmp_path / "secrets").symlink_to(SHIPPED.parent / "secrets")
    out = tmp_path / "out.conf"
    assert main(["dialplan", "render", "--config", str(bad), "--site", "palembang",
                 "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "sites.palembang.area_codes[1]: '07;12' is not an area code" in err
    assert "nothing rendered" in err and not out.exists()


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["--site", "bali"], 2, "no site 'bali'"),
        (["--all"], 2, "give --out-dir"),
        (["--site", "medan", "--out-dir", "x"], 2, "give --out PATH"),
    ],
)
def test_usage_errors(args: list[str], status: int, message: str,
                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dialplan", "render", "--config", str(SHIPPED), *args]) == status
    assert message in capsys.readouterr().err


def test_render_all_covers_every_site_in_config_order() -> None:
    config = load_config(SHIPPED)
    trimmed = dataclasses.replace(config, sites={"medan": config.sites["medan"]})
    assert list(render_all(trimmed)) == ["medan"]
