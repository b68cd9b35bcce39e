"""The menu's status line (issue 14, item 7) and its Recent submenu (item 6), through a FakeIcon.

Not every tray shows a tooltip (an AppIndicator, libayatana's XEmbed fallback, a GTK status
icon in trayer), so the first, disabled rows of the menu say the state, then the error sentence
or the last transcript; the menu is rebuilt (``update_menu``) whenever they change.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

from tests.support.controller_fakes import Dictations
from tests.support.tray_harness import Tray, find, labels
from tray_stt.app.state import RECENT_COUNT, AppState, Snapshot, Talk
from tray_stt.config import Config
from tray_stt.errors import AuthenticationError
from tray_stt.pushtotalk.talk import DictationState, TalkAction
from tray_stt.realtime.events import SessionReady, TranscriptCompleted, TranscriptDelta
from tray_stt.realtime.models import Dialect
from tray_stt.transcripts import LogLine
from tray_stt.tray.view import STATUS_ROWS, STATUS_WIDTH, recent_label, status_lines

IDLE = Snapshot(AppState.IDLE, "not listening", False, "", "", Config(), False, 0)


def status(menu: object) -> list[str]:
    """The status rows the menu shows: what comes before its first separator."""
    shown = labels(menu)
    return shown[: shown.index("----")]


def test_status_lines_for_each_state() -> None:
    assert status_lines(IDLE) == ("Idle",)
    listening = replace(IDLE, state=AppState.LISTENING, listening=True, last_transcript="Hi\nyou")
    assert status_lines(listening) == ("Listening: Hi you",)
    # Speech and silence read alike: the menu is not rebuilt at every utterance's start.
    assert status_lines(replace(listening, state=AppState.SPEECH)) == ("Listening: Hi you",)
    assert status_lines(replace(IDLE, last_transcript="Done.")) == ("Idle: Done.",)
    connecting = replace(IDLE, state=AppState.CONNECTING, listening=True)
    assert status_lines(connecting) == ("Connecting…",)


def test_status_lines_show_the_whole_error_sentence_wrapped() -> None:
    sentence = str(AuthenticationError.missing())
    rows = status_lines(replace(IDLE, state=AppState.ERROR, detail=sentence, last_transcript="x"))
    assert 1 < len(rows) <= STATUS_ROWS and all(len(row) <= STATUS_WIDTH for row in rows)
    assert " ".join(rows).startswith("Error: No API key is set: run `tray-stt set-key`")
    assert "x" not in rows  # an error shows its sentence, not the last transcript
    long = replace(IDLE, state=AppState.ERROR, detail="word " * 100)
    rows = status_lines(long)
    assert len(rows) == STATUS_ROWS and rows[-1].endswith("…")


def test_status_lines_while_dictating_never_show_the_previous_transcript() -> None:
    recording = replace(IDLE, last_transcript="previous", dictation=DictationState.RECORDING)
    assert status_lines(recording) == ("Dictating…",)
    transcribing = replace(recording, dictation=DictationState.TRANSCRIBING, partial="now")
    assert status_lines(transcribing) == ("Transcribing…",)
    over_error = replace(recording, state=AppState.ERROR, detail="No microphone.")
    assert status_lines(over_error) == ("Dictating…",)


def test_tray_status_row_follows_the_session_and_the_menu_is_redrawn(tray: Tray) -> None:
    assert status(tray.icon.menu) == ["Idle"]
    tray.icon.click()
    tray.wait(lambda s: s.listening)
    worker = tray.workers[0]
    worker.on_event(SessionReady(Dialect.GA, None))
    tray.wait(lambda s: s.state is AppState.LISTENING)
    assert status(tray.icon.menu) == ["Listening"]
    before = tray.icon.count("menu")
    worker.on_event(TranscriptDelta("i1", "Hello", "Hello"))
    tray.wait(lambda s: s.partial == "Hello")
    assert tray.icon.count("menu") == before  # a partial transcript: the tooltip only
    worker.on_event(TranscriptCompleted("Hello there.", datetime.now().astimezone(), "i1"))
    tray.wait(lambda s: s.last_transcript == "Hello there.")
    assert tray.icon.count("menu") > before  # the native menu is rebuilt with the new row
    assert status(tray.icon.menu) == ["Listening: Hello there."]
    worker.on_end(AuthenticationError("OpenAI rejected the API key (401)."))
    tray.wait(lambda s: s.state is AppState.ERROR)
    assert " ".join(status(tray.icon.menu)) == "Error: OpenAI rejected the API key (401)."


def test_tray_status_row_while_dictating(tmp_path: Path) -> None:
    dictations = Dictations()
    t = Tray(tmp_path, dictate=dictations)
    try:
        t.controller.post(Talk(TalkAction.PRESS))
        t.wait(lambda s: s.dictation is DictationState.RECORDING)
        assert status(t.icon.menu) == ["Dictating…"]
        t.controller.post(Talk(TalkAction.RELEASE))
        t.wait(lambda s: s.dictation is DictationState.TRANSCRIBING)
        assert status(t.icon.menu) == ["Transcribing…"]
        spoken = datetime.now().astimezone()
        dictations.opened[0].on_event(TranscriptCompleted("Dictated words.", spoken, "d1"))
        dictations.opened[0].dictation.on_state(DictationState.IDLE)
        t.wait(lambda s: s.dictation is DictationState.IDLE and s.last_transcript != "")
        assert status(t.icon.menu) == ["Idle: Dictated words."]
        recent = find(t.icon.menu, "Recent").submenu
        assert labels(recent) == [f"{spoken:%H:%M}  Dictated words."]
    finally:
        t.close()


def test_tray_recent_submenu_newest_first_and_choosing_copies(tmp_path: Path) -> None:
    t = Tray(
        tmp_path,
        logged={
            "2026-11-30.txt": "23:59:01  Yesterday's last.\n",
            "2026-12-01.txt": "08:00:00  Früh am Morgen, straße.\nnot a log line\n"
            "08:05:30  Second\n",
        },
    )
    try:
        menu = find(t.icon.menu, "Recent").submenu
        assert labels(menu) == [
            "08:05  Second",
            "08:00  Früh am Morgen, straße.",
            "23:59  Yesterday's last.",
        ]
        t.icon.choose("Recent", "08:00  Früh am Morgen, straße.")
        assert t.opened == ["copy: Früh am Morgen, straße."]
        worker_text = "A much longer transcript that cannot fit in a menu row at all, surely."
        t.icon.click()
        t.wait(lambda s: s.listening)
        t.workers[0].on_event(TranscriptCompleted(worker_text, datetime.now().astimezone(), "i"))
        t.wait(lambda s: s.last_transcript == worker_text)
        first = labels(find(t.icon.menu, "Recent").submenu)[0]
        assert first.endswith("…") and worker_text.startswith(first[7:-1])
        t.icon.choose("Recent", first)
        assert t.opened[-1] == f"copy: {worker_text}"  # the whole text, not the label
    finally:
        t.close()


def test_tray_recent_keeps_the_last_ones(tmp_path: Path) -> None:
    lines = "".join(f"10:{n:02d}:00  line {n}\n" for n in range(RECENT_COUNT + 5))
    t = Tray(tmp_path, logged={"2026-12-01.txt": lines})
    try:
        shown = labels(find(t.icon.menu, "Recent").submenu)
        assert len(shown) == RECENT_COUNT
        assert shown[0] == f"10:{RECENT_COUNT + 4:02d}  line {RECENT_COUNT + 4}"
    finally:
        t.close()


def test_recent_label_shortens_long_text() -> None:
    line = LogLine(datetime(2026, 12, 1, 9, 3, 4), "한국어 " * 30)
    label = recent_label(line)
    assert label.startswith("09:03  한국어") and label.endswith("…") and len(label) <= 7 + 48
