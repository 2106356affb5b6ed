"""`pln123 serve` as a real separate process against the sandbox Asterisk and real Redis,
for tests that kill it (`kill -9`) or signal it. Started and stopped by PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from tests.doubles.config import shipped_data
from tools.sandbox import Instance

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "deploy" / "config" / "pln.yaml"


def write_config(tmp: Path, agents: list[dict[str, Any]], acd: dict[str, Any]) -> Path:
    """The shipped config with test agents and timings; secret paths made absolute."""
    data = shipped_data()
    data["agents"] = agents
    data["acd"] = {**data.get("acd", {}), **acd}
    path = tmp / "pln.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


class ServeProcess:
    def __init__(self, config: Path, site: Instance, redis_url: str, log: Path,
                 extra_args: tuple[str, ...] = ("--no-dashboard",),
                 env: dict[str, str] | None = None):
        self.config = config
        self.extra_args = extra_args
        self.env = {**os.environ, **(env or {})}
        self.site = site
        self.redis_url = redis_url
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        secret = log.parent / f"ami-{site.site}.secret"
        secret.write_text(site.pln123_secret, encoding="utf-8")
        os.chmod(secret, 0o600)
        self.secret = secret

    def start(self, timeout: float = 20.0) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pln123.cli.main", "serve", "--config", str(self.config),
                 "--site", self.site.site, "--ami-port", str(self.site.ami_port),
                 "--ami-secret-file", str(self.secret), "--redis-url", self.redis_url,
                 *self.extra_args],
                stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_bytes()[offset:].decode(errors="replace")
            if '"ami_connected"' in text:
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"pln123 serve exited: {text[-2000:]}")
            time.sleep(0.1)
        raise RuntimeError("pln123 serve did not connect to AMI in time")

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=5)

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def wait(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
