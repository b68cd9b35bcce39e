"""Dictation meters each turn into the ledger and refuses new turns over a budget cap."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import date
from pathlib import Path

from tests.pushtotalk.test_dictation import LOUD, QUIET, FakeDeliverer
from tests.support.fake_sounddevice import FedMicrophone
from tests.support.realtime_server import RealtimeServer
from tray_stt.config import Config
from tray_stt.metering.budget import BudgetWatch, Caps
from tray_stt.metering.ledger import UsageLedger
from tray_stt.metering.prices import Price
from tray_stt.pushtotalk.dictation import Dictation
from tray_stt.pushtotalk.talk import DictationEvent
from tray_stt.realtime.events import Notice, SessionReady


def test_dictation_meters_a_turn_then_refuses_the_next_over_the_cap(tmp_path: Path) -> None:
    ledger = UsageLedger(tmp_path / "usage.sqlite3")
    # gpt-transcribe bills by duration; at $100 a minute one turn is well over a cent
    watch = BudgetWatch(ledger, Caps(daily_usd=0.01), {"gpt-transcribe": Price(per_minute=100)})
    events: list[DictationEvent] = []
    ready = threading.Event()

    def on_event(event: DictationEvent) -> None:
        events.append(event)
        if isinstance(event, SessionReady):
            ready.set()

    with RealtimeServer(transcripts=["first turn", "second turn"]) as server:
        config = replace(Config(), url=server.url, api_key="test-key")
        mic, deliverer = FedMicrophone(), FakeDeliverer()
        dictation = Dictation(
            config,
            mic,
            deliverer,
            tail_ms=50,
            on_event=on_event,
            usage=watch,  # type: ignore[arg-type]
        )
        dictation.start()
        assert ready.wait(10)
        dictation.press()
        mic.feed(LOUD, 25)
        dictation.release()
        mic.feed(QUIET, 10)
        assert deliverer.delivered.get(timeout=10)[0] == "first turn"
        dictation.press()  # over the cap now: refused, with the sentence
        mic.feed(LOUD, 25)
        dictation.release()
        mic.feed(QUIET, 10)
        dictation.close()
        assert len(server.connections[0].items) == 1
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert any("daily budget of $0.01 is used up" in n for n in notices), notices
    assert deliverer.delivered.empty()
    [item] = ledger.items(date.today(), date.today())
    assert item.completed and item.usage is not None and item.usage.seconds
