"""AMI ingest benchmark: our AMI path against asterisk-ami and panoramisk on the same bytes.

    python -m benchmarks.ami_ingest --capture benchmarks/captures/load.raw
    python -m benchmarks.ami_ingest            # record >= 10,000 events from the sandbox first

The capture is the raw byte stream a client receives from Asterisk, banner included. It is
cut into fixed slices (`--chunk-size`, 4096 bytes by default: a typical recv() size) and the
very same list of slices is pushed through

(a) ours: `AMIProtocol.dataReceived` (on a StringTransport, with a Clock) -> Framer ->
    Message -> EventDispatcher -> one handler per subscribed event name;
(b) asterisk-ami 0.1.7: its own `AMIClient.listen()` loop (`_next_pack` splitting on CRLF
    then CRLFCRLF, `fire_recv_pack` -> `Response.read` / `Event.read`, event listeners),
    with the socket replaced by one that returns the slices;
(c) panoramisk: its own `AMIProtocol.data_received` (decode, split on CRLFCRLF,
    `Message.from_line`, `handle_message`) wired to a `Manager` as `Manager.connection_made`
    wires it, dispatching through `Manager.dispatch`.

The rivals get their cheapest way to reach the five names: one plain event listener (one
`register_event("*")` callback) that checks the name against a set. Their filtering
helpers (`EventListener(white_list=...)`, one fnmatch pattern per name) cost each about
10 % more on a load capture, so the ratios below are, if anything, understated.

Every handler only counts what it receives, by event name. Each parser runs `--repeat`
times, interleaved, each run on a fresh client; the best run gives events/s, where "events"
is every `Event:` packet in the capture (subscribed or not). The last line printed is
`messages=N events=M ratio_vs_asterisk_ami=X.XX ratio_vs_panoramisk=Y.YY`, the ratios being
our events/s over theirs.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import statistics
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CAPTURE_DIR = Path(__file__).resolve().parent / "captures"
DEFAULT_CHUNK_SIZE = 4096
DEFAULT_REPEAT = 7
DEFAULT_MIN_EVENTS = 10_000
# Five event names the IVR/ACD subscribes to, all frequent under call load: a channel
# appears, changes state, rings an agent, enters the IVR, hangs up.
DEFAULT_EVENTS = ("Newchannel", "Newstate", "DialBegin", "AsyncAGIStart", "Hangup")

BANNER_PREFIX = b"Asterisk Call Manager/"
_TERMINATOR = b"\r\n\r\n"


# -- the capture -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptureStats:
    """What the capture holds, counted independently of the three parsers."""

    banner: str | None
    messages: int
    events: int
    responses: int
    by_event: Counter[str]


def capture_stats(data: bytes) -> CaptureStats:
    """Count packets by splitting on CRLFCRLF: the reference the parsers are checked against."""
    banner: str | None = None
    body = data
    if data.startswith(BANNER_PREFIX):
        line, _sep, body = data.partition(b"\r\n")
        banner = line.decode("utf-8", "replace")
    messages = events = responses = 0
    by_event: Counter[str] = Counter()
    for packet in body.split(_TERMINATOR):
        packet = packet.strip(b"\r\n")
        if not packet:
            continue
        messages += 1
        first = packet.split(b"\r\n", 1)[0]
        key, _sep, value = first.partition(b":")
        if key.lower() == b"event":
            events += 1
            by_event[value.strip().decode("utf-8", "replace")] += 1
        elif key.lower() == b"response":
            responses += 1
    return CaptureStats(banner, messages, events, responses, by_event)


def split_chunks(data: bytes, chunk_size: int = DEFAULT_CHUNK_SIZE) -> list[bytes]:
    """Fixed-size slices, as recv() would hand them over from a busy socket."""
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    return [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)]


def load_capture(path: Path) -> bytes:
    data = path.read_bytes()
    if not data:
        raise ValueError(f"{path}: empty capture")
    return data


def save_capture(data: bytes, name: str, directory: Path = CAPTURE_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.raw"
    path.write_bytes(data)
    return path


# -- the three ingest paths ------------------------------------------------------------------


@dataclass
class Outcome:
    """One run: messages parsed (None when not counted) and events delivered, by name."""

    messages: int | None
    delivered: Counter[str] = field(default_factory=Counter)
    skipped: int | None = None


def ingest_ours(chunks: Iterable[bytes], names: Sequence[str], count: bool = True) -> Outcome:
    """pln123: dataReceived -> Framer -> Message -> EventDispatcher -> handlers.

    Counting is free here (the protocol keeps `packets_received`), so `count` changes nothing.
    """
    from twisted.internet.task import Clock
    from twisted.internet.testing import StringTransport

    from ivr.ami.events import EventDispatcher
    from ivr.ami.message import Message
    from ivr.ami.protocol import AMIProtocol

    delivered: Counter[str] = Counter()
    dispatcher = EventDispatcher()
    for name in names:

        def handler(message: Message, _name: str = name) -> None:
            delivered[_name] += 1

        dispatcher.subscribe(name, handler)
    protocol = AMIProtocol(Clock(), dispatcher)
    protocol.makeConnection(StringTransport())  # type: ignore[no-untyped-call]
    receive = protocol.dataReceived
    for chunk in chunks:
        receive(chunk)
    return Outcome(protocol.packets_received, delivered, protocol.events_skipped)


class _ReplaySocket:
    """Stands in for asterisk-ami's socket: recv() returns the next slice, then b"" (EOF)."""

    def __init__(self, chunks: Iterable[bytes]):
        self._next = iter(chunks).__next__

    def recv(self, _bufsize: int) -> bytes:
        try:
            return self._next()
        except StopIteration:
            return b""

    def close(self) -> None:
        pass


