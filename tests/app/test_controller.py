"""The controller's state machine, driven with a fake listener (no microphone, no network)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.support.controller_fakes import Dictations, FakeAutostart, FakeListening, FakeNotifier
from tray_stt.app.controller import Controller, _CoolDown
from tray_stt.app.ports import DictationFactory
from tray_stt.app.state import (
    AppState,
    ChangeSettings,
    Command,
    Quit,
    SetAutostart,
    Snapshot,
    Start,
    Stop,
    Talk,
    Toggle,
)
from tray_stt.config import Config
from tray_stt.errors import AudioInputError, BillingError
from tray_stt.pushtotalk.delivery import DeliveryMode
from tray_stt.pushtotalk.talk import DictationState, TalkAction
from tray_stt.realtime.events import (
    Event,
    Notice,
    Reconnecting,
    SessionReady,
    SpeechStarted,
    SpeechStopped,
    TranscriptCompleted,
    TranscriptDelta,
    TranscriptFailed,
)
from tray_stt.realtime.models import Dialect


class Harness:
    def __init__(
        self,
        tmp_path: Path,
        fail_with: Exception | None = None,
        dictate: DictationFactory | None = None,
        keep_warm_s: float = 60.0,
        log: bool = True,
        now: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.config = Config(log_dir=tmp_path / "logs", api_key="k", log=log)
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
                log_dir=Path(str(self.saved.get("log_dir", tmp_path / "logs"))),
                log=bool(self.saved.get("log", log)),
                api_key="k",
                dialect=Dialect(self.saved.get("dialect", "ga")),
                clipboard=bool(self.saved.get("clipboard", False)),
                delivery=DeliveryMode(str(self.saved.get("delivery", "paste"))),
            ),
            autostart=self.autostart,
            on_change=self.on_change,
            deliver=self.delivered.append,
            dictate=dictate,
            keep_warm_s=keep_warm_s,
            now=now,
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


def test_controller_reconnecting_is_a_typed_event_not_a_sentence(harness: Harness) -> None:
    """A retry shows as connecting with its reason; a notice that merely says "retrying" is
    not a retry (the controller once matched the word in the sentence)."""
    harness.controller.post(Start())
    worker = harness.wait(lambda s: len(harness.workers) == 1) and harness.workers[0]
    worker.on_event(SessionReady(Dialect.GA, "sess"))
    harness.wait(lambda s: s.state is AppState.LISTENING)
    worker.on_event(Notice("The server said it is retrying something."))
    worker.on_event(SpeechStarted("i1"))
    assert harness.wait(lambda s: s.state is AppState.SPEECH).state is AppState.SPEECH
    worker.on_event(Reconnecting("connection refused", 2.5))
    snapshot = harness.wait(lambda s: s.state is AppState.CONNECTING)
    assert snapshot.detail == "Connection problem (connection refused); retrying in 2.5 s."


def test_controller_failing_items_are_one_notification_withdrawn_by_the_next_transcript(
    harness: Harness,
) -> None:
    """Four utterances failing in a row were four notifications; now the problem is told once
    and taken away when the server transcribes again."""
    harness.controller.post(Start())
    worker = harness.wait(lambda s: len(harness.workers) == 1) and harness.workers[0]
    when = datetime(2026, 12, 2, 9, 30, 0).astimezone()
    for index in range(4):
        worker.on_event(TranscriptFailed("Server busy.", "", when, f"i{index}"))
    worker.on_event(SpeechStarted("i9"))
    harness.wait(lambda s: s.state is AppState.SPEECH)
    failures = [body for _, body, _ in harness.notifier.shown if "Could not transcribe" in body]
    assert [f.split(" What you say")[0] for f in failures] == [
        "Could not transcribe the utterance at 09:30:00: Server busy."
    ]
    assert harness.notifier.topics["health"] == failures[0]
    worker.on_event(TranscriptCompleted("Back again.", when, "i10"))
    harness.wait(lambda s: s.last_transcript == "Back again.")
    assert "health" not in harness.notifier.topics


def test_controller_network_down_is_told_once_and_withdrawn_when_connected(
    harness: Harness,
) -> None:
    harness.controller.post(Start())
    worker = harness.wait(lambda s: len(harness.workers) == 1) and harness.workers[0]
    for delay in (0.5, 1.0, 2.0):
        worker.on_event(Reconnecting("connection refused", delay))
    harness.wait(lambda s: "2.0 s" in s.detail)
    down = [body for _, body, _ in harness.notifier.shown if "network is down" in body]
    assert len(down) == 1 and "connection refused" in down[0]
    worker.on_event(SessionReady(Dialect.GA, "sess"))
    harness.wait(lambda s: s.state is AppState.LISTENING)
    assert "health" not in harness.notifier.topics


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
    import tray_stt.app.controller as controller_module

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


# -- push-to-talk ---------------------------------------------------------------------------------


class TalkHarness(Harness):
    def __init__(self, tmp_path: Path, keep_warm_s: float) -> None:
        dictations = Dictations()
        self.talks = dictations.opened
        super().__init__(tmp_path, dictate=dictations, keep_warm_s=keep_warm_s)

    def close(self) -> None:
        self.controller.post(Quit())
        self.thread.join(3)

    def turn(self) -> None:
        """Press, release, and the first dictation reports its transcript done."""
        self.controller.post(Talk(TalkAction.PRESS))
        self.wait(lambda s: s.dictation is DictationState.RECORDING)
        self.controller.post(Talk(TalkAction.RELEASE))
        self.wait(lambda s: s.dictation is DictationState.TRANSCRIBING)
        self.talks[0].dictation.on_state(DictationState.IDLE)
        self.wait(lambda s: s.dictation is DictationState.IDLE)


def test_controller_opens_dictation_at_the_first_press_and_reuses_it_while_warm(
    tmp_path: Path,
) -> None:
    h = TalkHarness(tmp_path, keep_warm_s=3600)
    try:
        h.controller.post(Talk(TalkAction.RELEASE))  # nothing open: nothing to end
        h.controller.post(Talk(TalkAction.CANCEL))
        h.wait(lambda s: True)
        assert h.talks == []
        for _ in range(2):
            h.turn()
        assert len(h.talks) == 1
        assert h.talks[0].dictation.calls == ["press", "release"] * 2
        assert not h.talks[0].closed.is_set()
        assert h.controller.snapshot.listening is False  # independent of listening
    finally:
        h.close()
    assert h.talks[0].closed.is_set()  # Quit closes it, delivering what is still due


def test_controller_closes_an_idle_dictation_and_opens_a_new_one_at_the_next_press(
    tmp_path: Path,
) -> None:
    h = TalkHarness(tmp_path, keep_warm_s=0.01)
    try:
        h.controller.post(Talk(TalkAction.PRESS))
        h.wait(lambda s: s.dictation is DictationState.RECORDING)
        h.controller.post(Talk(TalkAction.CANCEL))
        assert h.talks[0].closed.wait(3)  # cooled down: the microphone is free again
        h.controller.post(Talk(TalkAction.TOGGLE))
        h.wait(lambda s: len(h.talks) == 2)
        assert h.talks[1].dictation.calls == ["toggle"]
    finally:
        h.close()


def test_controller_dictation_transcripts_count_but_are_not_logged_again(
    tmp_path: Path,
) -> None:
    h = TalkHarness(tmp_path, keep_warm_s=3600)
    try:
        h.controller.post(Talk(TalkAction.PRESS))
        h.wait(lambda s: s.dictation is DictationState.RECORDING)
        talk = h.talks[0]
        talk.on_event(TranscriptDelta("i1", "Dict", "Dict"))
        h.wait(lambda s: s.partial == "Dict")
        talk.on_event(TranscriptCompleted("Dictated.", datetime.now().astimezone(), "i1"))
        snapshot = h.wait(lambda s: s.last_transcript == "Dictated.")
        assert snapshot.today_count == 1 and snapshot.partial == ""
        assert [line.text for line in snapshot.recent] == ["Dictated."]
        # The dictation wrote the log; the controller did not write it again.
        assert snapshot.log_path.read_text(encoding="utf-8").count("Dictated.") == 1
        assert h.delivered == []  # nor copied: the dictation delivered it into the window
    finally:
        h.close()


def test_controller_settings_change_closes_the_warm_dictation(tmp_path: Path) -> None:
    h = TalkHarness(tmp_path, keep_warm_s=3600)
    try:
        h.controller.post(Talk(TalkAction.PRESS))
        h.wait(lambda s: s.dictation is DictationState.RECORDING)
        h.controller.post(ChangeSettings({"delivery": "clipboard"}))
        assert h.talks[0].closed.wait(3)
        h.controller.post(Talk(TalkAction.PRESS))
        h.wait(lambda s: len(h.talks) == 2)
        assert h.talks[1].config.delivery == "clipboard"
    finally:
        h.close()


def test_controller_mutes_listening_while_a_dictation_turn_records(tmp_path: Path) -> None:
    """Dictated speech goes into a window; listening must not log it a second time."""
    h = TalkHarness(tmp_path, keep_warm_s=3600)
    try:
        h.controller.post(Start())
        h.wait(lambda s: s.listening)
        [worker] = h.workers
        h.controller.post(Talk(TalkAction.PRESS))
        h.wait(lambda s: s.dictation is DictationState.RECORDING)
        assert worker.muted == [True]
        h.controller.post(Talk(TalkAction.RELEASE))
        h.wait(lambda s: s.dictation is DictationState.TRANSCRIBING)
        assert worker.muted == [True, True]  # the dictation still records its tail
        h.talks[0].dictation.on_state(DictationState.IDLE)
        h.wait(lambda s: s.dictation is DictationState.IDLE)
        assert worker.muted == [True, True, False]
        assert h.controller.snapshot.listening
    finally:
        h.close()


def test_controller_sets_one_cool_down_timer_per_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leaving RECORDING starts the keep-warm timer; the later IDLE report does not again."""
    delays: list[float] = []
    post_later = Controller._post_later

    def recording(self: Controller, delay: float, command: Command) -> None:
        if isinstance(command, _CoolDown):  # not the midnight check
            delays.append(delay)
        post_later(self, delay, command)

    monkeypatch.setattr(Controller, "_post_later", recording)
    h = TalkHarness(tmp_path, keep_warm_s=3600)
    try:
        h.turn()
        assert delays == [3600]
    finally:
        h.close()


