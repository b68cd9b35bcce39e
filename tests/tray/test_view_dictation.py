"""Push-to-talk in the tray: dictation states in the icon and title, failures, and recovery."""

from __future__ import annotations

from pathlib import Path

from tests.support.controller_fakes import Dictations
from tests.support.tray_harness import Tray, icon_is, labels
from tray_stt.app.service import open_dictation
from tray_stt.app.state import AppState, Talk
from tray_stt.errors import AudioInputError, AuthenticationError
from tray_stt.pushtotalk.talk import DictationState, DictationStopped, TalkAction
from tray_stt.realtime.events import SessionReady
from tray_stt.realtime.models import Dialect
from tray_stt.tray.icons import IconState


def test_tray_push_to_talk_without_a_microphone_says_so_and_recovers(tmp_path: Path) -> None:
    dictations = Dictations()
    dictations.fail_with = AudioInputError("No input device found: plug in a microphone.")
    t = Tray(tmp_path, dictate=dictations)
    try:
        t.controller.post(Talk(TalkAction.PRESS))
        snapshot = t.wait(lambda s: s.state is AppState.ERROR)
        assert snapshot.dictation is DictationState.IDLE
        assert t.icon.title == "tray-stt: error · No input device found: plug in a microphone."
        assert icon_is(t.icon.icon, IconState.ERROR)
        assert t.notifier.shown[-1] == (
            "tray-stt",
            "Push-to-talk: No input device found: plug in a microphone.",
            True,
        )
        t.controller.post(Talk(TalkAction.RELEASE))  # the key comes up: nothing to end
        dictations.fail_with = None  # plugged in
        t.controller.post(Talk(TalkAction.PRESS))
        t.wait(lambda s: s.dictation is DictationState.RECORDING)
        assert t.icon.title == "tray-stt: dictating"
        t.controller.post(Talk(TalkAction.CANCEL))
        t.wait(lambda s: s.state is AppState.IDLE and s.dictation is DictationState.IDLE)
        assert icon_is(t.icon.icon, IconState.IDLE)
    finally:
        t.close()


def test_tray_push_to_talk_without_api_key_says_what_to_do(tmp_path: Path) -> None:
    t = Tray(tmp_path, env={"OPENAI_API_KEY": ""}, dictate=open_dictation)  # the real one
    try:
        t.wait(lambda s: s.state is AppState.ERROR)
        t.controller.post(Talk(TalkAction.PRESS))
        t.icon.wait(
            lambda: any(n[1].startswith("Push-to-talk: No API key") for n in t.notifier.shown)
        )
        snapshot = t.wait(lambda s: s.dictation is DictationState.IDLE)
        assert snapshot.state is AppState.ERROR and "No API key" in t.icon.title
    finally:
        t.close()


def test_tray_push_to_talk_session_that_ended_is_replaced_at_the_next_press(
    tmp_path: Path,
) -> None:
    dictations = Dictations()
    t = Tray(tmp_path, dictate=dictations)
    try:
        t.controller.post(Talk(TalkAction.PRESS))
        t.wait(lambda s: s.dictation is DictationState.RECORDING)
        first = dictations.opened[0]
        first.dictation.running = False
        first.on_event(DictationStopped(AuthenticationError("The server refused the key.")))
        snapshot = t.wait(lambda s: s.state is AppState.ERROR)
        assert snapshot.dictation is DictationState.IDLE
        assert t.icon.title == "tray-stt: error · Dictation stopped: The server refused the key."
        assert t.notifier.shown[-1][2] is True
        t.controller.post(Talk(TalkAction.PRESS))
        t.wait(lambda s: s.dictation is DictationState.RECORDING and len(dictations.opened) == 2)
        assert first.closed.wait(5)
    finally:
        t.close()


def test_tray_push_to_talk_while_listening_leaves_the_listening_alone(tmp_path: Path) -> None:
    dictations = Dictations()
    t = Tray(tmp_path, dictate=dictations)
    try:
        t.icon.click()
        t.wait(lambda s: s.listening)
        t.workers[0].on_event(SessionReady(Dialect.GA, None))
        t.wait(lambda s: s.state is AppState.LISTENING)
        t.controller.post(Talk(TalkAction.PRESS))
        t.wait(lambda s: s.dictation is DictationState.RECORDING)
        assert icon_is(t.icon.icon, IconState.SPEECH)
        assert t.icon.title == "tray-stt: dictating"
        dictations.opened[0].dictation.on_state(DictationState.IDLE)
        snapshot = t.wait(lambda s: s.dictation is DictationState.IDLE)
        assert snapshot.listening and snapshot.state is AppState.LISTENING
        assert icon_is(t.icon.icon, IconState.LISTENING)
        assert len(t.workers) == 1  # the listening session was never restarted
        assert labels(t.icon.menu)[:3] == ["Listening", "----", "Stop listening"]
    finally:
        t.close()
