"""The demo's APKT: the stand-in (tools/apkt_standin) as one more process of the stack.

The demo's tickets go to it through each site's outbox, and it plays the field work back
(crew dispatched, on site, resolved: one step every FIELD_STEP_S) through the signed
webhook of the demo's dashboard, so a caller asking for their ticket's status hears it
move. Its port is chosen before the config is written: the config names its URL.
"""

from __future__ import annotations

import secrets
import socket
import sys
from pathlib import Path
from typing import Any

from tools.demo.processes import Child
from tools.sandbox.ports import free_port

FIELD_STEP_S = 20.0
START_TIMEOUT_S = 15.0


class DemoApkt:
    def __init__(self, workdir: Path, dashboard: str | None):
        self.port = free_port(socket.SOCK_STREAM)
        self.url = f"http://127.0.0.1:{self.port}"
        self.token_file = workdir / "apkt.token"
        self.secret_file = workdir / "apkt-webhook.secret"
        for path, value in ((self.token_file, secrets.token_hex(16)),
                            (self.secret_file, secrets.token_hex(32))):
            path.touch(mode=0o600)
            path.write_text(value + "\n", encoding="utf-8")
        argv = [sys.executable, "-m", "tools.apkt_standin", "--port", str(self.port),
                "--token-file", str(self.token_file),
                "--webhook-secret-file", str(self.secret_file),
                "--state-file", str(workdir / "apkt-state.json")]
        if dashboard is not None:
            argv += ["--auto-status", f"http://{dashboard}/apkt/webhook",
                     "--auto-every", str(FIELD_STEP_S)]
        self.child = Child("APKT stand-in", argv, workdir / "apkt.log")

    def overrides(self) -> dict[str, Any]:
        """The config's `apkt:` section for this stand-in."""
        return {"apkt": {"url": self.url, "token_file": str(self.token_file),
                         "webhook_secret_file": str(self.secret_file)}}

    def start(self) -> None:
        """ChildError (with its log) if it does not listen within START_TIMEOUT_S."""
        self.child.start()
        self.child.wait_for(lambda text: "listening on" in text, START_TIMEOUT_S,
                            "the listening line")

    def stop(self) -> None:
        self.child.stop()
