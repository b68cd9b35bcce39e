"""The session through network failures and stalling servers (docs/protocol.md, "Session lifetime
and reconnection"): live sources retry for ever, stalls are detected within the bounds of
SessionOptions (short here), what a connection held is resent, and no credit is recognised."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from websockets.sync.server import serve

from tests.realtime.test_session import RATE, Collector, chunks_of, make_session, tone_bursts
from tests.support.audio_samples import silence, tone
from tests.support.realtime_server import RealtimeServer
from tests.support.realtime_server.proxy import FreezingProxy
from tray_stt.audio.convert import paced
from tray_stt.errors import BillingError, ConnectionFailed
from tray_stt.realtime.endpoint import Endpoint
from tray_stt.realtime.events import (
    Outage,
    Reconnecting,
    TranscriptCompleted,
    TranscriptFailed,
)
from tray_stt.realtime.models import TranscriptionSettings, TurnMode
from tray_stt.realtime.session import Session, SessionOptions
from tray_stt.realtime.transport import Transport, TransportClosed, websocket_connect
from tray_stt.realtime.wire import ErrorKind

LIVE: dict[str, object] = {"live_silence_ms": 3000, "reconnect_attempts": None}
QUICK: dict[str, object] = {
    "backoff_s": 0.05,
    "backoff_max_s": 0.3,
    "server_backoff_s": 0.05,
    "server_backoff_max_s": 0.3,
}
BOUND_S = 60  # generous: tells "returned" from "hung", never a measure of speed


def pcm(*parts: np.ndarray) -> bytes:
    return np.concatenate(parts).astype("<i2").tobytes()


def quiet(seconds: float) -> bytes:
    return pcm(silence(seconds, RATE))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run_bounded(session: Session, chunks: Iterator[bytes], *, wait_ready: bool = False) -> object:
    """Run on a thread; the outcome (None or the exception), or a failure if it hung."""
    outcome: list[object] = []

    def run() -> None:
        try:
            session.run(chunks, wait_ready=wait_ready)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(BOUND_S)
    if runner.is_alive():
        session.give_up("test over")
        pytest.fail("the session hung")
    return outcome[0]


def reconnects(collector: Collector) -> list[Reconnecting]:
    return [e for e in collector.events if isinstance(e, Reconnecting)]


def when(condition: Callable[[], bool]) -> None:
    while not condition():
        threading.Event().wait(0.01)


def test_session_live_retries_when_refused_at_start_until_the_server_opens() -> None:
    """Offline at start: a live source keeps trying, with a capped backoff, and connects."""
    collector = Collector()
    port = free_port()
    url = f"ws://127.0.0.1:{port}/v1/realtime?intent=transcription"
    session = make_session(url, collector, **LIVE, **QUICK)
    servers: list[RealtimeServer] = []

    def microphone() -> Iterator[bytes]:
        yield from paced(chunks_of(quiet(0.5)), realtime=True)
        when(lambda: len(reconnects(collector)) >= 5)  # more than first_connect_attempts
        servers.append(RealtimeServer(transcripts=["back"], port=port))
        yield from paced(chunks_of(tone_bursts(1)), realtime=True)

    try:
        assert run_bounded(session, microphone()) is None
    finally:
        for server in servers:
            server.stop()
    assert collector.texts == ["back"]
    failures = reconnects(collector)
    assert {e.outage for e in failures} == {Outage.NETWORK}
    assert max(e.delay_s for e in failures) <= 0.3
    assert [e.attempt for e in failures] == list(range(1, len(failures) + 1))


def test_session_live_name_resolution_failure_is_a_network_failure_never_fatal() -> None:
    collector = Collector()
    # A ".invalid" name never resolves. wss://: clear-text ws:// to a host that is not loopback
    # is refused before any connection (docs/protocol.md, "Connection").
    url = "wss://tray-stt-test.invalid/v1/realtime?intent=transcription"
    session = make_session(url, collector, **LIVE, **QUICK, final_wait_s=0.2)
    assert run_bounded(session, paced(chunks_of(quiet(1.5)), realtime=True)) is None
    failures = reconnects(collector)
    assert len(failures) >= 4
    assert all(e.outage is Outage.NETWORK and "resolve" in e.reason for e in failures)


def test_session_slow_recovery_backs_off_longer_for_http_errors_then_streams() -> None:
    collector = Collector()
    with RealtimeServer(transcripts=["one"], refuse_status=[503, 503, 503, 503]) as server:
        session = make_session(server.url, collector, **LIVE, **QUICK)
        assert run_bounded(session, paced(chunks_of(tone_bursts(1)), realtime=True)) is None
        assert server.violations == []
    assert collector.texts == ["one"]
    failures = reconnects(collector)
    assert len(failures) == 4
    assert all(e.outage is Outage.SERVER and "HTTP 503" in e.reason for e in failures)


def test_session_server_that_never_answers_is_given_up_within_bounds() -> None:
    """A file against a server that accepts and says nothing: an error, not a hang."""
    collector = Collector()
    with RealtimeServer() as server:
        server.frozen = True
        session = make_session(
            server.url, collector, first_event_timeout_s=0.3, first_connect_attempts=2, **QUICK
        )
        outcome = run_bounded(session, chunks_of(tone_bursts(1)), wait_ready=True)
        assert len(server.connections) == 3
    assert isinstance(outcome, ConnectionFailed)
    assert "did not answer within 0.3 s" in str(outcome)
    assert {e.outage for e in reconnects(collector)} == {Outage.STALLED}


def test_session_server_frozen_mid_stream_is_reconnected_and_loses_nothing() -> None:
    """Frozen after the first transcript: the stall is detected, the held audio resent."""
    collector = Collector()
    texts = ["one", "two", "three"]
    with RealtimeServer(transcripts=texts, freeze_after_items=1) as server:
        session = make_session(server.url, collector, answer_timeout_s=0.5, **QUICK)

        def thaw_on_stall() -> None:
            when(lambda: any(e.outage is Outage.STALLED for e in reconnects(collector)))
            server.frozen = False

        threading.Thread(target=thaw_on_stall, daemon=True).start()
        assert run_bounded(session, chunks_of(tone_bursts(3)), wait_ready=True) is None
        assert server.violations == []
    assert collector.texts == texts


def test_session_commit_never_answered_is_a_stall_and_the_turn_is_resent() -> None:
    collector = Collector()
    with RealtimeServer(transcripts=["held"]) as server:
        server.ignore_commits = True
        endpoint = Endpoint(url=server.url, api_key="test-key")
        options = SessionOptions(answer_timeout_s=0.4, **QUICK)  # type: ignore[arg-type]
        settings = TranscriptionSettings(turn=TurnMode.MANUAL)
        session = Session(endpoint, settings, collector, options=options)

        def answer_after_stall() -> None:
            when(lambda: any(e.outage is Outage.STALLED for e in reconnects(collector)))
            server.ignore_commits = False

        threading.Thread(target=answer_after_stall, daemon=True).start()
        assert run_bounded(session, chunks_of(tone_bursts(1)), wait_ready=True) is None
    assert collector.texts == ["held"]
    stalls = [e for e in reconnects(collector) if e.outage is Outage.STALLED]
    assert stalls and "stopped answering" in stalls[0].reason


def test_session_dead_network_path_is_noticed_by_pings_and_the_speech_resent() -> None:
    """A black hole (no byte, no pong) while the user speaks: found by our pings, and the
    speech it swallowed is sent again on the next connection with its capture time."""
    collector = Collector()
    spoken: list[datetime] = []
    with RealtimeServer(transcripts=["swallowed"]) as server, FreezingProxy(server.port) as proxy:
        session = make_session(
            proxy.url,
            collector,
            **LIVE,
            **QUICK,
            ping_interval_s=0.2,
            pong_timeout_s=4.5,  # past the 3 s of silence kept: kept for the pongs missed
            connect_timeout_s=1.0,
        )

        def microphone() -> Iterator[bytes]:
            yield from paced(chunks_of(quiet(1.0)), realtime=True)
            proxy.frozen = True
            spoken.append(datetime.now().astimezone())
            yield from paced(
                chunks_of(pcm(tone(440, 0.6, RATE), silence(6.0, RATE))), realtime=True
            )
            proxy.frozen = False
            yield from paced(chunks_of(quiet(1.5)), realtime=True)

        assert run_bounded(session, microphone()) is None
        assert server.violations == []
    assert collector.texts == ["swallowed"]
    stalls = [e for e in reconnects(collector) if e.outage is Outage.STALLED]
    assert stalls and "no answer from the server" in stalls[0].reason
    started = [e.started_at for e in collector.events if isinstance(e, TranscriptCompleted)]
    # When it was spoken, not when it was sent after the 6 s freeze; the margin is for a loaded
    # machine's scheduling.
    assert abs((started[-1] - spoken[0]).total_seconds()) < 1.5


def test_session_utterance_spoken_in_an_outage_is_dated_when_it_was_spoken() -> None:
    """Speech captured while the network is down keeps its capture time when sent late."""
    collector = Collector()
    restored = threading.Event()
    connections = 0
    spoken: list[datetime] = []

    def connect(url: str, headers: dict[str, str], timeout: float) -> Transport:
        # Down from the server's drop on: a reconnect must not slip in before the outage.
        nonlocal connections
        connections += 1
        if connections > 1 and not restored.is_set():
            raise TransportClosed(None, "connection refused")
        return websocket_connect(url, headers, timeout)

    def microphone() -> Iterator[bytes]:
        yield from paced(chunks_of(quiet(0.6)), realtime=True)  # the connection drops here
        when(lambda: bool(reconnects(collector)))
        spoken.append(datetime.now().astimezone())
        yield from paced(chunks_of(pcm(tone(440, 0.6, RATE), silence(5.0, RATE))), realtime=True)
        restored.set()  # back after more than the silence margin kept for resends
        yield from paced(chunks_of(quiet(1.5)), realtime=True)

    with RealtimeServer(transcripts=["late"], drop_after_ms=[500]) as server:
        endpoint = Endpoint(url=server.url, api_key="test-key")
        options = SessionOptions(**LIVE, **QUICK)  # type: ignore[arg-type]
        session = Session(
            endpoint, TranscriptionSettings(), collector, options=options, connect=connect
        )
        assert run_bounded(session, microphone()) is None
        assert server.violations == []
    assert collector.texts == ["late"]
    started = [e.started_at for e in collector.events if isinstance(e, TranscriptCompleted)]
    # When it was spoken, not when it was sent after the 5 s outage; the margin is for a loaded
    # machine's scheduling.
    assert abs((started[0] - spoken[0]).total_seconds()) < 1.5


def test_session_no_credit_item_failures_end_a_cli_session_as_billing() -> None:
    collector = Collector()
    with RealtimeServer(transcripts=["one", "two"]) as server:
        server.quota = True
        session = make_session(server.url, collector)
        outcome = run_bounded(session, chunks_of(tone_bursts(2)), wait_ready=True)
    assert isinstance(outcome, BillingError)
    failed = [e for e in collector.events if isinstance(e, TranscriptFailed)]
    assert failed and failed[0].kind is ErrorKind.BILLING


def test_session_no_credit_keeps_a_live_session_going_until_credit_is_back() -> None:
    """The tray's choice: no credit is a state; the session goes on and works again."""
    collector = Collector()
    with RealtimeServer(transcripts=["refused", "paid"]) as server:
        server.quota = True
        session = make_session(server.url, collector, **LIVE, billing_ends_session=False)

        def microphone() -> Iterator[bytes]:
            yield from paced(chunks_of(tone_bursts(1)), realtime=True)
            when(lambda: any(isinstance(e, TranscriptFailed) for e in collector.events))
            server.quota = False
            yield from paced(chunks_of(tone_bursts(1)), realtime=True)

        assert run_bounded(session, microphone()) is None
    failed = [e for e in collector.events if isinstance(e, TranscriptFailed)]
    assert [e.kind for e in failed] == [ErrorKind.BILLING]
    assert collector.texts == ["paid"]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl tool")
