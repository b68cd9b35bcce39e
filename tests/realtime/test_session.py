"""The session worker against the loopback server: rollover, keepalive, stop, handshake refusals."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from datetime import date
from http import HTTPStatus
from pathlib import Path

import numpy as np
import pytest
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection, serve

from tests.support.audio_samples import silence, tone
from tests.support.realtime_server import RealtimeServer
from tray_stt.audio.convert import paced
from tray_stt.errors import AuthenticationError, ConfigError, ConnectionFailed
from tray_stt.realtime.endpoint import Endpoint
from tray_stt.realtime.events import (
    Event,
    Notice,
    Reconnecting,
    SessionReady,
    TranscriptCompleted,
    TranscriptFailed,
)
from tray_stt.realtime.models import Dialect, TranscriptionSettings
from tray_stt.realtime.session import Session, SessionOptions
from tray_stt.realtime.transport import Transport, TransportClosed, websocket_connect

RATE = 24000


def tone_bursts(count: int, *, gap_s: float = 0.9) -> bytes:
    parts = [silence(0.3, RATE)]
    for index in range(count):
        parts += [tone(440 + 110 * index, 0.6, RATE), silence(gap_s, RATE)]
    return np.concatenate(parts).astype("<i2").tobytes()


def chunks_of(pcm: bytes, ms: int = 40) -> Iterator[bytes]:
    size = ms * 48
    for start in range(0, len(pcm), size):
        yield pcm[start : start + size]


class Collector:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    @property
    def texts(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, TranscriptCompleted)]


def make_session(url: str, collector: Collector, **options: object) -> Session:
    endpoint = Endpoint(url=url, api_key="test-key")
    return Session(
        endpoint,
        TranscriptionSettings(),
        collector,
        options=SessionOptions(**options),  # type: ignore[arg-type]
        today=date(2026, 11, 23),
    )


def test_session_rolls_over_before_the_limit_without_losing_a_turn() -> None:
    collector = Collector()
    with RealtimeServer(transcripts=["one", "two", "three", "four"]) as server:
        session = make_session(server.url, collector, max_session_s=1.0, live_silence_ms=3000)
        session.run(paced(chunks_of(tone_bursts(4)), realtime=True))
        assert server.violations == []
        assert len(server.connections) >= 2
        assert all(c.close_code != 1001 for c in server.connections)  # ours, not the server's
    assert collector.texts == ["one", "two", "three", "four"]


def test_session_answers_pings_and_keeps_one_connection() -> None:
    collector = Collector()
    with RealtimeServer(transcripts=["one"], ping_interval=0.2, ping_timeout=0.4) as server:
        session = make_session(server.url, collector, live_silence_ms=3000)
        session.run(paced(chunks_of(tone_bursts(1, gap_s=1.5)), realtime=True))
        assert len(server.connections) == 1
    assert collector.texts == ["one"]


def test_session_stop_ends_input_and_still_delivers_what_was_said() -> None:
    collector = Collector()
    with RealtimeServer(transcripts=["one", "two", "three"]) as server:
        session = make_session(server.url, collector, live_silence_ms=3000)
        timer = threading.Timer(2.2, session.stop)  # after the first burst, during the second
        timer.start()
        session.run(paced(chunks_of(tone_bursts(3)), realtime=True))
        timer.cancel()
        assert server.violations == []
    assert collector.texts[:1] == ["one"]
    assert len(collector.texts) <= 2


def test_session_sink_failure_ends_the_session_with_that_error() -> None:
    def failing_sink(event: Event) -> None:
        if isinstance(event, TranscriptCompleted):
            raise ConnectionFailed("the sink broke")

    with RealtimeServer(transcripts=["one"]) as server:
        endpoint = Endpoint(url=server.url, api_key="test-key")
        session = Session(endpoint, TranscriptionSettings(), failing_sink)
        with pytest.raises(ConnectionFailed, match="the sink broke"):
            session.run(chunks_of(tone_bursts(1)), wait_ready=True)


@pytest.mark.parametrize(
    ("status", "error"),
    [(HTTPStatus.UNAUTHORIZED, AuthenticationError), (HTTPStatus.NOT_FOUND, ConfigError)],
)
def test_session_handshake_refusal_is_translated(status: HTTPStatus, error: type) -> None:
    def refuse(connection: ServerConnection, request: Request) -> Response:
        return connection.respond(status, '{"error": {"message": "nope"}}')

    def never(connection: ServerConnection) -> None:
        raise AssertionError("the handshake should have been refused")

    with serve(never, "127.0.0.1", 0, process_request=refuse) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        port = server.socket.getsockname()[1]
        session = make_session(f"ws://127.0.0.1:{port}/v1/realtime", Collector())
        with pytest.raises(error, match=f"HTTP {int(status)}"):
            session.run(chunks_of(tone_bursts(1)), wait_ready=True)
        server.shutdown()


def test_endpoint_headers_per_provider() -> None:
    openai = Endpoint(api_key="sk-1")
    assert openai.headers() == {"Authorization": "Bearer sk-1"}
    azure = Endpoint(
        url="wss://res.openai.azure.com/openai/v1/realtime?intent=transcription", api_key="az-1"
    )
    assert azure.headers() == {"api-key": "az-1"}
    azure_preview = Endpoint(url=azure.url, api_key="az-1", dialect=Dialect.BETA)
    assert "OpenAI-Beta" not in azure_preview.headers()
    local_beta = Endpoint(url="ws://127.0.0.1:9/v1/realtime", dialect=Dialect.BETA)
    assert local_beta.headers() == {"OpenAI-Beta": "realtime=v1"}
    forced = Endpoint(url="ws://127.0.0.1:9/", api_key="k", auth="api-key")
    assert forced.headers() == {"api-key": "k"}


def test_endpoint_refuses_beta_on_openai_and_missing_key() -> None:
    with pytest.raises(ConfigError, match="retired the beta"):
        Endpoint(api_key="sk", dialect=Dialect.BETA).check()
    with pytest.raises(AuthenticationError, match="OPENAI_API_KEY"):
        Endpoint().check()
    Endpoint(url="ws://127.0.0.1:9/v1/realtime").check()  # local servers may need no key


def test_session_warnings_name_the_shutdown_date(tmp_path: Path) -> None:
    session = Session(
        Endpoint(url="ws://127.0.0.1:9/"),
        TranscriptionSettings(model="gpt-4o-transcribe"),
        Collector(),
        today=date(2026, 11, 23),
    )
    assert session.warnings == [
        "gpt-4o-transcribe is scheduled to shut down on 2027-02-26. Switch to gpt-transcribe."
    ]


LATER = "to be transcribed when it is back."


def test_session_keeps_only_the_newest_audio_through_a_long_outage() -> None:
    """A microphone goes on through an outage; memory stays bounded and the newest is sent."""
    collector = Collector()
    restored = threading.Event()
    connections = 0

    def connect(url: str, headers: dict[str, str], timeout: float) -> Transport:
        # Down from the server's drop on: a reconnect must not slip in before the outage.
        nonlocal connections
        connections += 1
        if connections > 1 and not restored.is_set():
            raise TransportClosed(None, "the network is down")
        return websocket_connect(url, headers, timeout)

    def microphone() -> Iterator[bytes]:
        yield from chunks_of(silence(1.0, RATE).astype("<i2").tobytes())
        while not any(isinstance(e, Reconnecting) for e in collector.events):
            threading.Event().wait(0.01)  # until the session noticed the drop
        # Captured while no connection can be made:
        yield from chunks_of(tone_bursts(1, gap_s=0.3))  # speech that is dropped, oldest first
        yield from chunks_of(silence(2.0, RATE).astype("<i2").tobytes())
        yield from chunks_of(tone_bursts(1, gap_s=0.3)[: 1200 * 48])  # the newest 1.2 s, kept
        restored.set()

    with RealtimeServer(transcripts=["kept"], drop_after_ms=[500]) as server:
        endpoint = Endpoint(url=server.url, api_key="test-key")
        # A live source: it retries for as long as the outage lasts, as `listen` does.
        options = SessionOptions(
            offline_audio_ms=1200, backoff_s=0.01, backoff_max_s=0.05, reconnect_attempts=None
        )
        session = Session(
            endpoint, TranscriptionSettings(), collector, options=options, connect=connect
        )
        session.run(microphone())
        assert server.violations == []
        after = server.connections[-1].client_events
    assert collector.texts == ["kept"]
    notices = [e.message for e in collector.events if isinstance(e, Notice)]
    told = "The connection has been down a long time: only the last 1.2 seconds of audio"
    assert [n for n in notices if n.startswith(told)] == [f"{told} are kept, " + LATER]
    sent = sum(
        len(base64.b64decode(e["audio"])) for e in after if e["type"] == "input_audio_buffer.append"
    )
    padding = (TranscriptionSettings().silence_duration_ms + 300) * 48  # finish() pads silence
    assert sent <= 1200 * 48 + padding


class BreaksWhileSending:
    """A loopback connection whose sends fail after ``good`` frames, as when the network drops
    mid-stream: the writer thread ends with frames still in its queue."""

    def __init__(self, inner: Transport, good: int) -> None:
        self._inner = inner
        self._good = good

    def send(self, text: str) -> None:
        if self._good <= 0:
            self._inner.abort()
            raise TransportClosed(None, "sending failed: broken pipe")
        self._good -= 1
        self._inner.send(text)

    def receive(self) -> str:
        return self._inner.receive()

    def close(self) -> None:
        self._inner.close()

    def abort(self) -> None:
        self._inner.abort()


def test_session_stop_in_an_outage_gives_up_after_final_wait_despite_unsent_frames() -> None:
    """Ctrl+C while the network is down: the wait is bounded even when a send had failed."""
    collector = Collector()
    connects: list[str] = []

    def connect(url: str, headers: dict[str, str], timeout: float) -> Transport:
        connects.append(url)
        if len(connects) > 1:
            raise TransportClosed(None, "the network is down")
        return BreaksWhileSending(websocket_connect(url, headers, timeout), good=30)

    def microphone() -> Iterator[bytes]:
        while True:  # a live source: ends only through stop()
            yield from paced(chunks_of(tone_bursts(1)), realtime=True)

    outcome: list[BaseException | None] = []
    with RealtimeServer(transcripts=["one"]) as server:
        endpoint = Endpoint(url=server.url, api_key="test-key")
        options = SessionOptions(
            live_silence_ms=3000,
            reconnect_attempts=None,
            final_wait_s=0.5,
            backoff_s=0.01,
            backoff_max_s=0.05,
        )
        session = Session(
            endpoint, TranscriptionSettings(), collector, options=options, connect=connect
        )

        def run() -> None:
            try:
                session.run(microphone())
                outcome.append(None)
            except BaseException as exc:
                outcome.append(exc)

        runner = threading.Thread(target=run, daemon=True)
        runner.start()
        while len(connects) < 2 and runner.is_alive():
            threading.Event().wait(0.01)  # until the first reconnection failed
        session.stop()
        runner.join(30)  # generous: the wait to honour is final_wait_s, half a second
        alive = runner.is_alive()
    assert not alive, "the session waited for frames a lost connection will never send"
    assert outcome == [None]
    # The speech after the connection broke never reached a server: the user is told.
    assert any(isinstance(e, TranscriptFailed) for e in collector.events)


class StuckSends:
    """A connection whose sends hang (a congested uplink) until it is reset: the feeder's queue
    fills past its high-water mark, and the connection goes with those frames unsent."""

    def __init__(self, inner: Transport) -> None:
        self._inner = inner
        self._released = threading.Event()

    def send(self, text: str) -> None:
        if '"input_audio_buffer.append"' in text:
            self._released.wait()
            raise TransportClosed(None, "sending failed: connection reset")
        self._inner.send(text)

    def receive(self) -> str:
        return self._inner.receive()

    def close(self) -> None:
        self.abort()

    def abort(self) -> None:
        self._released.set()
        self._inner.abort()


def test_a_lost_connection_with_a_full_queue_never_holds_up_a_live_input() -> None:
    """The microphone must be read on through an outage (its audio goes to the journal and the
    spool): frames a lost connection left queued are never sent, so they are no reason to wait."""
    collector = Collector()
    down, fed_in_outage = threading.Event(), threading.Event()
    stuck: list[StuckSends] = []

    def connect(url: str, headers: dict[str, str], timeout: float) -> Transport:
        if down.is_set():
            raise TransportClosed(None, "the network is down")
        inner = websocket_connect(url, headers, timeout)
        if stuck:
            return inner
        stuck.append(StuckSends(inner))
        return stuck[0]

    def reset() -> None:
        down.set()
        stuck[0].abort()  # the network goes, the queue full

    def microphone() -> Iterator[bytes]:
        quiet = silence(0.04, RATE).astype("<i2").tobytes()
        while not any(isinstance(e, SessionReady) for e in collector.events):
            threading.Event().wait(0.01)
        threading.Timer(2.0, reset).start()
        for _ in range(200):  # far past the high-water mark: the sends hang, then the reset
            yield quiet
        while not any(isinstance(e, Reconnecting) for e in collector.events):
            yield quiet
            threading.Event().wait(0.01)
        for _ in range(100):  # still captured while no connection can be made
            yield quiet
        fed_in_outage.set()
        down.clear()
        yield from chunks_of(tone_bursts(1))

    with RealtimeServer(transcripts=["after the outage"]) as server:
        endpoint = Endpoint(url=server.url, api_key="test-key")
        options = SessionOptions(reconnect_attempts=None, backoff_s=0.05, backoff_max_s=0.1)
        session = Session(
            endpoint, TranscriptionSettings(), collector, options=options, connect=connect
        )
        runner = threading.Thread(target=session.run, args=(microphone(),), daemon=True)
        runner.start()
        assert fed_in_outage.wait(60), "the input was held while no connection could drain it"
        runner.join(60)
        assert not runner.is_alive()
    assert collector.texts == ["after the outage"]
