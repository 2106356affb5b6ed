"""The errors a user meets first: not root, no debootstrap; and debootstrap's progress."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pln123.cli.main import main
from tests.fixtures.asterisk_sandbox import unavailable_reason
from tests.fixtures.availability import skip_or_fail
from tools.sandbox.build import DebootstrapProgress, build_root
from tools.sandbox.errors import SandboxError
from tools.sandbox.fs import mounts_below
from tools.sandbox.host import Host
from tools.sandbox.sandbox import Sandbox

NOT_ROOT = Host(is_root=lambda: False, which=lambda name: f"/usr/sbin/{name}")
NO_DEBOOTSTRAP = Host(is_root=lambda: True, which=lambda name: None)


def test_build_needs_root(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="needs root"):
        build_root(tmp_path, "http://mirror.example.org/debian", host=NOT_ROOT)
    assert list(tmp_path.iterdir()) == []


def test_build_needs_debootstrap_and_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="apt-get install debootstrap"):
        build_root(tmp_path, "http://mirror.example.org/debian", host=NO_DEBOOTSTRAP)


def test_sandbox_checks_before_reading_apt_sources(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="apt-get install debootstrap"):
        Sandbox(tmp_path, host=NO_DEBOOTSTRAP).build(report=lambda line: None)
    with pytest.raises(SandboxError, match="needs root"):
        Sandbox(tmp_path, host=NOT_ROOT).up(["palembang"])


def test_bad_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="bad namespace"):
        Sandbox(tmp_path, namespace="../etc")
    root_host = Host(is_root=lambda: True)
    with pytest.raises(SandboxError, match="no sandbox root"):
        Sandbox(tmp_path, host=root_host).up(["palembang"])


def test_cli_not_root_is_exit_2_with_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert main(["sandbox", "build", "--cache-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "needs root" in err
    assert "Traceback" not in err


def test_cli_status_of_an_empty_namespace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sandbox", "status", "--cache-dir", str(tmp_path), "--namespace", "x1"]) == 0
    assert "no sandbox instances" in capsys.readouterr().out


def test_debootstrap_progress_counts_packages_not_phases() -> None:
    progress = DebootstrapProgress()
    lines = [
        "I: Retrieving InRelease",
        "I: Retrieving Packages",
        "I: Retrieving libc6 2.41-1",
        "I: Validating libc6 2.41-1",
        "I: Retrieving asterisk 1:22.10.1",
        "I: Extracting libc6...",
        "I: Installing core packages...",
        "I: Unpacking required packages...",
        "I: Unpacking libc6:amd64...",
        "I: Configuring required packages...",
        "I: Configuring libc6:amd64...",
        "I: Unpacking the base system...",
        "I: Configuring the base system...",
        "W: some warning",
        "I: Base system installed successfully.",
    ]
    phases = [line for line in lines if progress.feed(line)]
    assert progress.counts == {"retrieved": 2, "extracted": 1, "unpacked": 1, "configured": 1}
    assert progress.phase == "base system installed"
    assert phases[0] == "I: Retrieving InRelease"
    assert "2 retrieved" in progress.render(12.0) and "12 s" in progress.render(12.0)


def test_mounts_below_reads_escaped_paths_deepest_first(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "proc /proc proc rw 0 0\n"
        "proc /var/cache/x\\040y/root/proc proc rw 0 0\n"
        "sysfs /var/cache/x\\040y/root/sys/kernel sysfs rw 0 0\n"
        "sysfs /var/cache/x\\040y/root2/sys sysfs rw 0 0\n"
    )
    found = mounts_below(Path("/var/cache/x y/root"), mounts)
    assert found == [Path("/var/cache/x y/root/sys/kernel"), Path("/var/cache/x y/root/proc")]


def test_fixture_availability_reasons(tmp_path: Path) -> None:
    assert "needs root" in str(unavailable_reason(tmp_path, NOT_ROOT))
    assert "apt-get install debootstrap" in str(unavailable_reason(tmp_path, NO_DEBOOTSTRAP))
    root = tmp_path / "asterisk-sid"
    root.mkdir()
    (root / ".pln123-asterisk-version").write_text("Asterisk 22.10.1\n")
    assert unavailable_reason(tmp_path, NO_DEBOOTSTRAP) is None  # cached: no debootstrap needed


def test_missing_server_skips_locally_and_fails_under_ci() -> None:
    with pytest.raises(pytest.skip.Exception, match="no redis"):
        skip_or_fail("no redis", environ={})
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        skip_or_fail("no redis", environ={"CI": "true"})
