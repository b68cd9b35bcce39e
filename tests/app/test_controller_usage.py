"""The tray's controller meters listening and obeys the budget caps (fake listener)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.controller_fakes import FakeListening, FakeNotifier
from tray_stt.app.controller import Controller
from tray_stt.app.state import AppState, Quit, Snapshot, Start
from tray_stt.config import Config
from tray_stt.metering.budget import BudgetWatch, Caps
from tray_stt.metering.ledger import UsageLedger
from tray_stt.metering.prices import Price
from tray_stt.realtime.events import Event, TranscriptCompleted
from tray_stt.realtime.usage import Metering, Usage

DEAR = {"whisper-1": Price(per_minute=1.0)}  # a minute of audio: $1


class Tray:
    def __init__(self, tmp_path: Path, caps: Caps) -> None:
        self.config = Config(log_dir=tmp_path / "logs", api_key="k")
        self.ledger = UsageLedger(tmp_path / "usage.sqlite3")
        self.workers: list[FakeListening] = []
        self.notifier = FakeNotifier()
        self.delivered: list[str] = []
        self.changed = threading.Condition()
        self.controller = Controller(
            self.config,
            listen=self.listen,
            notifier=self.notifier,
            save=lambda changes: None,
            reload=lambda: self.config,
            on_change=self.on_change,
            deliver=self.delivered.append,
            usage=BudgetWatch(self.ledger, caps, DEAR),
        )
        self.thread = threading.Thread(target=self.controller.run, daemon=True)
        self.thread.start()

    def listen(self, config: Config, on_event: Callable[[Event], None], on_end: Any) -> Any:
        worker = FakeListening(on_event, on_end)
        self.workers.append(worker)
        return worker

    def on_change(self, snapshot: Snapshot) -> None:
        with self.changed:
            self.changed.notify_all()

    def wait(self, predicate: Callable[[Snapshot], bool]) -> Snapshot:
        with self.changed:
            ok = self.changed.wait_for(lambda: predicate(self.controller.snapshot), timeout=5)
        assert ok, f"state never matched; last: {self.controller.snapshot}"
        return self.controller.snapshot


@pytest.fixture
def make_tray(tmp_path: Path) -> Iterator[Callable[[Caps], Tray]]:
    trays: list[Tray] = []

    def make(caps: Caps) -> Tray:
        trays.append(Tray(tmp_path, caps))
        return trays[-1]

    yield make
    for tray in trays:
        tray.controller.post(Quit())
        tray.thread.join(3)


def said(n: int, seconds: float) -> TranscriptCompleted:
    at = datetime.now().astimezone() + timedelta(seconds=n)
    meter = Metering("whisper-1", "sess", int(seconds * 1000), at, Usage(seconds=seconds))
    return TranscriptCompleted(f"words {n}", at, f"item_{n}", meter)


def test_controller_meters_each_transcript_into_the_ledger(
    make_tray: Callable[[Caps], Tray],
) -> None:
    tray = make_tray(Caps())
    tray.controller.post(Start())
    tray.wait(lambda s: s.listening)
    event = said(1, 3.0)
    tray.workers[0].on_event(event)
    tray.workers[0].on_event(event)  # handed over twice: counted once
    tray.wait(lambda s: s.today_count == 2)
    [item] = tray.ledger.items(date.today(), date.today())
    assert item.usage == Usage(seconds=3.0) and item.model == "whisper-1"
    # the tooltip's status line: $1 a minute for 3 s
    assert tray.wait(lambda s: s.usage_today != "").usage_today == "$0.05 · 0 min today"


def test_controller_cap_notifies_at_80_percent_then_stops_listening(
    make_tray: Callable[[Caps], Tray],
) -> None:
    tray = make_tray(Caps(daily_usd=1.0))
    tray.controller.post(Start())
    tray.wait(lambda s: s.listening)
    worker = tray.workers[0]
    worker.on_event(said(1, 50))  # $0.83
    tray.wait(lambda s: s.today_count == 1)
    assert any("83% of the daily budget" in body for _t, body, _u in tray.notifier.shown)
    worker.on_event(said(2, 20))  # $1.17
    snapshot = tray.wait(lambda s: not s.listening)
    assert worker.stopped.is_set()
    assert snapshot.state is AppState.ERROR and "budget_daily_usd" in snapshot.detail
    assert tray.delivered == ["words 1", "words 2"]  # the transcript over the cap still arrives
    # and listening refuses to start again
    tray.controller.post(Start())
    snapshot = tray.wait(lambda s: s.state is AppState.ERROR and not s.listening)
    assert len(tray.workers) == 1 and "daily budget of $1.00 is used up" in snapshot.detail
