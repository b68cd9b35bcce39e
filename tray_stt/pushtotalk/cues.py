"""Short sounds when a push-to-talk turn starts, ends or is discarded (``sound_cues``).

The cues follow the dictation's state, not the keys, so they say what really happened: a held
key's auto-repeat or a second press source plays nothing, toggle mode and the control commands
sound the same as the hotkey, and the stop cue plays when recording really stops (after the
tail), so it is never part of the audio sent for transcription:

- start:  a turn starts recording;
- stop:   recording ended and the turn was committed;
- cancel: recording ended and the turn was discarded (cancelled, or too short to transcribe).

Playing never blocks the caller (the thread feeding the session) and never raises: the sounds
are played one after another on a thread of their own, and a missing PortAudio, no output
device or a missing sound file is logged once and leaves the cues silent.
"""

from __future__ import annotations

import logging
import queue
import threading
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tray_stt.audio.host import host_for
from tray_stt.audio.portaudio import import_sounddevice
from tray_stt.pushtotalk.talk import DictationState
from tray_stt.resources import assets_dir

CUES = ("start", "stop", "cancel")
_QUEUED_MAX = 4  # more waiting than this is a burst of taps: later cues are dropped

Samples = npt.NDArray[np.int16]
Player = Callable[[Samples, int], None]
"""Plays mono int16 samples at a rate (Hz) on the default output; returns when done."""

_log = logging.getLogger(__name__)


def sound_path(name: str) -> Path:
    """The WAV file of cue ``name``, one of CUES."""
    if name not in CUES:
        raise ValueError(f"no sound cue {name!r}: cues are {', '.join(CUES)}")
    return assets_dir() / "sounds" / f"{name}.wav"


def load_sound(path: Path) -> tuple[Samples, int]:
    """A mono 16-bit PCM WAV file's samples and rate."""
    with wave.open(str(path), "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise ValueError(f"{path} is not mono 16-bit PCM")
        frames = wav.readframes(wav.getnframes())
        return np.frombuffer(frames, dtype="<i2").astype(np.int16), wav.getframerate()


def play_through_sounddevice(samples: Samples, rate: int) -> None:
    """Play on the default output device through PortAudio; returns when it has been played."""
    sounddevice = import_sounddevice()  # OSError when the PortAudio library is missing
    # Through the process's PortAudio host: a microphone's device rescan would free the stream
    # under a cue still playing (docs/architecture.md, "Microphone (PortAudio)").
    host_for(sounddevice).play(samples.reshape(-1, 1), rate)


def cue_for(previous: DictationState, state: DictationState) -> str | None:
    """The cue for a dictation state change, if any."""
    recording = DictationState.RECORDING
    if state is recording and previous is not recording:
        return "start"
    if previous is recording and state is DictationState.TRANSCRIBING:
        return "stop"
    if previous is recording and state is DictationState.IDLE:
        return "cancel"
    return None


class SoundCues:
    """Plays the cues asynchronously; ``on_state`` follows a dictation's state changes."""

    def __init__(
        self,
        enabled: bool,
        player: Player = play_through_sounddevice,
        *,
        locate: Callable[[str], Path] = sound_path,
    ) -> None:
        """Nothing is loaded or opened until the first cue plays."""
        self.enabled = enabled
        self._player = player
        self._locate = locate
        self._sounds: dict[str, tuple[Samples, int] | None] = {}  # None: could not be loaded
        self._queue: queue.Queue[str | None] = queue.Queue(maxsize=_QUEUED_MAX)
        self._state = DictationState.IDLE
        self._busy = 0  # cues queued or playing
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._warned = False
        self._closed = False

    def on_state(self, state: DictationState) -> None:
        """Play the cue of the change from the previous state to ``state``, if any."""
        previous, self._state = self._state, state
        name = cue_for(previous, state)
        if name is not None:
            self.play(name)

    def play(self, name: str) -> None:
        """Queue cue ``name`` (one of CUES) and return at once; never raises."""
        if not self.enabled or self._closed or name not in CUES:
            return
        try:
            self._ensure_thread()
            with self._idle:
                self._busy += 1
            try:
                self._queue.put_nowait(name)
            except queue.Full:
                self._done()
        except Exception as exc:  # e.g. no thread can be started while the process exits
            self._warn(exc)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every queued cue has been played (or failed); whether it happened."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def close(self, timeout: float = 2.0) -> None:
        """Stop the player thread after what is queued; later cues are not played."""
        self._closed = True
        thread = self._thread
        if thread is not None:
            try:
                self._queue.put(None, timeout=timeout)
            except queue.Full:
                return  # the player is stuck in the audio system; it is a daemon thread
            thread.join(timeout)

    # -- the player thread ---------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="tray-stt-sound-cues", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while (name := self._queue.get()) is not None:
            try:
                sound = self._sound(name)
                if sound is not None:
                    self._player(*sound)
            except Exception as exc:  # PortAudio missing, no output device, device lost
                self._warn(exc)
            finally:
                self._done()

    def _sound(self, name: str) -> tuple[Samples, int] | None:
        if name not in self._sounds:
            try:
                self._sounds[name] = load_sound(self._locate(name))
            except Exception as exc:  # a broken installation: the other cues may still play
                self._sounds[name] = None
                self._warn(exc)
        return self._sounds[name]

    def _done(self) -> None:
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()

    def _warn(self, exc: BaseException) -> None:
        if not self._warned:
            self._warned = True
            _log.warning("Sound cues are silent: %s", str(exc) or type(exc).__name__)
