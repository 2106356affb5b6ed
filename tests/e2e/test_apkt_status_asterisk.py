"""APKT's status webhook end to end, as the caller hears it: the sandbox Asterisk, the
rendered dialplan and real Redis behind the IVR with repeat callers on, the dashboard's
web app (with an `apkt:` section, so it mounts `/apkt/webhook`) on a real port in this
process, and the APKT stand-in signing and sending the webhooks as APKT would.

One caller with an open ticket calls twice. Between the ticket's filing and the first
call APKT reports the crew dispatched; a replay of that report and a forged one (crew on
site, badly signed) are refused with 401, so the first call still tells "dispatched".
Then a correctly signed "on site" is applied, and the same caller's next call tells that.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import threads
from twisted.internet.defer import maybeDeferred

from acd.selfservice.models import Ticket
from acd.store.redis import RedisStore
from pln123.cli.dashboard import listen_dashboard
from pln123.config import load_config
from tests.doubles.config import SHIPPED, shipped_data, write
from tests.e2e.ivr_harness import RunningIVR, prompts_played, start_ivr
from tests.fixtures.redis_server import RedisServer
from tests.harness.apkt import StandIn, start_standin
from tests.harness.reactor import poll, reactor
from tools.sandbox import Instance
from tools.sandbox.ports import free_port

pytestmark = pytest.mark.asterisk

IDPEL = "512345678901"
STATUS_PROMPT = "pln123/ticket-status-"


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[StandIn]:
    running = start_standin(tmp_path / "apkt")
    yield running
    running.stop()


def web_config(tmp_path: Path, redis_url: str, standin: StandIn, port: int) -> Path:
    """The shipped config with the stand-in as APKT and the dashboard on `port`."""
    data: dict[str, Any] = shipped_data()
    data["redis"]["url"] = redis_url
    data["dashboard"]["listen"] = f"127.0.0.1:{port}"
    data["apkt"] = {"url": standin.url, "token_file": str(standin.token_file),
                    "webhook_secret_file": str(standin.secret_file)}
    return write(tmp_path / "pln.yaml", data)


async def webhook(standin: StandIn, **change: Any) -> dict[str, Any]:
    """The stand-in signs and sends one webhook. Its command blocks until our web app has
    answered, and the web app runs on this reactor: so the command waits in a thread."""
    reply: dict[str, Any] = await threads.deferToThread(standin.webhook, **change)
    return reply


async def status_heard(ivr: RunningIVR, played: dict[str, list[str]], number: str) -> list[str]:
    """One call from `number`, hung up once its ticket's status was read; the
    `ticket-status-*` prompts it heard (after the welcome, first of all)."""
    played.clear()
    await ivr.call("0711", number=number, hold=30)
    await poll(lambda: any(p.startswith(STATUS_PROMPT) for heard in played.values()
                           for p in heard), 40, f"the status read to {number}")
    [(channel, heard)] = played.items()
    assert heard[0] == "pln123/welcome" and heard[1] == "pln123/ticket-yours", heard
    await ivr.ivr.ami.send_action("Hangup", {"Channel": channel})
    await poll(lambda: not ivr.ivr.engine.active, 20, f"the call from {number} to end")
    return [p.removeprefix(STATUS_PROMPT) for p in heard if p.startswith(STATUS_PROMPT)]


async def status_of(ivr: RunningIVR, ticket: Ticket) -> tuple[str, float | None]:
    found = await ivr.tickets.find(ticket.number)
    assert found is not None
    return found.status, found.status_at


@pytest_twisted.ensureDeferred
async def test_a_signed_status_webhook_changes_the_next_call_a_forged_or_replayed_one_not(
        asterisk_site: Instance, fresh_redis: RedisServer, standin: StandIn,
        tmp_path: Path) -> None:
    port = free_port(1)
    config = load_config(web_config(tmp_path, fresh_redis.url, standin, port))
    assert config.apkt is not None
    ivr = await start_ivr(load_config(SHIPPED), asterisk_site, fresh_redis.url,
                          repeat_callers=True)
    web_store = RedisStore(fresh_redis.url)
    await web_store.start()
    web = listen_dashboard(config, web_store, reactor, "127.0.0.1", port)
    hook = f"http://127.0.0.1:{port}/apkt/webhook"
    # What the IVR plays, as Asterisk runs it.
    observer, played = await prompts_played(asterisk_site)
    try:
        number = ivr.new_number()
        ticket = await ivr.tickets.create(IDPEL, "0711", "padam", number, "palembang",
                                          f"earlier-{number}")
        assert ticket.status == "received"

        dispatched_at = round(reactor.seconds() - 120, 3)
        sent = await webhook(standin, url=hook, ticket=ticket.number, status="dispatched",
                             at=dispatched_at, event_id="apkt-1")
        assert sent["code"] == 200 and '"applied"' in sent["body"], sent
        assert await status_of(ivr, ticket) == ("dispatched", dispatched_at)

        # The good request captured and sent again, and a forged "crew on site".
        replayed = await webhook(standin, replay=True)
        forged = await webhook(standin, url=hook, ticket=ticket.number, status="on_site",
                               at=reactor.seconds() - 60, event_id="apkt-2", signature="bad")
        assert (forged["code"], replayed["code"]) == (401, 401), (forged, replayed)
        assert await status_of(ivr, ticket) == ("dispatched", dispatched_at)
        assert await status_heard(ivr, played, number) == ["dispatched"]

        on_site_at = round(reactor.seconds() - 30, 3)
        sent = await webhook(standin, url=hook, ticket=ticket.number, status="on_site",
                             at=on_site_at, event_id="apkt-3")
        assert 200 <= sent["code"] < 300 and '"applied"' in sent["body"], sent
        assert await status_of(ivr, ticket) == ("on_site", on_site_at)
        assert await status_heard(ivr, played, number) == ["on-site"]
    finally:
        await observer.stopService()
        await maybeDeferred(web.stopListening)
        await web_store.close()
        await ivr.stop()
