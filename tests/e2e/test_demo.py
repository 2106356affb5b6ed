"""`pln123 demo` end to end, as a user runs it (a subprocess), judged by its dashboard.

The demo starts five sandbox Asterisks, Redis, five `pln123 serve` and the dashboard; with
the surge at once, the dashboard's API must show calls answered at all five sites and
national pooling at work: Palembang's callers answered by other sites' agents (Palembang
borrowed, another site lent, rung through the IAX2 trunk). Then SIGINT: every process the
demo printed (Asterisk, serve, dashboard, Redis) must be gone.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.asterisk_sandbox import unavailable_reason
from tests.fixtures.availability import skip_or_fail
from tools.demo.processes import pid_alive
from tools.sandbox import DEFAULT_CACHE_DIR
from tools.sandbox.build import root_dir
from tools.sandbox.ports import free_port

pytestmark = pytest.mark.asterisk

REPO = Path(__file__).resolve().parents[2]
SITES = {"palembang", "medan", "jakarta", "surabaya", "makassar"}


class DemoProcess:
    """The demo's output, read as it comes, and the PIDs it announces."""

    def __init__(self, argv: list[str]):
        self.process = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def pids(self) -> dict[str, int]:
        found = {}
        for line in list(self.lines):
            if line.startswith("demo: pid "):
                _, _, role, pid = line.split()
                found[role] = int(pid)
        return found

    def output(self) -> str:
        return "\n".join(self.lines[-60:])


def dashboard_sites(base: str) -> list[dict[str, Any]] | None:
    """GET /api/sites after logging in as the demo's national supervisor; None if not up."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    body = json.dumps({"name": "nasional", "password": "demo-nasional-123"}).encode()
    try:
        opener.open(urllib.request.Request(f"{base}/api/login", data=body,
                                           headers={"Content-Type": "application/json"}),
                    timeout=5)
        with opener.open(f"{base}/api/sites", timeout=5) as reply:
            sites: list[dict[str, Any]] = json.load(reply)["sites"]
            return sites
    except OSError:
        return None


def test_demo_answers_at_five_sites_pools_agents_and_leaves_no_process() -> None:
    reason = unavailable_reason()
    if reason is not None:
        skip_or_fail(reason)
    port = free_port(socket.SOCK_STREAM)
    namespace = f"pytest-demo-{os.getpid()}"
    demo = DemoProcess([sys.executable, "-m", "pln123.cli.main", "demo", "--surge-after", "0",
                        "--duration", "170", "--namespace", namespace,
                        "--listen", f"127.0.0.1:{port}"])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 150
        sites: list[dict[str, Any]] | None = None
        while time.monotonic() < deadline:
            assert demo.process.poll() is None, f"the demo exited early:\n{demo.output()}"
            sites = dashboard_sites(base)
            if sites is not None and all_answered_and_pooled(sites):
                break
            time.sleep(2)
        else:
            pytest.fail(f"no answers at five sites with pooling within 150 s: {sites}\n"
                        f"{demo.output()}")
        pids = demo.pids()
        assert {f"asterisk:{s}" for s in SITES} | {f"serve:{s}" for s in SITES} | {
            "dashboard", "redis"} <= set(pids), demo.output()
        assert all(pid_alive(pid) for pid in pids.values())
        demo.process.send_signal(signal.SIGINT)
        assert demo.process.wait(60) == 0, demo.output()
    finally:
        if demo.process.poll() is None:
            demo.process.kill()
            demo.process.wait(10)
    demo.reader.join(5)
    left = {role: pid for role, pid in pids.items() if pid_alive(pid)}
    assert left == {}, f"still running after SIGINT: {left}\n{demo.output()}"
    assert not (root_dir(DEFAULT_CACHE_DIR) / "srv" / "pln123" / namespace).exists()
    assert dashboard_sites(base) is None  # nothing listens any more


def all_answered_and_pooled(sites: list[dict[str, Any]]) -> bool:
    """Calls answered at every site, Palembang's callers answered by other sites' agents."""
    by_name = {tile["site"]: tile for tile in sites}
    if set(by_name) != SITES:
        return False
    answered = all(tile["today"]["answered"] > 0 for tile in sites)
    borrowed = by_name["palembang"]["pooling"]["borrowed_today"]
    lent = sum(tile["pooling"]["lent_today"] for name, tile in by_name.items()
               if name != "palembang")
    return answered and borrowed >= 1 and lent >= 1
