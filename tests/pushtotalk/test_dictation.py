"""Dictation turns against the loopback server, with a hand-fed microphone and a fake window."""

from __future__ import annotations

import queue
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from tests.support.fake_sounddevice import FedMicrophone
from tests.support.realtime_server import RealtimeServer
from tray_stt.config import Config
from tray_stt.pushtotalk.delivery import Window
from tray_stt.pushtotalk.dictation import Dictation
from tray_stt.pushtotalk.talk import DictationState
from tray_stt.realtime.events import SessionReady
from tray_stt.realtime.journal import BYTES_PER_MS
from tray_stt.transcripts import DailyLog

CHUNK_MS = 20
LOUD = (np.sin(np.arange(CHUNK_MS * 24) * 0.2) * 12000).astype("<i2").tobytes()
QUIET = bytes(CHUNK_MS * BYTES_PER_MS)
EDITOR = Window(7, ("editor", "editor"))


class FakeDeliverer:
    def __init__(self) -> None:
        self.delivered: queue.Queue[tuple[str, Window | None]] = queue.Queue()

    def focused(self) -> Window | None:
        return EDITOR

    def deliver(self, text: str, target: Window | None) -> None:
        self.delivered.put((text, target))

    def close(self) -> None:
        pass


def start(
    server: RealtimeServer, tmp_path: Path, **kw: int
) -> tuple[Dictation, FedMicrophone, FakeDeliverer, list[DictationState]]:
    config = replace(Config(), url=server.url, api_key="test-key")
    mic, deliverer, states = FedMicrophone(), FakeDeliverer(), []
    ready = threading.Event()
    dictation = Dictation(
        config,
        mic,
        deliverer,  # type: ignore[arg-type]
        log=DailyLog(tmp_path),
        on_event=lambda e: ready.set() if isinstance(e, SessionReady) else None,
        on_state=states.append,
        **kw,
    )
    dictation.start()
    assert ready.wait(10)
    return dictation, mic, deliverer, states


def commits(server: RealtimeServer) -> list[dict[str, object]]:
    return [
        e
        for c in server.connections
        for e in c.client_events
        if e["type"] == "input_audio_buffer.commit"
    ]


def test_dictation_turn_is_committed_after_the_tail_and_delivered_to_the_key_down_window(
    tmp_path: Path,
) -> None:
    with RealtimeServer(transcripts=["Dictated — é"]) as server:
        dictation, mic, deliverer, states = start(server, tmp_path, tail_ms=100)
        mic.feed(QUIET, 20)
        dictation.press()
        mic.feed(LOUD, 25)
        dictation.release()
        mic.feed(QUIET, 10)
        assert deliverer.delivered.get(timeout=10) == ("Dictated — é", EDITOR)
        dictation.close()
    assert len(commits(server)) == 1
    assert states[:2] == [DictationState.RECORDING, DictationState.TRANSCRIBING]
    log = next(tmp_path.glob("*.txt")).read_text(encoding="utf-8")
    assert log.rstrip().endswith("Dictated — é")
    sent = server.connections[0].audio
    # The pre-roll (300 ms of the 400 ms heard before the press), the turn and the tail.
    assert (300 + 25 * CHUNK_MS) * BYTES_PER_MS <= len(sent) <= (300 + 35 * CHUNK_MS) * BYTES_PER_MS


def test_dictation_cancel_clears_and_delivers_nothing(tmp_path: Path) -> None:
    with RealtimeServer(transcripts=["kept", "second"]) as server:
        dictation, mic, deliverer, _ = start(server, tmp_path, tail_ms=50)
        dictation.press()
        mic.feed(LOUD, 25)
        dictation.cancel()
        mic.feed(QUIET, 5)
        dictation.press()
        mic.feed(LOUD, 25)
        dictation.release()
        mic.feed(QUIET, 10)
        assert deliverer.delivered.get(timeout=10)[0] == "kept"
        dictation.close()
        types = [e["type"] for c in server.connections for e in c.client_events]
    assert types.count("input_audio_buffer.commit") == 1
    assert types.count("input_audio_buffer.clear") == 3  # press, cancel, press


def test_dictation_tail_ends_on_time_without_more_audio(tmp_path: Path) -> None:
    """The commit does not wait for the next chunk: the microphone may deliver nothing."""
    with RealtimeServer(transcripts=["no more chunks"]) as server:
        dictation, mic, deliverer, _ = start(server, tmp_path, tail_ms=50)
        dictation.press()
        mic.feed(LOUD, 25)
        dictation.release()
        assert deliverer.delivered.get(timeout=10)[0] == "no more chunks"
        dictation.close()


def test_dictation_tap_too_short_to_commit_is_dropped(tmp_path: Path) -> None:
    with RealtimeServer(transcripts=["only this"]) as server:
        dictation, mic, deliverer, states = start(server, tmp_path, tail_ms=0, pre_roll_ms=0)
        dictation.press()
        mic.feed(LOUD, 2)  # 40 ms: under the server's 100 ms minimum
        dictation.release()
        mic.feed(QUIET, 3)
        dictation.press()
        mic.feed(LOUD, 25)
        dictation.release()
        mic.feed(QUIET, 3)
        assert deliverer.delivered.get(timeout=10)[0] == "only this"
        dictation.close()
    assert len(commits(server)) == 1
    assert states[:2] == [DictationState.RECORDING, DictationState.IDLE]


def test_dictation_toggle_starts_and_ends_a_turn(tmp_path: Path) -> None:
    with RealtimeServer(transcripts=["toggled"]) as server:
        dictation, mic, deliverer, _ = start(server, tmp_path, tail_ms=50)
        dictation.toggle()
        mic.feed(LOUD, 25)
        dictation.toggle()
        mic.feed(QUIET, 10)
        assert deliverer.delivered.get(timeout=10) == ("toggled", EDITOR)
        dictation.close()