def ingest_asterisk_ami(
    chunks: Iterable[bytes], names: Sequence[str], count: bool = False
) -> Outcome:
    """asterisk-ami: the client's own listen() loop on a replayed socket.

    `listen()` runs `_next_pack()` (banner line, then `re.split` on CRLFCRLF over the
    accumulated bytes), decodes each packet, and `fire_recv_pack()` calls `Response.read` or
    `Event.read` and hands events to the event listeners: here one plain function that
    keeps the subscribed names (cheaper than an `EventListener` with a `white_list`). With
    `count`, a client listener counts every packet too (a call per packet, so timed runs
    leave it out).
    """
    from asterisk.ami import AMIClient  # type: ignore[import-untyped]

    delivered: Counter[str] = Counter()
    client = AMIClient()
    client._socket = _ReplaySocket(chunks)
    client.finished = threading.Event()

    wanted = frozenset(names)

    def on_event(event: Any, source: Any) -> None:
        if event.name in wanted:
            delivered[event.name] += 1

    client.add_event_listener(on_event)
    messages: int | None = None
    errors: list[BaseException | None] = []
    if count:
        seen = Counter[str]()

        def tally(kind: str) -> Callable[..., None]:
            def on(**_kwargs: Any) -> None:
                seen[kind] += 1

            return on

        def on_disconnect(source: Any, error: BaseException | None = None) -> None:
            errors.append(error)

        client.add_listener(
            on_event=tally("event"),
            on_response=tally("response"),
            on_unknown=tally("unknown"),
            on_disconnect=on_disconnect,
        )
    client.listen()
    if count:
        messages = sum(seen.values())
        # listen() ends on the StopIteration of its exhausted packet generator; anything else
        # is a parsing failure it swallowed.
        unexpected = [e for e in errors if e is not None and not isinstance(e, StopIteration)]
        if unexpected:
            raise RuntimeError(f"asterisk-ami stopped on {unexpected[0]!r}")
    return Outcome(messages, delivered)


