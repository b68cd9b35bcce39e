"""The controller's state machine, driven with a fake listener (no microphone, no network)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tray_stt.config import Config
from tray_stt.controller import (
    AppState,
    ChangeSettings,
    Controller,
    Quit,
    SetAutostart,
    Snapshot,
    Start,
    Stop,
    Toggle,
)
from tray_stt.errors import AudioInputError, BillingError
from tray_stt.events import (
    Event,
    SessionReady,
    SpeechStarted,
    SpeechStopped,
    TranscriptCompleted,
    TranscriptDelta,
)
from tray_stt.models import Dialect
from tray_stt.transcripts import DailyLog


class FakeListening:
    def __init__(self, on_event: Callable[[Event], None], on_end: Callable[[object], None]):
        self.on_event = on_event
        self.on_end = on_end
        self.stopped = threading.Event()

    def stop(self) -> None:
        self.stopped.set()
        self.on_end(None)


class FakeNotifier:
    def __init__(self) -> None:
        self.shown: list[tuple[str, str, bool]] = []

    def notify(self, title: str, body: str, *, urgent: bool = False) -> None:
        self.shown.append((title, body, urgent))


class FakeAutostart:
    def __init__(self) -> None:
        self.on = False

    def enabled(self) -> bool:
        return self.on

    def set(self, enabled: bool) -> str:
        self.on = enabled
        return "done"


class Harness:
    def __init__(self, tmp_path: Path, fail_with: Exception | None = None) -> None:
        self.config = Config(log_dir=tmp_path / "logs", api_key="k")
        self.saved: dict[str, object] = {}
        self.workers: list[FakeListening] = []
        self.snapshots: list[Snapshot] = []
        self.changed = threading.Condition()
        self.notifier = FakeNotifier()
        self.autostart = FakeAutostart()
        self.delivered: list[str] = []
        self.fail_with = fail_with
        self.controller = Controller(
            self.config,
            listen=self.listen,
            notifier=self.notifier,
            save=self.saved.update,
            reload=lambda: Config(
                log_dir=tmp_path / "logs",
                api_key="k",
                dialect=Dialect(self.saved.get("dialect", "ga")),
                clipboard=bool(self.saved.get("clipboard", False)),
            ),
            autostart=self.autostart,
            on_change=self.on_change,
            log=DailyLog(tmp_path / "logs"),
            deliver=self.delivered.append,
        )
        self.thread = threading.Thread(target=self.controller.run, daemon=True)
        self.thread.start()

    def listen(self, config: Config, on_event: Callable[[Event], None], on_end):  # type: ignore[no-untyped-def]
        if self.fail_with is not None:
            raise self.fail_with
        worker = FakeListening(on_event, on_end)
        self.workers.append(worker)
        return worker

    def on_change(self, snapshot: Snapshot) -> None:
        with self.changed:
            self.snapshots.append(snapshot)
            self.changed.notify_all()

    def wait(self, predicate: Callable[[Snapshot], bool], timeout: float = 3.0) -> Snapshot:
        with self.changed:
            ok = self.changed.wait_for(lambda: predicate(self.controller.snapshot), timeout=timeout)
        assert ok, f"state never matched; last: {self.controller.snapshot}"
        return self.controller.snapshot


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    yield h
    h.controller.post(Quit())
    h.thread.join(3)


def test_controller_toggle_starts_and_stops(harness: Harness) -> None:
    harness.controller.post(Toggle())
    snapshot = harness.wait(lambda s: s.listening)
    assert snapshot.state is AppState.CONNECTING
    harness.controller.post(Toggle())
    harness.wait(lambda s: not s.listening and s.state is AppState.IDLE)
    assert harness.workers[0].stopped.is_set()


def test_controller_states_follow_session_events(harness: Harness, tmp_path: Path) -> None:
    harness.controller.post(Start())
    harness.wait(lambda s: s.listening)
    worker = harness.workers[0]
    worker.on_event(SessionReady(Dialect.GA, "sess"))
    harness.wait(lambda s: s.state is AppState.LISTENING)
    worker.on_event(SpeechStarted("i1"))
    harness.wait(lambda s: s.state is AppState.SPEECH)
    worker.on_event(TranscriptDelta("i1", "Hel", "Hel"))
    harness.wait(lambda s: s.partial == "Hel")
    worker.on_event(SpeechStopped("i1"))
    when = datetime.now().astimezone()
    worker.on_event(TranscriptCompleted("Hello there.", when, "i1"))
    snapshot = harness.wait(lambda s: s.last_transcript == "Hello there.")
    assert snapshot.state is AppState.LISTENING and snapshot.partial == ""
    assert snapshot.today_count == 1
    assert harness.delivered == ["Hello there."]
    assert snapshot.log_path.read_text(encoding="utf-8").endswith("  Hello there.\n")


def test_controller_events_from_a_replaced_worker_are_ignored(harness: Harness) -> None:
    harness.controller.post(Start())
    harness.wait(lambda s: s.listening)
    old = harness.workers[0]
    harness.controller.post(Start())  # restarts: a new worker
    harness.wait(lambda s: len(harness.workers) == 2)
    old.on_event(SpeechStarted("late"))
    harness.workers[1].on_event(SessionReady(Dialect.GA, None))
    snapshot = harness.wait(lambda s: s.state is AppState.LISTENING)
    assert snapshot.state is not AppState.SPEECH


def test_controller_fatal_error_shows_error_and_notifies(harness: Harness) -> None:
    harness.controller.post(Start())
    harness.wait(lambda s: s.listening)
    harness.workers[0].on_end(BillingError("Your OpenAI account has no credit left."))
    snapshot = harness.wait(lambda s: s.state is AppState.ERROR)
    assert "no credit" in snapshot.detail
    assert harness.notifier.shown[-1] == (
        "tray-stt",
        "Your OpenAI account has no credit left.",
        True,
    )


def test_controller_missing_microphone_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tray_stt.controller as controller_module

    monkeypatch.setattr(controller_module, "MIC_RETRY_S", 0.05)
    h = Harness(tmp_path, fail_with=AudioInputError("No input device found: plug in a microphone."))
    try:
        h.controller.post(Start())
        h.wait(lambda s: s.state is AppState.ERROR)
        h.fail_with = None  # the microphone was plugged in
        h.wait(lambda s: s.state is AppState.CONNECTING and len(h.workers) == 1)
    finally:
        h.controller.post(Quit())
        h.thread.join(3)


def test_controller_settings_persist_and_restart_a_running_session(harness: Harness) -> None:
    harness.controller.post(Start())
    harness.wait(lambda s: s.listening)
    harness.controller.post(ChangeSettings({"clipboard": True}))
    harness.wait(lambda s: s.config.clipboard)
    assert harness.saved == {"clipboard": True}
    harness.wait(lambda s: len(harness.workers) == 2)
    assert harness.workers[0].stopped.is_set()


def test_controller_autostart_switch(harness: Harness) -> None:
    harness.controller.post(SetAutostart(True))
    harness.wait(lambda s: s.autostart)
    assert harness.autostart.on


def test_controller_stop_when_idle_is_harmless(harness: Harness) -> None:
    harness.controller.post(Stop())
    harness.wait(lambda s: s.state is AppState.IDLE and not s.listening)
