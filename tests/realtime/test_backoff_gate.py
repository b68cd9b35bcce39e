"""Sessions running at once (``transcribe --jobs``) back off together when one is rate-limited."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date

from tests.realtime.test_session import Collector, chunks_of, tone_bursts
from tests.support.realtime_server import RealtimeServer
from tray_stt.realtime.endpoint import Endpoint
from tray_stt.realtime.events import Event, Notice, Reconnecting
from tray_stt.realtime.models import TranscriptionSettings
from tray_stt.realtime.recovery import BackoffGate, SessionOptions
from tray_stt.realtime.session import Session

RATE_LIMITED = ("rate_limit_error", "rate_limit_exceeded", "Rate limit reached for requests.")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_gate_holds_the_longest_pause_asked_for() -> None:
    clock = FakeClock()
    gate = BackoffGate(clock)
    assert gate.remaining() == 0.0
    assert gate.hold(2.0) == 2.0
    assert gate.hold(0.5) == 2.0  # a shorter pause never shortens the one in force
    clock.now += 1.5
    assert gate.remaining() == 0.5
    clock.now += 1.0
    assert gate.remaining() == 0.0


def gated_session(url: str, on_event: Callable[[Event], None], gate: BackoffGate) -> Session:
    return Session(
        Endpoint(url=url, api_key="test-key"),
        TranscriptionSettings(),
        on_event,
        options=SessionOptions(server_backoff_s=2.0, server_backoff_max_s=2.0),
        today=date(2026, 11, 23),
        gate=gate,
    )


def test_a_rate_limit_on_one_session_pauses_the_session_beside_it() -> None:
    gate = BackoffGate()
    first, second = Collector(), Collector()
    backing_off = threading.Event()

    def watch(event: Event) -> None:
        first(event)
        if isinstance(event, Reconnecting):
            backing_off.set()

    with RealtimeServer(
        transcripts=["one", "two", "three", "four"], fatal_on_connect=[RATE_LIMITED]
    ) as server:
        a = gated_session(server.url, watch, gate)
        worker = threading.Thread(target=a.run, args=(chunks_of(tone_bursts(2)),))
        worker.start()
        assert backing_off.wait(10)
        # b starts while a backs off: it waits for the same pause before connecting.
        gated_session(server.url, second, gate).run(chunks_of(tone_bursts(2)))
        worker.join(30)
        assert server.violations == []
    waits = [e for e in second.events if isinstance(e, Notice) and "rate-limiting" in e.message]
    assert len(waits) == 1  # b never knocked on a server that had just said no
    assert len(first.texts) == 2 and len(second.texts) == 2