class _NullTransport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def ingest_panoramisk(
    chunks: Iterable[bytes], names: Sequence[str], count: bool = False
) -> Outcome:
    """panoramisk: its AMIProtocol.data_received on a Manager, as Manager.connection_made sets
    it up, with no network and no event loop.

    One `register_event("*")` callback keeps the subscribed names (cheaper than one
    fnmatch pattern per name). The Manager's stock `FullyBooted` callback (re-send queued
    actions, a coroutine) is replaced by a no-op so nothing needs a loop; its pattern stays,
    so dispatch costs the same. `connection_lost` (reconnect) is a no-op for the same
    reason. With `count`, `handle_message` is wrapped to count every parsed message.
    """
    from panoramisk.ami_protocol import (  # type: ignore[import-untyped]
        AMIProtocol as PanoramiskProtocol,
    )
    from panoramisk.manager import Manager  # type: ignore[import-untyped]

    delivered: Counter[str] = Counter()
    manager = Manager()
    manager.callbacks["FullyBooted"] = [lambda _manager, _event: None]
    manager.connection_lost = lambda _exc: None
    wanted = frozenset(names)

    def callback(_manager: Any, event: Any) -> None:
        if event.event in wanted:
            delivered[event.event] += 1

    manager.register_event("*", callback)
    protocol = PanoramiskProtocol()
    protocol.connection_made(_NullTransport())
    protocol.queue = deque()
    protocol.factory = manager
    protocol.log = manager.log
    protocol.config = manager.config
    protocol.encoding = manager.encoding = manager.config["encoding"]
    manager.responses = protocol.responses = {}
    messages: int | None = None
    if count:
        messages = 0
        handle = protocol.handle_message

        def counting_handle(message: Any) -> None:
            nonlocal messages
            assert messages is not None
            messages += 1
            handle(message)

        protocol.handle_message = counting_handle
    receive = protocol.data_received
    for chunk in chunks:
        receive(chunk)
    return Outcome(messages, delivered)


Ingest = Callable[[Iterable[bytes], Sequence[str], bool], Outcome]

PARSERS: dict[str, Ingest] = {
    "pln123": ingest_ours,
    "asterisk-ami": ingest_asterisk_ami,
    "panoramisk": ingest_panoramisk,
}


# -- measuring -------------------------------------------------------------------------------


@dataclass
class ParserReport:
    name: str
    messages: int
    delivered: Counter[str]
    skipped: int | None
    times: list[float]

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def rate(self, count: int) -> float:
        return count / self.best


def measure(
    chunks: Sequence[bytes],
    names: Sequence[str],
    repeat: int = DEFAULT_REPEAT,
    parsers: dict[str, Ingest] | None = None,
) -> list[ParserReport]:
    """A counting run per parser, then `repeat` timed runs of each, interleaved."""
    parsers = PARSERS if parsers is None else parsers
    reports: dict[str, ParserReport] = {}
    for name, ingest in parsers.items():
        outcome = ingest(chunks, names, True)
        assert outcome.messages is not None
        reports[name] = ParserReport(name, outcome.messages, outcome.delivered,
                                     outcome.skipped, [])
    for _ in range(repeat):
        for name, ingest in parsers.items():
            gc.collect()
            start = time.perf_counter()
            outcome = ingest(chunks, names, False)
            elapsed = time.perf_counter() - start
            reports[name].times.append(elapsed)
            if outcome.delivered != reports[name].delivered:
                raise AssertionError(f"{name}: deliveries differ between runs")
    return list(reports.values())


def check(stats: CaptureStats, reports: Sequence[ParserReport], names: Sequence[str]) -> list[str]:
    """Sanity notes: message counts against the capture, deliveries against its events."""
    notes: list[str] = []
    expected = Counter({name: stats.by_event.get(name, 0) for name in names})
    for report in reports:
        if report.messages != stats.messages:
            notes.append(
                f"{report.name}: parsed {report.messages} messages, the capture holds "
                f"{stats.messages}"
            )
        delivered = Counter({name: report.delivered.get(name, 0) for name in names})
        if delivered != expected:
            notes.append(f"{report.name}: delivered {dict(delivered)}, expected {dict(expected)}")
    return notes