def test_transport_unverifiable_certificate_is_a_network_failure(tmp_path: Path) -> None:
    """A Wi-Fi sign-in page intercepts TLS: retried like any network trouble, not fatal."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with serve(lambda connection: None, "127.0.0.1", 0, ssl=context) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.socket.getsockname()[1]
        with pytest.raises(TransportClosed) as closed:
            websocket_connect(f"wss://127.0.0.1:{port}/v1/realtime", {}, 5)
        server.shutdown()
    assert closed.value.outage is Outage.NETWORK
    assert "TLS certificate" in closed.value.reason


def test_session_streams_with_two_threads_of_its_own_and_still_finds_stalls() -> None:
    """The stall check rides on the sender's wake-ups: a live session runs a receiver and a
    sender, no watchdog thread beside them (and the stall tests above still pass)."""
    collector = Collector()
    seen: list[set[str]] = []
    before = {thread.ident for thread in threading.enumerate()}

    def watched() -> Iterator[bytes]:
        for index, chunk in enumerate(paced(chunks_of(tone_bursts(1)), realtime=True)):
            if index == 20:  # streaming: connected, audio on its way
                seen.append(
                    {t.name for t in threading.enumerate() if t.ident not in before} - {"runner"}
                )
            yield chunk

    with RealtimeServer(transcripts=["one"]) as server:
        session = make_session(server.url, collector, **QUICK)
        outcome: list[object] = []
        runner = threading.Thread(
            target=lambda: outcome.append(session.run(watched())), name="runner", daemon=True
        )
        runner.start()
        runner.join(BOUND_S)
        assert not runner.is_alive(), "the session hung"
    assert collector.texts == ["one"]
    # The loopback server's own threads are not the session's: only tray-stt ones are counted.
    assert {name for name in seen[0] if name.startswith("tray-stt")} == {
        "tray-stt-session",
        "tray-stt-send",
    }
