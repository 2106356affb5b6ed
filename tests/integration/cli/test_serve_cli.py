"""`pln123 serve`'s exit codes for what fails before any connection: 2 for a bad config or
argument, 3 when the dashboard cannot listen (a real process, a real socket)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests.doubles.config import shipped_data, write

REPO = Path(__file__).resolve().parents[3]


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pln123.cli.main", "serve", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


def test_an_invalid_config_exits_2_with_key_paths(tmp_path: Path) -> None:
    data = shipped_data()
    data["acd"]["ring_timeout_s"] = "long"
    config = write(tmp_path / "pln.yaml", data)
    done = serve("--config", str(config), "--site", "palembang")
    assert done.returncode == 2
    assert "acd.ring_timeout_s" in done.stderr


def test_an_unknown_site_exits_2(tmp_path: Path) -> None:
    config = write(tmp_path / "pln.yaml", shipped_data())
    done = serve("--config", str(config), "--site", "atlantis")
    assert done.returncode == 2 and "no site 'atlantis'" in done.stderr


def test_an_unreadable_ami_secret_exits_2(tmp_path: Path) -> None:
    config = write(tmp_path / "pln.yaml", shipped_data())
    done = serve("--config", str(config), "--site", "palembang",
                 "--ami-secret-file", str(tmp_path / "missing.secret"))
    assert done.returncode == 2 and "missing.secret" in done.stderr


def test_a_taken_dashboard_port_exits_3(tmp_path: Path) -> None:
    config = write(tmp_path / "pln.yaml", shipped_data())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = serve("--config", str(config), "--site", "palembang",
                     "--dashboard-listen", f"127.0.0.1:{port}")
    assert done.returncode == 3, done.stderr
    assert f"127.0.0.1:{port}" in done.stderr


def test_a_bad_dashboard_listen_exits_2(tmp_path: Path) -> None:
    config = write(tmp_path / "pln.yaml", shipped_data())
    done = serve("--config", str(config), "--site", "palembang",
                 "--dashboard-listen", "nowhere")
    assert done.returncode == 2 and "--dashboard-listen" in done.stderr

