"""The AMI client against a real Asterisk 22 (the sandbox): no fakes on the other end."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted

from ivr.ami import (
    ActionRejected,
    AGISession,
    AMIActionError,
    AMIService,
    AsyncAGIRouter,
    Message,
    quote_agi_arg,
)
from ivr.ami.agi import AGIHangup
from tests.harness.ami import connect, originate_caller
from tests.harness.reactor import clock, poll, reactor, within
from tools.sandbox import Instance

pytestmark = pytest.mark.asterisk


class SessionCatcher:
    """Collects AsyncAGI sessions as they start, keyed by the dialled extension."""

    def __init__(self, service: AMIService):
        self.sessions: list[AGISession] = []
        self.router = AsyncAGIRouter(service, service.dispatcher, clock(), self.sessions.append)

    async def next(self, extension: str, seconds: float = 10) -> AGISession:
        def found() -> bool:
            return any(s.extension == extension for s in self.sessions)

        await poll(found, seconds, f"AsyncAGIStart for {extension}")
        session = next(s for s in self.sessions if s.extension == extension)
        self.sessions.remove(session)
        return session


async def hang_up(service: AMIService, session: AGISession) -> None:
    if not session.ended:
        try:
            await service.send_action("Hangup", {"Channel": session.channel})
        except AMIActionError:
            pass


@pytest_twisted.ensureDeferred
async def test_plain_and_md5_login_and_ping(asterisk_site: Instance) -> None:
    for md5 in (False, True):
        service = await connect(asterisk_site, md5=md5)
        try:
            pong: Message = await within(service.send_action("Ping"), 5, "Pong")
            assert pong.get("Ping") == "Pong"
            assert service.protocol is not None
            assert (service.protocol.framer.version or "").split(".")[0].isdigit()
        finally:
            await service.stopService()


@pytest_twisted.ensureDeferred
async def test_wrong_secret_is_refused_and_retried(asterisk_site: Instance) -> None:
    from twisted.internet.endpoints import TCP4ClientEndpoint

    from ivr.ami import AMICredentials

    service = AMIService(
        TCP4ClientEndpoint(reactor, "127.0.0.1", asterisk_site.ami_port),
        AMICredentials("pln123", "wrong-secret"), clock(), retry_policy=lambda a: 0.3,
    )
    service.startService()
    try:
        await poll(lambda: service._login_failures >= 2, 10, "two refused logins")
        assert service.protocol is None
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_command_output_lines_and_least_privilege(asterisk_site: Instance) -> None:
    admin = await connect(asterisk_site, user="sandbox-admin")
    pln123 = await connect(asterisk_site)
    try:
        assert admin.protocol is not None and pln123.protocol is not None
        lines = await within(admin.command("core show version"), 5, "Command output")
        assert any(line.startswith("Asterisk 22.") for line in lines)
        many = await admin.command("core show help")
        assert len(many) > 50
        with pytest.raises(AMIActionError):
            await pln123.command("core show version")
    finally:
        await admin.stopService()
        await pln123.stopService()


@pytest_twisted.ensureDeferred
async def test_agi_stream_file_and_get_data_with_dtmf(asterisk_site: Instance) -> None:
    service = await connect(asterisk_site)
    catcher = SessionCatcher(service)
    try:
        await within(
            originate_caller(service, "0711123", variables={"DTMF": "1234#", "PAUSE": "1.5"}),
            5, "Originate queued",
        )
        session = await catcher.next("0711123")
        assert session.caller_number == "0811223344"
        assert session.env["agi_context"] == "pln-inbound"
        played = await within(session.stream_file("beep", ""), 10, "STREAM FILE")
        assert played.code == 200 and not played.failed
        assert int(played.fields["endpos"]) > 0
        got = await within(session.get_data("silence/10", 8000, 6), 15, "GET DATA")
        assert got.code == 200
        assert got.digits == "1234"
        # Asterisk ends AsyncAGI when STREAM FILE cannot open its file (RESULT_FAILURE):
        # the command fails as a lost session, not as a result to carry on from.
        with pytest.raises(AGIHangup):
            await within(session.stream_file("pln123/no-such-prompt", ""), 10, "missing file")
        assert await within(session.when_ended(), 5, "session end") == "left AGI"
        await hang_up(service, session)
    finally:
        catcher.router.close()
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_bad_agi_commands_are_reported(asterisk_site: Instance) -> None:
    from ivr.ami.agi import AGICommandError

    service = await connect(asterisk_site)
    catcher = SessionCatcher(service)
    try:
        await originate_caller(service, "0711124", variables={"HOLD": "20"})
        session = await catcher.next("0711124")
        with pytest.raises(AGICommandError) as unknown:
            await within(session.execute("NO SUCH COMMAND"), 10, "510")
        assert unknown.value.result.code == 510
        with pytest.raises(AGICommandError) as usage:
            await within(session.execute("GET DATA"), 10, "520")
        assert usage.value.result.code == 520
        await hang_up(service, session)
    finally:
        catcher.router.close()
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_hangup_during_a_command_fails_it(asterisk_site: Instance) -> None:
    service = await connect(asterisk_site)
    catcher = SessionCatcher(service)
    try:
        await originate_caller(service, "0711125", caller_exten="hangup",
                               variables={"HANGUP_AFTER": "2"})
        session = await catcher.next("0711125")
        started = reactor.seconds()
        with pytest.raises(AGIHangup):
            await within(session.get_data("silence/10", 20000, 12), 15, "hangup")
        assert reactor.seconds() - started < 10, "failed by the hangup, not a timeout"
        assert session.pending_count() == 0
        assert "0711125" not in [s.extension for s in catcher.router.sessions.values()]
    finally:
        catcher.router.close()
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_list_action_core_show_channels(asterisk_site: Instance) -> None:
    service = await connect(asterisk_site)
    catcher = SessionCatcher(service)
    try:
        await originate_caller(service, "0711126", variables={"HOLD": "20"})
        session = await catcher.next("0711126")
        listed = await within(service.send_list_action("CoreShowChannels"), 5, "list")
        channels = [event["Channel"] for event in listed.events]
        assert session.channel in channels
        assert listed.complete is not None
        assert int(listed.complete["ListItems"]) == len(listed.events)
        await hang_up(service, session)
    finally:
        catcher.router.close()
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_injection_in_caller_name_stays_data(asterisk_site: Instance) -> None:
    admin = await connect(asterisk_site, user="sandbox-admin", events="on")
    service = await connect(asterisk_site)
    injected_ran: list[Message] = []
    admin.dispatcher.subscribe("UserEvent", lambda m: injected_ran.append(m)
                               if m.get("UserEvent") == "PlnInjectionExecuted" else None)
    names: list[str] = []
    # pln123's own user receives no Newchannel/NewCallerid (its rendered event filters):
    # the name is read on the admin's connection and then used on pln123's.
    admin.dispatcher.subscribe(
        "Newchannel", lambda m: names.append(m.get("CallerIDName") or ""))
    admin.dispatcher.subscribe(
        "NewCallerid", lambda m: names.append(m.get("CallerIDName") or ""))
    catcher = SessionCatcher(service)
    assert service.protocol is not None
    transport: Any = service.protocol.transport
    written: list[bytes] = []
    original_write = transport.write

    def recording_write(data: bytes) -> None:
        written.append(data)
        original_write(data)

    transport.write = recording_write
    try:
        await originate_caller(service, "evil", variables={"HOLD": "20"})
        session = await catcher.next("evil")
        await poll(lambda: any("Action: Originate" in n for n in names), 5, "the evil name")
        evil = next(n for n in names if "Action: Originate" in n)
        assert "\r\n\r\nAction: Originate" in evil  # arrived decoded, as data
        # Using it in an action or an AGI argument is refused before anything is written.
        before = len(written)
        with pytest.raises(ActionRejected):
            service.send_action("UserEvent", {"UserEvent": "x", "Name": evil})
        with pytest.raises(ValueError):
            quote_agi_arg(evil)
        assert len(written) == before
        await session.answer()
        await hang_up(service, session)
        await deferred_sleep(1.0)
        actions = [chunk for chunk in written if b"Action:" in chunk]
        # One Originate, one ANSWER, one Hangup (+ keepalive pings): never a second Originate.
        assert sum(chunk.count(b"Action: Originate") for chunk in actions) == 1
        assert injected_ran == []
    finally:
        catcher.router.close()
        await service.stopService()
        await admin.stopService()


async def deferred_sleep(seconds: float) -> None:
    from twisted.internet.task import deferLater

    await deferLater(reactor, seconds, lambda: None)


@pytest_twisted.ensureDeferred
async def test_reconnects_after_asterisk_restart(asterisk_site: Instance) -> None:
    service = await connect(asterisk_site)
    resyncs: list[float] = []
    service.add_resync_hook(lambda protocol: resyncs.append(reactor.seconds()))
    try:
        pending = service.send_action("Ping")
        asterisk_site.stop()
        await poll(lambda: service.protocol is None, 10, "the client to see the drop")
        with pytest.raises(Exception):  # noqa: B017 - lost or pong: both end it
            await within(pending, 5, "pending action to end")
        # Asterisk stays down for a while: the client keeps retrying with backoff.
        await deferred_sleep(2.0)
        asterisk_site.start()
        started = reactor.seconds()
        await poll(lambda: len(resyncs) >= 1, 10, "re-login and resync after restart")
        assert resyncs[0] - started <= 10
        assert service.connections == 2
        pong = await within(service.send_action("Ping"), 5, "Pong after reconnect")
        assert pong.get("Ping") == "Pong"
    finally:
        await service.stopService()
