"""The APKT stand-in: APKT's side of docs/apkt.md, as a small HTTP server process.

    python -m tools.apkt_standin --port 0 --token-file T --webhook-secret-file S \\
        [--fail-first 3] [--state-file F]

What pln123 sends is checked as APKT would (bearer token, JSON fields, `Idempotency-Key`)
and recorded so that a test can measure "accepted exactly once": every delivery *attempt*
(path, key, ticket, the answer given), the tickets accepted (a ticket is accepted once; a
later creation of the same ticket is answered 200 `duplicate`), the statuses pln123 set.
A key seen before gets the answer it got the first time it was accepted.

Commands, for the tests and the demo (no token; bind it to loopback):

    GET  /_standin/state     everything recorded, as JSON (also written to --state-file)
    POST /_standin/fail      {"count": n, "code": 503}: fail the next n deliveries
    POST /_standin/webhook   {"url", "ticket", "status", "at", "event_id",
                              "signature": "good" | "bad", "timestamp_offset_s": 0}
                             sign and send one status webhook to pln123; or {"replay": true}
                             to send the last one again, byte for byte. Replies with
                             pln123's {"code", "body"}.

With `--auto-status URL` it plays APKT's field work too (the demo): every `--auto-every`
seconds each accepted ticket moves one step, dispatched -> on_site -> resolved, each step
a signed webhook to URL.

The first line on stdout is `listening on http://<host>:<port>` (the port when 0 was asked).
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pln123.apkt.contract import (
    SIGNATURE_HEADER,
    TICKET_FIELDS,
    TICKETS_PATH,
    TIMESTAMP_HEADER,
    signature_header,
)

MAX_BODY = 64 * 1024
STATUSES = ("received", "dispatched", "on_site", "resolved")
FIELD_WORK = ("dispatched", "on_site", "resolved")


class StandIn:
    """APKT's state; every method holds the lock (the server is threaded)."""

    def __init__(self, token: str, secret: bytes, fail_first: int, fail_code: int,
                 state_file: Path | None):
        self.token = token
        self.secret = secret
        self.fail_next = fail_first
        self.fail_code = fail_code
        self.state_file = state_file
        self.lock = threading.Lock()
        self.attempts: list[dict[str, Any]] = []
        self.tickets: dict[str, dict[str, Any]] = {}
        self.acceptances: dict[str, int] = {}
        self.statuses: dict[str, list[dict[str, Any]]] = {}
        self.answers: dict[str, tuple[int, dict[str, Any]]] = {}
        self.webhooks: list[dict[str, Any]] = []
        self.last_webhook: tuple[str, bytes, dict[str, str]] | None = None
        self.progress: dict[str, int] = {}   # ticket -> steps of FIELD_WORK sent (auto)
        if state_file is not None and state_file.exists():
            self._load(json.loads(state_file.read_text(encoding="utf-8")))

    def state(self) -> dict[str, Any]:
        return {"attempts": self.attempts, "tickets": self.tickets,
                "acceptances": self.acceptances, "statuses": self.statuses,
                "fail_next": self.fail_next, "webhooks": self.webhooks,
                "answers": {key: list(answer) for key, answer in self.answers.items()}}

    def _load(self, data: dict[str, Any]) -> None:
        self.attempts = data.get("attempts", [])
        self.tickets = data.get("tickets", {})
        self.acceptances = data.get("acceptances", {})
        self.statuses = data.get("statuses", {})
        self.webhooks = data.get("webhooks", [])
        self.answers = {key: (int(a[0]), a[1]) for key, a in data.get("answers", {}).items()}

    def save(self) -> None:
        if self.state_file is None:
            return
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.state(), indent=1), encoding="utf-8")
        os.replace(temporary, self.state_file)

    def deliver(self, path: str, headers: dict[str, str], body: bytes
                ) -> tuple[int, dict[str, Any]]:
        """One delivery from pln123: recorded, then answered as APKT would."""
        key = headers.get("idempotency-key", "")
        attempt: dict[str, Any] = {"path": path, "key": key, "at": round(time.time(), 3)}
        self.attempts.append(attempt)
        code, reply = self._answer(path, headers, key, body, attempt)
        attempt["code"] = code
        self.save()
        return code, reply

    def _answer(self, path: str, headers: dict[str, str], key: str, body: bytes,
                attempt: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if headers.get("authorization", "") != f"Bearer {self.token}":
            return 401, {"error": "bad token"}
        if self.fail_next > 0:
            self.fail_next -= 1
            return self.fail_code, {"error": "failing on command"}
        if not key:
            return 400, {"error": "Idempotency-Key is required"}
        if key in self.answers:
            return self.answers[key]
        try:
            data = json.loads(body)
        except ValueError:
            return 400, {"error": "not JSON"}
        if not isinstance(data, dict) or not str(data.get("ticket", "")).isdigit():
            return 400, {"error": "ticket is required"}
        number = str(data["ticket"])
        attempt["ticket"] = number
        if path == TICKETS_PATH:
            missing = [name for name in (*TICKET_FIELDS, "created_at", "version")
                       if name not in data]
            if missing:
                return 422, {"error": f"missing {', '.join(missing)}"}
            if number in self.tickets:
                answer: tuple[int, dict[str, Any]] = (200, {"ticket": number,
                                                            "duplicate": True})
            else:
                self.tickets[number] = data
                self.acceptances[number] = self.acceptances.get(number, 0) + 1
                answer = (201, {"ticket": number, "apkt_id": f"APKT-{number}"})
        elif path == f"{TICKETS_PATH}/{number}/status":
            if number not in self.tickets:
                return 404, {"error": "no such ticket"}
            if data.get("status") not in STATUSES:
                return 422, {"error": "unknown status"}
            self.statuses.setdefault(number, []).append(data)
            answer = (200, {"ticket": number, "status": data["status"]})
        else:
            return 404, {"error": "no such resource"}
        self.answers[key] = answer
        return answer

    def field_work(self, url: str) -> None:
        """One step of every accepted ticket still open (`--auto-status`)."""
        for number in list(self.tickets):
            step = self.progress.get(number, 0)
            if step >= len(FIELD_WORK):
                continue
            self.progress[number] = step + 1
            self.webhook({"url": url, "ticket": number, "status": FIELD_WORK[step],
                          "event_id": f"auto-{number}-{step}"})

    def webhook(self, command: dict[str, Any]) -> dict[str, Any]:
        """Sign and send one status change to pln123 (or the last one again)."""
        if command.get("replay"):
            if self.last_webhook is None:
                return {"code": 0, "body": "nothing sent yet"}
            url, body, headers = self.last_webhook
        else:
            url = str(command["url"])
            body = json.dumps({"ticket": str(command["ticket"]),
                               "status": str(command["status"]),
                               "at": float(command.get("at", time.time())),
                               "event_id": str(command.get("event_id")
                                               or f"ev-{time.time_ns()}")}).encode()
            stamp = str(int(time.time() + float(command.get("timestamp_offset_s", 0))))
            secret = self.secret if command.get("signature", "good") == "good" else b"x" * 32
            headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: stamp,
                       SIGNATURE_HEADER: signature_header(secret, stamp, body)}
            self.last_webhook = (url, body, headers)
        if not url.startswith(("http://", "https://")):
            return {"code": 0, "body": f"not an http(s) URL: {url!r}"}
        request = urllib.request.Request(url, data=body, headers=headers,  # noqa: S310
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
                code, text = reply.status, reply.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            code, text = error.code, error.read().decode("utf-8", "replace")
        except OSError as error:   # nobody listening: no HTTP code at all
            code, text = 0, str(error)
        result = {"code": code, "body": text}
        self.webhooks.append({"url": url, "code": code})
        self.save()
        return result


def handler_for(standin: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass   # the test reads the state, not an access log

        def do_GET(self) -> None:
            if self.path == "/_standin/state":
                with standin.lock:
                    self._reply(200, standin.state())
            else:
                self._reply(404, {"error": "no such resource"})

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY:
                self._reply(413, {"error": "too big"})
                return
            body = self.rfile.read(length)
            if self.path == "/_standin/fail":
                command = json.loads(body or b"{}")
                with standin.lock:
                    standin.fail_next = int(command.get("count", 1))
                    standin.fail_code = int(command.get("code", 503))
                    self._reply(200, {"fail_next": standin.fail_next})
            elif self.path == "/_standin/webhook":
                with standin.lock:
                    self._reply(200, standin.webhook(json.loads(body)))
            else:
                headers = {name.lower(): value for name, value in self.headers.items()}
                with standin.lock:
                    code, reply = standin.deliver(self.path, headers, body)
                self._reply(code, reply)

        def _reply(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.apkt_standin",
                                     description="APKT's side of docs/apkt.md, for tests")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token-file", type=Path, required=True)
    parser.add_argument("--webhook-secret-file", type=Path, required=True)
    parser.add_argument("--fail-first", type=int, default=0,
                        help="answer the first N deliveries with --fail-code")
    parser.add_argument("--fail-code", type=int, default=503)
    parser.add_argument("--state-file", type=Path)
    parser.add_argument("--auto-status", metavar="WEBHOOK_URL",
                        help="move accepted tickets through the field work, signed webhooks")
    parser.add_argument("--auto-every", type=float, default=20.0, metavar="SECONDS")
    args = parser.parse_args(argv)
    standin = StandIn(args.token_file.read_text(encoding="utf-8").strip(),
                      args.webhook_secret_file.read_text(encoding="utf-8").strip().encode(),
                      args.fail_first, args.fail_code, args.state_file)
    server = ThreadingHTTPServer((args.host, args.port), handler_for(standin))
    print(f"listening on http://{args.host}:{server.server_port}", flush=True)
    if args.auto_status:
        threading.Thread(target=_field_work, args=(standin, args.auto_status, args.auto_every),
                         daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _field_work(standin: StandIn, url: str, every_s: float) -> None:
    while True:
        time.sleep(every_s)
        with standin.lock:
            try:
                standin.field_work(url)
            except ValueError as error:
                print(f"field work: {error}", flush=True)
