"""Tests of audio.host: several microphones of one process sharing PortAudio (with the fake).

The fake's `_terminate()` frees every stream still open, as Pa_Terminate does, and records any
later call on one (`use_after_free`): the crash and the SIGABRT of issue 12.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from tests.support.audio_samples import tone
from tests.support.fake_sounddevice import FakeBackend, FakeDevice
from tray_stt.audio.host import host_for
from tray_stt.audio.microphone import Microphone, MicrophoneState, MicrophoneStatus
from tray_stt.realtime.pcm import SAMPLE_RATE

DEADLINE_S = 10.0
CAPTURING, LOST = MicrophoneStatus.CAPTURING, MicrophoneStatus.LOST


def dominant_hz(pcm: bytes) -> float:
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.argmax(np.abs(np.fft.rfft(x * np.hanning(len(x))))) * SAMPLE_RATE / len(x))


def mic_device(name: str, hz: float, **kw: Any) -> FakeDevice:
    return FakeDevice(name, signal=tone(hz, 1.0, 24000), loop=True, **kw)


class Running:
    """A started microphone consumed on a thread: its states and the audio after a mark."""

    def __init__(self, backend: FakeBackend, device: str | None = None, **kw: Any) -> None:
        self.states: list[MicrophoneState] = []
        self.audio = bytearray()
        self.lock = threading.Lock()
        self.mic = Microphone(
            device,
            backend=backend,
            on_state=self.states.append,
            **kw,
        )
        self.mic.start()
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        for chunk in self.mic.chunks():
            with self.lock:
                self.audio += chunk

    def mark(self) -> None:
        with self.lock:
            self.audio.clear()

    def heard(self, seconds: float) -> bytes:
        """The newest `seconds` of audio once that much arrived since the mark, else b""."""
        with self.lock:
            wanted = int(seconds * SAMPLE_RATE) * 2
            return bytes(self.audio[-wanted:]) if len(self.audio) >= wanted else b""

    def stop(self) -> None:
        self.mic.stop()
        self.thread.join(DEADLINE_S)
        assert not self.thread.is_alive()


def wait_for(predicate: Callable[[], object]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def hears(running: Running, hz: float) -> bool:
    pcm = running.heard(0.2)
    return bool(pcm) and abs(dominant_hz(pcm) - hz) < 10


@pytest.fixture
def two() -> Iterator[tuple[FakeBackend, Running, Running]]:
    """A USB microphone (500 Hz, dictation's) and the built-in default (1500 Hz, listening's)."""
    usb = mic_device("USB Mic", 500, unplug_after_blocks=10)
    builtin = mic_device("Built-in Mic", 1500)
    backend = FakeBackend([builtin, usb], default="Built-in Mic", mode="paced", speed=4)
    listening = Running(backend, watchdog_s=0.2)
    dictation = Running(backend, "USB Mic", watchdog_s=0.2)
    yield backend, listening, dictation
    listening.stop()
    dictation.stop()


def test_host_rescan_for_one_microphone_never_frees_the_others_stream(
    two: tuple[FakeBackend, Running, Running],
) -> None:
    backend, listening, dictation = two
    wait_for(lambda: [s.status for s in dictation.states][-1:] == [LOST])  # unplugged: rescan
    wait_for(lambda: dictation.mic.state == MicrophoneState(CAPTURING, "Built-in Mic"))
    assert backend.refreshes == 1
    listening.mark()
    wait_for(lambda: hears(listening, 1500))  # listening reopened after the rescan, by itself
    assert backend.use_after_free == []
    assert listening.mic.state == MicrophoneState(CAPTURING, "Built-in Mic")
    # Its recording went on through the rescan: no LOST, no notice, one CAPTURING.
    assert [s.status for s in listening.states] == [MicrophoneStatus.OPENING, CAPTURING]
    assert len([s for s in backend.streams if s.device.name == "Built-in Mic"]) == 3


def test_host_stop_and_exit_after_a_rescan_touch_no_freed_stream(
    two: tuple[FakeBackend, Running, Running],
) -> None:
    backend, listening, dictation = two
    wait_for(lambda: dictation.mic.state == MicrophoneState(CAPTURING, "Built-in Mic"))
    listening.stop()
    dictation.stop()
    host_for(backend).shutdown()  # what atexit runs before sounddevice terminates PortAudio
    assert backend.use_after_free == []
    assert all(s.closed for s in backend.streams)
    assert listening.states[-1] == dictation.states[-1] == MicrophoneState(MicrophoneStatus.STOPPED)


def test_host_rescan_runs_once_when_both_microphones_lose_their_device() -> None:
    shared = mic_device("Headset", 700, unplug_after_blocks=10)
    backend = FakeBackend([shared, mic_device("Built-in Mic", 1500)], default="Headset")
    backend.mode, backend.speed = "paced", 4
    first = Running(backend, watchdog_s=0.2)
    second = Running(backend, watchdog_s=0.2)
    try:
        for running in (first, second):
            wait_for(lambda r=running: r.mic.state == MicrophoneState(CAPTURING, "Built-in Mic"))
    finally:
        first.stop()
        second.stop()
    assert backend.refreshes == 1  # the second found the list already re-read
    assert backend.use_after_free == []
    for running in (first, second):
        assert [s.status for s in running.states] == [
            MicrophoneStatus.OPENING,
            CAPTURING,
            LOST,
            CAPTURING,
            MicrophoneStatus.STOPPED,
        ]
        assert "Headset stopped delivering audio" in running.states[2].reason


def test_host_device_back_under_another_index_is_reopened_by_name() -> None:
    usb = mic_device("USB Mic", 500)
    backend = FakeBackend([usb, mic_device("Built-in Mic", 1500)], mode="paced", speed=4)
    listening = Running(backend, "USB Mic", watchdog_s=0.2)
    try:
        wait_for(lambda: hears(listening, 500))
        backend.unplug("USB Mic")
        backend.plug(mic_device("Webcam", 900))
        backend.plug(usb)  # back, now after the webcam: index 2 instead of 0
        host = host_for(backend)
        host.rescan(host.generation)  # as another microphone's loss would
        listening.mark()
        wait_for(lambda: hears(listening, 500))
    finally:
        listening.stop()
    assert [d["index"] for d in backend.query_devices() if d["name"] == "USB Mic"] == [2]
    assert [s.device.name for s in backend.streams] == ["USB Mic", "USB Mic"]
    assert backend.last_stream.device is usb
    assert backend.use_after_free == []


def test_host_configured_device_is_picked_up_again_after_another_rescan() -> None:
    usb = mic_device("USB Mic", 500, unplug_after_blocks=10)
    backend = FakeBackend(
        [mic_device("Built-in Mic", 1500), usb], default="Built-in Mic", mode="paced", speed=4
    )
    dictation = Running(backend, "USB Mic", watchdog_s=0.2)
    try:
        wait_for(lambda: dictation.mic.state == MicrophoneState(CAPTURING, "Built-in Mic"))
        backend.plug(mic_device("USB Mic", 500))
        host = host_for(backend)
        host.rescan(host.generation)
        wait_for(lambda: dictation.mic.state == MicrophoneState(CAPTURING, "USB Mic"))
        dictation.mark()
        wait_for(lambda: hears(dictation, 500))
    finally:
        dictation.stop()
    assert backend.use_after_free == []


def test_host_refuses_new_streams_after_shutdown() -> None:
    backend = FakeBackend([mic_device("Mic", 500)], mode="paced")
    running = Running(backend)
    host_for(backend).shutdown()
    with pytest.raises(Exception, match="quitting"):
        Microphone(backend=backend).start()
    running.stop()
    assert backend.use_after_free == [] and backend.last_stream.closed


def fast_clock() -> float:
    """Time passing 10x faster: the 2 s look for the configured device takes 0.2 s."""
    return time.monotonic() * 10


def test_host_configured_device_is_picked_up_again_when_the_sound_cards_change() -> None:
    usb = mic_device("USB Mic", 500, unplug_after_blocks=10)
    backend = FakeBackend(
        [mic_device("Built-in Mic", 1500), usb], default="Built-in Mic", mode="paced", speed=4
    )
    host = host_for(backend)
    host.hardware = lambda: tuple(d.name for d in backend.hardware)  # /proc/asound/cards
    dictation = Running(backend, "USB Mic", watchdog_s=2, clock=fast_clock)
    try:
        wait_for(lambda: dictation.mic.state == MicrophoneState(CAPTURING, "Built-in Mic"))
        time.sleep(0.5)  # on the fall-back device, with nothing changed: no rescan
        assert backend.refreshes == 1
        backend.plug(mic_device("USB Mic", 500))
        wait_for(lambda: dictation.mic.state == MicrophoneState(CAPTURING, "USB Mic"))
        dictation.mark()
        wait_for(lambda: hears(dictation, 500))
        time.sleep(0.5)  # back on the configured device: it no longer watches
        assert backend.refreshes == 2
    finally:
        dictation.stop()
    assert backend.use_after_free == []


def test_host_rescan_waits_for_a_sound_cue_playing() -> None:
    """A cue's output stream is PortAudio's too: a rescan mid-cue would free it under write."""
    backend = FakeBackend([mic_device("Mic", 500)])
    host = host_for(backend)
    cue = threading.Thread(target=host.play, args=(np.zeros((4800, 1), np.int16), 24000))
    cue.start()  # 0.2 s
    wait_for(lambda: "play" in backend.events)
    host.rescan(host.generation)
    cue.join(DEADLINE_S)
    assert backend.events == ["initialize", "play", "played", "terminate", "initialize"]


def test_host_shutdown_ends_chunks_without_calling_the_microphone_lost() -> None:
    backend = FakeBackend([mic_device("Mic", 500)], mode="paced", speed=4)
    running = Running(backend, watchdog_s=0.2)
    wait_for(lambda: running.mic.state.status is CAPTURING)
    host_for(backend).shutdown()  # at exit, with the microphone still recording
    running.thread.join(DEADLINE_S)
    assert not running.thread.is_alive()
    assert LOST not in [s.status for s in running.states]
    running.stop()
    assert backend.use_after_free == []