def summary_line(stats: CaptureStats, reports: Sequence[ParserReport]) -> str:
    """The benchmark's last line: our events/s over theirs."""
    by_name = {report.name: report for report in reports}
    ours = by_name["pln123"]

    def ratio(other: str) -> float:
        return by_name[other].best / ours.best  # same event count: a ratio of times

    return (
        f"messages={ours.messages} events={stats.events} "
        f"ratio_vs_asterisk_ami={ratio('asterisk-ami'):.2f} "
        f"ratio_vs_panoramisk={ratio('panoramisk'):.2f}"
    )


def report_lines(
    stats: CaptureStats,
    reports: Sequence[ParserReport],
    names: Sequence[str],
    chunks: Sequence[bytes],
    chunk_size: int,
) -> list[str]:
    total = sum(len(chunk) for chunk in chunks)
    lines = [
        f"capture: {total} bytes, banner {stats.banner!r}, {stats.messages} messages "
        f"({stats.events} events, {stats.responses} responses), {len(chunks)} packets "
        f"of {chunk_size} bytes",
        "subscribed: " + ", ".join(f"{name}={stats.by_event.get(name, 0)}" for name in names)
        + f" ({sum(stats.by_event.get(n, 0) for n in names)} of {stats.events} events)",
        f"runs: {len(reports[0].times)} per parser, interleaved; events/s from the best run",
    ]
    for report in reports:
        delivered = sum(report.delivered.values())
        extra = f", {report.skipped} skipped unparsed" if report.skipped is not None else ""
        lines.append(
            f"{report.name:>13}: messages={report.messages} delivered={delivered}{extra}  "
            f"best={report.best * 1000:.1f} ms median={report.median * 1000:.1f} ms  "
            f"{report.rate(stats.events):,.0f} events/s "
            f"({total / report.best / 1e6:.1f} MB/s)"
        )
    notes = check(stats, reports, names)
    lines.extend(f"check: {note}" for note in notes)
    if not notes:
        lines.append(
            f"check: all three parsed {stats.messages} messages; each delivered all "
            f"{sum(stats.by_event.get(n, 0) for n in names)} events of the subscribed names"
        )
    lines.append(summary_line(stats, reports))
    return lines


def run_benchmark(
    data: bytes,
    names: Sequence[str] = DEFAULT_EVENTS,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    repeat: int = DEFAULT_REPEAT,
) -> list[str]:
    """Everything but the recording: returns the lines to print, the summary last."""
    stats = capture_stats(data)
    chunks = split_chunks(data, chunk_size)
    reports = measure(chunks, names, repeat)
    return report_lines(stats, reports, names, chunks, chunk_size)


# -- recording from the sandbox --------------------------------------------------------------

CALLER_NAMES = ("Budi Santoso", "Siti Rahayu", "Dewi Lestari", "Agus Setiawan", "José Ñúñez")


def _login_action(action_id: str, username: str, secret: str, events: str) -> bytes:
    return (
        f"Action: Login\r\nActionID: {action_id}\r\nUsername: {username}\r\n"
        f"Secret: {secret}\r\nEvents: {events}\r\n\r\n"
    ).encode()