def test_controller_listening_does_not_count_an_empty_transcript(harness: Harness) -> None:
    harness.controller.post(Start())
    harness.wait(lambda s: s.listening)
    worker = harness.workers[0]
    when = datetime.now().astimezone()
    worker.on_event(TranscriptCompleted("First.", when, "i1"))
    harness.wait(lambda s: s.last_transcript == "First.")
    worker.on_event(TranscriptCompleted("  ", when, "i2"))
    worker.on_event(TranscriptDelta("i3", "Sec", "Sec"))
    snapshot = harness.wait(lambda s: s.partial == "Sec")  # handled after the empty one
    assert snapshot.today_count == 1 and snapshot.last_transcript == "First."


def test_controller_listening_writes_no_log_while_the_log_is_off(tmp_path: Path) -> None:
    h = Harness(tmp_path, log=False)
    try:
        h.controller.post(Start())
        h.wait(lambda s: s.listening)
        when = datetime.now().astimezone()
        h.workers[0].on_event(TranscriptCompleted("Unlogged.", when, "i1"))
        snapshot = h.wait(lambda s: s.last_transcript == "Unlogged.")
        assert not (tmp_path / "logs").exists()
        assert h.delivered == ["Unlogged."] and snapshot.today_count == 1
        h.controller.post(ChangeSettings({"log": True}))  # a new session, logging again
        h.wait(lambda s: s.config.log and len(h.workers) == 2)
        h.workers[1].on_event(TranscriptCompleted("Logged.", when, "i2"))
        snapshot = h.wait(lambda s: s.last_transcript == "Logged.")
        assert snapshot.log_path.read_text(encoding="utf-8").endswith("  Logged.\n")
        assert snapshot.log_path.read_text(encoding="utf-8").count("\n") == 1
    finally:
        h.controller.post(Quit())
        h.thread.join(3)


