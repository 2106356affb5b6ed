"""The APKT connector end to end, as processes: `pln123 serve` (no Asterisk needed: its AMI
link just keeps retrying), a real Redis, and the APKT stand-in, a real HTTP server.

A ticket reaches APKT exactly once although APKT fails the first three deliveries and the
sending `serve` is killed with SIGKILL in between; APKT's signed status webhook changes the
status the caller's next call reads; a forged or replayed one is refused and changes
nothing; APKT's own status is never sent back to it, a status set in pln123 is.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.task import deferLater

from acd.selfservice.tickets import RedisTicketDesk
from acd.store.redis import RedisStore
from tests.doubles.config import SHIPPED, shipped_data, write
from tests.fixtures.redis_server import RedisServer
from tests.harness.apkt import REPO, StandIn, start_standin
from tests.harness.reactor import poll, reactor
from tools.sandbox.ports import free_port

pytestmark = pytest.mark.redis

SITE = "palembang"


class Serve:
    """`pln123 serve` for SITE with the dashboard (and so the webhook) on `port`."""

    def __init__(self, config: Path, port: int, log: Path):
        self.config, self.port, self.log = config, port, log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pln123.cli.main", "serve", "--config",
                 str(self.config), "--site", SITE], cwd=REPO, stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()          # SIGKILL: no drain, nothing acknowledged
            self.process.wait(10)

    def answering(self) -> bool:
        try:
            urllib.request.urlopen(self.url + "/apkt/webhook", timeout=1)
        except urllib.error.HTTPError as error:
            return error.code == 405     # GET: the webhook is there
        except OSError:
            return False
        return False

    def metrics(self, token: str) -> str:
        request = urllib.request.Request(self.url + "/metrics",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=5) as reply:
            return str(reply.read().decode())


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[StandIn]:
    running = start_standin(tmp_path / "apkt", fail_first=3)
    yield running
    running.stop()


def config(tmp_path: Path, redis_url: str, standin: StandIn, port: int) -> Path:
    data: dict[str, Any] = shipped_data()
    data["redis"]["url"] = redis_url
    data["sites"][SITE]["ami"]["port"] = free_port(1)   # nobody there: AMI keeps retrying
    data["dashboard"]["listen"] = f"127.0.0.1:{port}"
    data["apkt"] = {"url": standin.url, "token_file": str(standin.token_file),
                    "webhook_secret_file": str(standin.secret_file), "timeout_s": 2,
                    "retry": {"initial_s": 0.4, "factor": 1.5, "max_s": 1}}
    return write(tmp_path / "pln.yaml", data)


def ticket_attempts(state: dict[str, Any], number: str) -> list[dict[str, Any]]:
    return [a for a in state["attempts"] if a["key"].startswith(f"{number}:")]


@pytest_twisted.ensureDeferred
async def test_a_ticket_reaches_apkt_once_across_failures_and_a_sigkill_and_statuses_come_back(
        fresh_redis: RedisServer, standin: StandIn, tmp_path: Path) -> None:
    port = free_port(1)
    serve = Serve(config(tmp_path, fresh_redis.url, standin, port), port, tmp_path / "serve.log")
    store = RedisStore(fresh_redis.url)
    await store.start()
    desk = RedisTicketDesk(store, reactor)
    try:
        serve.start()
        await poll(serve.answering, 30, f"pln123 serve on port {port}\n{log(serve)}")
        ticket = await desk.create("512345678901", "0711", "padam", "081234567890", SITE,
                                   "call-apkt-1")
        await poll(lambda: len(standin.state()["attempts"]) >= 2, 20,
                   f"two failed deliveries\n{log(serve)}")
        serve.kill()
        failed_before_kill = len(ticket_attempts(standin.state(), ticket.number))
        assert standin.state()["acceptances"] == {}

        serve.start()
        await poll(lambda: ticket.number in standin.state()["acceptances"], 30,
                   f"the ticket accepted after the restart\n{log(serve)}")
        await deferLater(reactor, 1.0, lambda: None)   # any duplicate would arrive by now
        state = standin.state()
        attempts = ticket_attempts(state, ticket.number)
        assert state["acceptances"] == {ticket.number: 1}
        assert [a["code"] for a in attempts] == [503, 503, 503, 201], attempts
        assert failed_before_kill >= 2
        assert {a["key"] for a in attempts} == {attempts[0]["key"]}   # one idempotency key
        assert state["tickets"][ticket.number]["idpel"] == "512345678901"

        # APKT: crew dispatched. The next call reads it.
        hook = serve.url + "/apkt/webhook"
        at = reactor.seconds() - 60
        sent = standin.webhook(url=hook, ticket=ticket.number, status="dispatched", at=at,
                               event_id="apkt-1")
        assert sent["code"] == 200, sent
        found = await desk.find(ticket.number)
        assert found is not None and (found.status, found.status_at) == ("dispatched",
                                                                         round(at, 3))
        # forged, or the same request again: 401, nothing changes
        forged = standin.webhook(url=hook, ticket=ticket.number, status="resolved",
                                 event_id="apkt-2", signature="bad")
        replayed = standin.webhook(replay=True)
        assert (forged["code"], replayed["code"]) == (401, 401), (forged, replayed)
        found = await desk.find(ticket.number)
        assert found is not None and found.status == "dispatched"

        # a status set in pln123 goes to APKT; APKT's own never comes back to it
        await desk.set_status(ticket.number, "resolved")
        await poll(lambda: ticket.number in standin.state()["statuses"], 20,
                   "the resolved status at APKT")
        assert [s["status"] for s in standin.state()["statuses"][ticket.number]] == [
            "resolved"]

        token = (SHIPPED.parent / "secrets" / "wallboard.token").read_text().strip()
        await poll(lambda: "pln123_apkt_backlog_entries 0.0" in serve.metrics(token), 10,
                   "an empty backlog in /metrics")
    finally:
        serve.kill()
        await store.close()


def log(serve: Serve) -> str:
    text = serve.log.read_text(errors="replace") if serve.log.exists() else ""
    return "\n".join(text.splitlines()[-30:])