def _originate_action(number: int) -> bytes:
    """Call `number` of the load: a plain call, a queue call or an IVR (AsyncAGI) call."""
    name = CALLER_NAMES[number % len(CALLER_NAMES)]
    kind = number % 3
    if kind == 0:  # waits in app_queue `load` for one of ten Local agents
        target = "Channel: Local/queue@load\r\nApplication: Wait\r\nData: 40\r\n"
    elif kind == 1:  # answers, waits 1-3 s, hangs up
        target = f"Channel: Local/{1000 + number}@load\r\nApplication: Wait\r\nData: 40\r\n"
    else:  # enters AGI(agi:async); the caller half hangs up after 2 s
        target = (
            "Channel: Local/0711123@pln-inbound\r\nContext: test-caller\r\n"
            "Exten: hangup\r\nPriority: 1\r\nVariable: HANGUP_AFTER=2\r\n"
        )
    return (
        f"Action: Originate\r\nActionID: load-{number}\r\n{target}"
        f'CallerID: "{name}" <0711{number:06d}>\r\nAsync: true\r\n\r\n'
    ).encode()


def record_capture(
    host: str,
    port: int,
    username: str,
    secret: str,
    *,
    min_events: int = DEFAULT_MIN_EVENTS,
    calls_per_second: float = 12.0,
    max_seconds: float = 300.0,
    progress: Callable[[str], None] | None = None,
) -> bytes:
    """Record every byte one `Events: on` session receives while calls run, banner included.

    A second session (events off) originates Local channels, in turn: a call that waits in
    app_queue `load` for a Local agent, a call that answers, waits 1-3 s and hangs up, and
    an IVR call into `AGI(agi:async)` whose caller hangs up after 2 s. Originating stops
    once the recording holds `min_events` events; the recording stops when
    `CoreShowChannels` reports no channel left, so every call in it is complete.
    """
    import selectors
    import socket

    say = progress or (lambda _text: None)
    recorder = socket.create_connection((host, port), timeout=10)
    loader = socket.create_connection((host, port), timeout=10)
    received: list[bytes] = []
    loader_buffer = bytearray()
    try:
        recorder.sendall(_login_action("bench-recorder", username, secret, "on"))
        loader.sendall(_login_action("bench-loader", username, secret, "off"))
        recorder.setblocking(False)
        loader.setblocking(False)
        selector = selectors.DefaultSelector()
        selector.register(recorder, selectors.EVENT_READ, "recorder")
        selector.register(loader, selectors.EVENT_READ, "loader")

        def pump(timeout: float) -> None:
            for key, _mask in selector.select(timeout):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError(f"Asterisk closed the {key.data} session")
                if key.data == "recorder":
                    received.append(data)
                else:
                    loader_buffer.extend(data)

        def recorded_events() -> int:
            return b"".join(received).count(b"\r\nEvent: ")

        deadline = time.monotonic() + 10
        while b"Message: Authentication accepted" not in loader_buffer or not any(
            b"Authentication accepted" in chunk for chunk in received
        ):
            if b"Response: Error" in loader_buffer or any(
                b"Response: Error" in chunk for chunk in received
            ):
                raise ConnectionError("AMI login refused")
            if time.monotonic() > deadline:
                raise TimeoutError("no AMI login answer within 10 s")
            pump(0.2)

        started = time.monotonic()
        calls = 0
        events = 0
        last_check = 0.0
        while events < min_events:
            now = time.monotonic()
            if now - started > max_seconds:
                raise TimeoutError(f"only {events} events after {max_seconds} s of load")
            while calls < (now - started) * calls_per_second:
                calls += 1
                loader.setblocking(True)
                loader.sendall(_originate_action(calls))
                loader.setblocking(False)
            pump(0.02)
            if now - last_check > 0.5:
                last_check = now
                events = recorded_events()
                say(f"{calls} calls originated, {events} events recorded")
        say(f"{calls} calls originated; waiting for the last ones to hang up")
        # Let every call finish: CoreShowChannels on the loader session until it lists none.
        checks = 0
        deadline = time.monotonic() + 120
        while True:
            checks += 1
            marker = f"bench-channels-{checks}".encode()
            loader.setblocking(True)
            loader.sendall(b"Action: CoreShowChannels\r\nActionID: " + marker + b"\r\n\r\n")
            loader.setblocking(False)
            while True:
                done = loader_buffer.find(b"Event: CoreShowChannelsComplete\r\nActionID: " + marker)
                if done >= 0:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("calls still up 120 s after the load stopped")
                pump(0.1)
            tail = bytes(loader_buffer[done:])
            del loader_buffer[:]
            if b"ListItems: 0\r\n" in tail:
                break
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                pump(0.1)
        end = time.monotonic() + 0.5  # the last Hangup events are already sent; drain them
        while time.monotonic() < end:
            pump(0.1)
        errors = loader_buffer.count(b"Response: Error")
        if errors:
            say(f"warning: {errors} originate errors")
    finally:
        recorder.close()
        loader.close()
    data = b"".join(received)
    last = data.rfind(_TERMINATOR)
    return data[: last + len(_TERMINATOR)] if last >= 0 else data


