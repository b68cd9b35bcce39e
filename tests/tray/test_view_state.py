"""What the tray shows while a session runs: icon and title per event, on the tray thread only."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

from tests.support.tray_harness import Tray, icon_is
from tray_stt.app.state import AppState
from tray_stt.errors import AuthenticationError
from tray_stt.realtime.events import (
    SessionReady,
    SpeechStarted,
    SpeechStopped,
    TranscriptCompleted,
    TranscriptDelta,
)
from tray_stt.realtime.models import Dialect
from tray_stt.tray.icons import IconState
from tray_stt.tray.view import TITLE_LIMIT


def test_tray_session_events_change_icon_and_title(tray: Tray) -> None:
    tray.icon.click()
    tray.wait(lambda s: s.listening)
    worker = tray.workers[0]
    worker.on_event(SessionReady(Dialect.GA, "sess"))
    tray.wait(lambda s: s.state is AppState.LISTENING)
    assert icon_is(tray.icon.icon, IconState.LISTENING)
    worker.on_event(SpeechStarted("i1"))
    tray.wait(lambda s: s.state is AppState.SPEECH)
    assert icon_is(tray.icon.icon, IconState.SPEECH)
    worker.on_event(TranscriptDelta("i1", "Hello", "Hello"))
    tray.wait(lambda s: s.partial == "Hello")
    assert tray.icon.title == "tray-stt: hearing speech · Hello"
    worker.on_event(SpeechStopped("i1"))
    text = "Hello there, this is a long dictated sentence " * 5
    worker.on_event(TranscriptCompleted(text, datetime.now().astimezone(), "i1"))
    tray.wait(lambda s: s.last_transcript == text)
    assert tray.icon.title.startswith("tray-stt: listening · Hello there, this is")
    assert len(tray.icon.title) == TITLE_LIMIT and tray.icon.title.endswith("…")


def test_tray_error_shows_error_icon_and_sentence(tray: Tray) -> None:
    tray.icon.click()
    tray.wait(lambda s: s.listening)
    tray.workers[0].on_end(AuthenticationError("OpenAI rejected the API key (401)."))
    tray.wait(lambda s: s.state is AppState.ERROR)
    assert icon_is(tray.icon.icon, IconState.ERROR)
    assert tray.icon.title == "tray-stt: error · OpenAI rejected the API key (401)."
    assert tray.notifier.shown[-1] == ("tray-stt", "OpenAI rejected the API key (401).", True)


def test_tray_without_api_key_starts_in_error_and_recovers_when_one_is_set(
    tmp_path: Path,
) -> None:
    t = Tray(tmp_path, env={"OPENAI_API_KEY": ""})
    try:
        t.wait(lambda s: s.state is AppState.ERROR)
        assert "No API key" in t.icon.title
        assert icon_is(t.icon.icon, IconState.ERROR)
        assert t.notifier.shown and "No API key" in t.notifier.shown[0][1]
        t.icon.choose("Set API key…")
        assert t.opened == ["key"]
        t.env["OPENAI_API_KEY"] = "sk-now-set"  # what KeyStore.save makes load() find
        t.icon.choose("Copy transcripts to clipboard")  # any reload re-checks
        t.wait(lambda s: s.state is AppState.IDLE)
        assert icon_is(t.icon.icon, IconState.IDLE)
    finally:
        t.close()


def test_tray_every_ui_change_runs_on_the_tray_thread(tray: Tray) -> None:
    tray.icon.click()
    tray.wait(lambda s: s.listening)
    worker = tray.workers[0]
    for event in (SessionReady(Dialect.GA, None), SpeechStarted("a"), SpeechStopped("a")):
        sender = threading.Thread(target=worker.on_event, args=(event,))  # a session thread
        sender.start()
        sender.join()
    tray.wait(lambda s: s.state is AppState.LISTENING and s.detail == "listening")
    changes = [(kind, thread) for kind, _, thread in tray.icon.events if kind != "menu"]
    assert {kind for kind, _ in changes} >= {"show", "icon", "title"}
    assert {thread for _, thread in changes} == {tray.icon.loop_thread}
    assert tray.icon.loop_thread == tray.tray_thread.ident


def test_tray_menu_redrawn_only_when_what_it_shows_changed(tray: Tray) -> None:
    tray.icon.click()
    tray.wait(lambda s: s.listening)
    worker = tray.workers[0]
    worker.on_event(SessionReady(Dialect.GA, None))
    tray.wait(lambda s: s.state is AppState.LISTENING)
    before = tray.icon.count("menu")
    for n in range(1, 6):
        worker.on_event(TranscriptDelta("i", "x", "x" * n))
    tray.wait(lambda s: s.partial == "xxxxx")
    assert tray.icon.count("menu") == before  # partial text: title only
