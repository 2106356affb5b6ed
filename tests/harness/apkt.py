"""The APKT stand-in (tools/apkt_standin) as a process of the test's own, and its commands.

Started on a free loopback port with a token and a webhook secret written to the test's
folder; `state()` is everything it recorded (every delivery attempt, the tickets it
accepted), `webhook(...)` makes it sign and send a status change to pln123.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TOKEN = "apkt-token-0123456789abcdef"
SECRET = "apkt-webhook-secret-0123456789abcdef"


@dataclass
class StandIn:
    process: subprocess.Popen[str]
    url: str
    token_file: Path
    secret_file: Path

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/_standin/state", timeout=5) as reply:
            data: dict[str, Any] = json.loads(reply.read())
        return data

    def command(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(self.url + f"/_standin/{name}",
                                         data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=15) as reply:
            data: dict[str, Any] = json.loads(reply.read())
        return data

    def webhook(self, **change: Any) -> dict[str, Any]:
        return self.command("webhook", change)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_standin(folder: Path, *, fail_first: int = 0) -> StandIn:
    folder.mkdir(parents=True, exist_ok=True)
    token_file, secret_file = folder / "apkt.token", folder / "apkt-webhook.secret"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.apkt_standin", "--port", "0",
         "--token-file", str(token_file), "--webhook-secret-file", str(secret_file),
         "--fail-first", str(fail_first), "--state-file", str(folder / "state.json")],
        cwd=REPO, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("listening on "):
        process.kill()
        raise RuntimeError(f"the APKT stand-in did not start: {line!r}")
    return StandIn(process, line.removeprefix("listening on "), token_file, secret_file)