def record_from_sandbox(
    min_events: int = DEFAULT_MIN_EVENTS, progress: Callable[[str], None] | None = None
) -> bytes:
    """Start a sandbox Asterisk in a namespace of its own, record under load, stop it.

    The root is built on first use (cached after that); `down()` stops the instance by PID
    and removes the namespace's folders, so no Asterisk process is left behind.
    """
    from tools.sandbox import ADMIN_USER, Sandbox

    say = progress or (lambda _text: None)
    sandbox = Sandbox(namespace=f"bench-{os.getpid()}")
    sandbox.build(report=say)
    try:
        (instance,) = sandbox.up(["bench"], free_ports=True)
        say(f"sandbox Asterisk up: AMI on 127.0.0.1:{instance.ami_port} (pid {instance.pid})")
        return record_capture(
            "127.0.0.1",
            instance.ami_port,
            ADMIN_USER,
            instance.admin_secret,
            min_events=min_events,
            progress=say,
        )
    finally:
        stopped = sandbox.down()
        say(f"sandbox stopped ({len(stopped)} instance)")


# -- command line ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.ami_ingest",
        description="AMI ingest: pln123 vs asterisk-ami vs panoramisk on the same bytes",
    )
    parser.add_argument("--capture", type=Path,
                        help="raw AMI byte stream (banner included); default: record one")
    parser.add_argument("--name", default="load",
                        help="name of a new recording: benchmarks/captures/NAME.raw")
    parser.add_argument("--min-events", type=int, default=DEFAULT_MIN_EVENTS,
                        help="events to record when recording (default %(default)s)")
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE,
                        help="bytes per packet pushed to each parser (default %(default)s)")
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT,
                        help="timed runs per parser (default %(default)s)")
    parser.add_argument("--events", default=",".join(DEFAULT_EVENTS),
                        help="the five event names subscribed (default %(default)s)")
    return parser.parse_args(argv)


@contextmanager
def quiet_logging() -> Iterator[None]:
    """Errors only while the parsers run, then the previous configuration back.

    Our protocol logs a warning for each response it has no pending action for (the
    recorder's login answer is in every capture); panoramisk logs through `logging`.
    """
    import structlog

    from pln123.logs import configure_logging

    saved = structlog.get_config()
    panoramisk_log = logging.getLogger("panoramisk")
    saved_level = panoramisk_log.level
    configure_logging(level="error")
    panoramisk_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        structlog.configure(**saved)
        panoramisk_log.setLevel(saved_level)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    names = [name.strip() for name in args.events.split(",") if name.strip()]
    if args.capture is not None:
        data = load_capture(args.capture)
        print(f"capture: {args.capture}")
    else:
        data = record_from_sandbox(
            args.min_events, progress=lambda text: print(text, file=sys.stderr, flush=True)
        )
        path = save_capture(data, args.name)
        print(f"capture: recorded to {path}")
    with quiet_logging():
        lines = run_benchmark(data, names, args.chunk_size, args.repeat)
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