def test_controller_listening_logs_into_the_new_log_dir(harness: Harness, tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    moved.mkdir()
    earlier = moved / f"{datetime.now():%Y-%m-%d}.txt"
    earlier.write_text("08:00:00  Earlier.\n", encoding="utf-8")
    harness.controller.post(Start())
    harness.wait(lambda s: s.listening)
    when = datetime.now().astimezone()
    harness.workers[0].on_event(TranscriptCompleted("Before.", when, "i1"))
    snapshot = harness.wait(lambda s: s.last_transcript == "Before.")
    old_path = snapshot.log_path
    harness.controller.post(ChangeSettings({"log_dir": str(moved)}))
    snapshot = harness.wait(lambda s: s.config.log_dir == moved and len(harness.workers) == 2)
    assert snapshot.log_path == earlier and snapshot.today_count == 1  # counted from the new file
    harness.workers[1].on_event(TranscriptCompleted("After.", when, "i2"))
    snapshot = harness.wait(lambda s: s.last_transcript == "After.")
    assert earlier.read_text(encoding="utf-8").endswith(
        "  Earlier.\n" + f"{when:%H:%M:%S}  After.\n"
    )
    assert old_path.read_text(encoding="utf-8").count("\n") == 1  # only "Before."
    assert snapshot.today_count == 2


def test_controller_starts_todays_count_again_at_midnight(tmp_path: Path) -> None:
    """The count the status and the menu show is today's: it starts again just after midnight,
    before the new day's first transcript. Started at 23:59:59.5, the date is checked 1.5 s on."""
    clock = [datetime(2026, 12, 1, 23, 59, 59, 500_000)]
    h = Harness(tmp_path, now=lambda: clock[0])
    try:
        h.controller.post(Start())
        h.wait(lambda s: s.listening)
        h.workers[0].on_event(TranscriptCompleted("Late.", clock[0].astimezone(), "i1"))
        assert h.wait(lambda s: s.last_transcript == "Late.").today_count == 1
        clock[0] = datetime(2026, 12, 2, 0, 0, 1)
        h.wait(lambda s: s.today_count == 0, timeout=30)  # with no transcript since
        h.workers[0].on_event(TranscriptCompleted("Early.", clock[0].astimezone(), "i2"))
        assert h.wait(lambda s: s.last_transcript == "Early.").today_count == 1
    finally:
        h.controller.post(Quit())
        h.thread.join(3)
    logs = tmp_path / "logs"
    assert (logs / "2026-12-01.txt").read_text(encoding="utf-8") == "23:59:59  Late.\n"
    assert (logs / "2026-12-02.txt").read_text(encoding="utf-8") == "00:00:01  Early.\n"


def test_controller_lost_microphone_is_an_error_state_until_it_captures_again(
    harness: Harness,
) -> None:
    """The tray once stayed green "listening" for a minute with no recording stream."""
    harness.controller.post(Start())
    worker = harness.wait(lambda s: len(harness.workers) == 1) and harness.workers[0]
    worker.on_event(SessionReady(Dialect.GA, "sess"))
    harness.wait(lambda s: s.state is AppState.LISTENING)
    lost = "No working microphone: plug one in; tray-stt keeps trying."
    harness.controller.microphone_changed(False, lost)
    snapshot = harness.wait(lambda s: s.state is AppState.ERROR)
    assert snapshot.detail == lost and snapshot.listening
    assert harness.notifier.topics["health"] == lost
    assert harness.notifier.shown[-1] == ("tray-stt", lost, True)
    harness.controller.microphone_changed(True)
    harness.wait(lambda s: s.state is AppState.LISTENING)
    assert "health" not in harness.notifier.topics
