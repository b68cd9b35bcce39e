"""Sound cues: the bundled WAVs, which cue each dictation change plays, and real playback."""

from __future__ import annotations

import filecmp
import logging
import queue
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.support import REPO
from tests.support.fake_sounddevice import FedMicrophone
from tests.support.realtime_server import RealtimeServer
from tests.support.virtual_audio import needs_portaudio, virtual_microphone
from tray_stt.app.pushtotalk import PushToTalk
from tray_stt.config import CONFIG_TEMPLATE, PARSERS, Config
from tray_stt.pushtotalk.cues import CUES, SoundCues, cue_for, load_sound, sound_path
from tray_stt.pushtotalk.talk import DictationState
from tray_stt.realtime.events import SessionReady
from tray_stt.realtime.journal import BYTES_PER_MS

ASSETS = REPO / "assets"
FULL_SCALE = 32767
IDLE, RECORDING, TRANSCRIBING = (
    DictationState.IDLE,
    DictationState.RECORDING,
    DictationState.TRANSCRIBING,
)


class FakePlayer:
    """Records what it was asked to play, by cue name; ``fail`` makes it raise instead."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.fail = fail
        self.played: list[str] = []
        self._names = {load_sound(sound_path(n))[0].tobytes(): n for n in CUES}

    def __call__(self, samples: np.ndarray, rate: int) -> None:
        if self.fail is not None:
            raise self.fail
        assert rate in (24000, 48000)
        self.played.append(self._names[samples.tobytes()])


# -- the bundled sounds --------------------------------------------------------------------------


@pytest.mark.parametrize("name", CUES)
def test_cue_files_are_short_soft_mono_and_start_and_end_silent(name: str) -> None:
    samples, rate = load_sound(sound_path(name))
    assert rate in (24000, 48000)
    assert 0 < len(samples) <= rate * 150 // 1000
    peak_dbfs = 20 * np.log10(np.max(np.abs(samples.astype(np.int32))) / FULL_SCALE)
    assert -21 <= peak_dbfs <= -15  # soft beside speech, and far from clipping
    # Faded in and out: no step at either end (a click), and no jump anywhere inside.
    edge = rate // 1000  # 1 ms
    assert np.max(np.abs(samples[:edge].astype(np.int32))) < 0.02 * FULL_SCALE
    assert np.max(np.abs(samples[-edge:].astype(np.int32))) < 0.02 * FULL_SCALE
    assert abs(int(samples[0])) <= 1 and abs(int(samples[-1])) <= 1


def test_cue_files_are_installed_as_package_data() -> None:
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert '"tray_stt.assets.sounds" = "assets/sounds"' in pyproject
    assert '"tray_stt.assets.sounds" = ["*.wav"]' in pyproject
    assert sound_path("start") == ASSETS / "sounds" / "start.wav"


def test_make_sounds_reproduces_the_committed_files_byte_for_byte(tmp_path: Path) -> None:
    script = ASSETS / "make_sounds.py"
    subprocess.run([sys.executable, str(script), str(tmp_path)], check=True, capture_output=True)
    fresh = sorted(p.name for p in (tmp_path / "sounds").iterdir())
    assert fresh == sorted(f"{n}.wav" for n in CUES)
    for name in fresh:
        kept = ASSETS / "sounds" / name
        assert filecmp.cmp(tmp_path / "sounds" / name, kept, shallow=False), (
            f"{name} is stale: run assets/make_sounds.py"
        )


# -- which cue plays when ------------------------------------------------------------------------


def test_cue_for_every_state_change() -> None:
    assert cue_for(IDLE, RECORDING) == "start"
    assert cue_for(TRANSCRIBING, RECORDING) == "start"  # talking again while the text is coming
    assert cue_for(RECORDING, TRANSCRIBING) == "stop"
    assert cue_for(RECORDING, IDLE) == "cancel"  # cancelled, or too short to transcribe
    assert cue_for(TRANSCRIBING, IDLE) is None
    assert cue_for(RECORDING, RECORDING) is None
    assert cue_for(IDLE, IDLE) is None
    assert cue_for(IDLE, TRANSCRIBING) is None


def test_sound_cues_follow_a_dictation_sequence() -> None:
    player = FakePlayer()
    cues = SoundCues(True, player)
    states = [RECORDING, TRANSCRIBING, RECORDING, IDLE, RECORDING, TRANSCRIBING, IDLE]
    for state in states:
        cues.on_state(state)
        assert cues.wait(10)  # played one by one, so the order is checked, not a race
    cues.close()
    assert player.played == ["start", "stop", "start", "cancel", "start", "stop"]


def test_sound_cues_play_returns_before_the_sound_has_played() -> None:
    release = threading.Event()
    started = threading.Event()

    def slow_player(samples: np.ndarray, rate: int) -> None:
        started.set()
        release.wait(10)

    cues = SoundCues(True, slow_player)
    cues.play("start")  # returns although the player blocks until released
    assert started.wait(10)
    assert not cues.wait(0)
    release.set()
    assert cues.wait(10)
    cues.close()


def test_sound_cues_disabled_play_nothing_and_start_no_thread() -> None:
    player = FakePlayer()
    cues = SoundCues(False, player)
    for state in (RECORDING, TRANSCRIBING, RECORDING, IDLE):
        cues.on_state(state)
    cues.play("start")
    assert cues.wait(0)
    cues.close()
    assert player.played == []
    assert not any(t.name == "tray-stt-sound-cues" and t.is_alive() for t in threading.enumerate())


def test_sound_cues_never_raise_and_warn_once_when_playback_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cues = SoundCues(True, FakePlayer(fail=OSError("PortAudio library not found")))
    with caplog.at_level(logging.WARNING, logger="tray_stt.pushtotalk.cues"):
        for name in ("start", "stop", "cancel", "start"):
            cues.play(name)
            assert cues.wait(10)
    cues.close()
    warnings = [r.getMessage() for r in caplog.records if r.name == "tray_stt.pushtotalk.cues"]
    assert warnings == ["Sound cues are silent: PortAudio library not found"]


def test_sound_cues_missing_file_is_silent_and_others_still_play(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    player = FakePlayer()

    def locate(name: str) -> Path:
        return tmp_path / "missing.wav" if name == "stop" else sound_path(name)

    cues = SoundCues(True, player, locate=locate)
    with caplog.at_level(logging.WARNING, logger="tray_stt.pushtotalk.cues"):
        for name in ("start", "stop", "stop", "cancel"):
            cues.play(name)
            assert cues.wait(10)
    cues.close()
    assert player.played == ["start", "cancel"]
    assert len([r for r in caplog.records if r.name == "tray_stt.pushtotalk.cues"]) == 1


def test_sound_cues_unknown_name_and_after_close_play_nothing() -> None:
    player = FakePlayer()
    cues = SoundCues(True, player)
    cues.play("fanfare")
    cues.close()
    cues.play("start")
    assert cues.wait(10)
    assert player.played == []


# -- configuration -------------------------------------------------------------------------------


def test_sound_cues_config_key_defaults_on_and_parses_booleans() -> None:
    assert Config().sound_cues is True
    assert PARSERS["sound_cues"]("false") is False
    assert PARSERS["sound_cues"](True) is True
    with pytest.raises(ValueError):
        PARSERS["sound_cues"]("loud")
    assert "# sound_cues = true" in CONFIG_TEMPLATE


# -- wired into push-to-talk (the CLI and the tray both build PushToTalk) ------------------------

CHUNK_MS = 20
LOUD = (np.sin(np.arange(CHUNK_MS * 24) * 0.2) * 12000).astype("<i2").tobytes()
QUIET = bytes(CHUNK_MS * BYTES_PER_MS)


def test_push_to_talk_plays_start_stop_and_cancel_for_its_turns(tmp_path: Path) -> None:
    player, mic, states = FakePlayer(), FedMicrophone(), queue.Queue[DictationState]()
    ready = threading.Event()
    with RealtimeServer(transcripts=["kept"]) as server:
        config = replace(Config(), url=server.url, api_key="test-key", log_dir=tmp_path, tail_ms=40)
        talk = PushToTalk(
            config,
            lambda e: ready.set() if isinstance(e, SessionReady) else None,
            on_state=states.put,
            hotkey=False,
            microphone=mic,  # type: ignore[arg-type]
            cues=SoundCues(True, player),
        )
        talk.start()
        try:
            assert ready.wait(10)
            talk.dictation.press()
            mic.feed(LOUD, 20)
            talk.dictation.cancel()
            mic.feed(QUIET, 3)
            talk.dictation.press()
            mic.feed(LOUD, 20)
            talk.dictation.release()
            mic.feed(QUIET, 10)
            seen = [states.get(timeout=10) for _ in range(4)]
            assert seen == [RECORDING, IDLE, RECORDING, TRANSCRIBING]  # the caller still hears
            assert talk.cues.wait(10)
            assert player.played == ["start", "cancel", "start", "stop"]
        finally:
            talk.close()


# -- real playback: PortAudio into a private PulseAudio null sink, recorded from its monitor ------

PLAY_CUE = textwrap.dedent(
    """
    from tray_stt.pushtotalk.cues import SoundCues
    cues = SoundCues(True)
    cues.play("start")
    assert cues.wait(20)
    cues.close()
    print("played")
    """
)


@pytest.mark.desktop
@needs_portaudio
def test_start_cue_plays_through_portaudio_into_the_default_output(tmp_path: Path) -> None:
    with virtual_microphone(tmp_path) as env:  # its null sink `vmic` is the only output
        recorded = tmp_path / "heard.raw"
        record = ["parec", "--device=vmic.monitor", "--rate=24000", "--channels=1"]
        record += ["--format=s16le", "--latency-msec=20"]
        with recorded.open("wb") as out:
            recorder = subprocess.Popen(record, env=env, stdout=out)
        try:
            played = subprocess.run(
                [sys.executable, "-c", PLAY_CUE],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert played.returncode == 0 and "played" in played.stdout, played.stderr
            assert "Sound cues are silent" not in played.stderr
            deadline = time.monotonic() + 10  # for the recorder to hand on what it heard
            while time.monotonic() < deadline and _peak(recorded) < 2000:
                time.sleep(0.05)
        finally:
            recorder.terminate()
            recorder.wait(10)
    heard = np.frombuffer(recorded.read_bytes()[: len(recorded.read_bytes()) // 2 * 2], "<i2")
    peak = int(np.max(np.abs(heard.astype(np.int32)))) if len(heard) else 0
    # The cue arrived, at its soft level (-18 dBFS is 4125): neither lost nor amplified.
    assert 2000 <= peak <= 6000, peak
    loud = np.flatnonzero(np.abs(heard.astype(np.int32)) >= 400)
    spectrum = np.abs(np.fft.rfft(heard[loud[0] : loud[-1] + 1].astype(np.float64)))
    dominant = np.argmax(spectrum) * 24000 / (loud[-1] + 1 - loud[0])
    assert 600 <= dominant <= 1100, dominant  # the start cue's rising 660-990 Hz glide


def _peak(path: Path) -> int:
    data = path.read_bytes()
    samples = np.frombuffer(data[: len(data) // 2 * 2], "<i2").astype(np.int32)
    return int(np.max(np.abs(samples))) if len(samples) else 0
