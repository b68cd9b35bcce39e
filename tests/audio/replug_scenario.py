"""The child process of test_microphone_replug: two microphones through source replugs.

Run as ``python -m tests.audio.replug_scenario CYCLES`` in the environment of a private
PulseAudio (tests/support/virtual_audio.virtual_microphone). It opens a listening and a
push-to-talk Microphone on the default source (the monitor of null sink ``vmic``), then CYCLES
times unloads the sink's module and loads it again, playing a different tone into it after each
return, and checks that both microphones hear that tone again. It prints one JSON line per
cycle, stops both microphones and exits normally: the exit code is the verdict on shutdown.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from tray_stt.audio.microphone import Microphone, MicrophoneState, MicrophoneStatus
from tray_stt.realtime.pcm import SAMPLE_RATE

SINK = ["module-null-sink", "sink_name=vmic", "rate=24000", "channels=1"]
TONES = (440.0, 660.0, 880.0)
HEARD_S = 0.3  # the newest audio that must be the tone
DEADLINE_S = 10.0
RETRY_S = 0.5  # half the default, to keep 20 replugs short
# A null sink freshly loaded hands its monitor's first audio over after about 2 s (the microphone
# of a desktop does in milliseconds): the first-block grace, twice this, must be above that.
WATCHDOG_S = 2.0
_KEPT_BYTES = int(2 * HEARD_S * SAMPLE_RATE) * 2
FOLDER = Path(".")  # where the tones are written: argv[2]
PLAYERS: list[subprocess.Popen[bytes]] = []


class Recorder:
    """Consumes one microphone on a thread; keeps its states and its newest audio."""

    def __init__(self, name: str, chunk_ms: int) -> None:
        self.name = name
        self.lock = threading.Lock()
        self.states: list[MicrophoneState] = []
        self.audio = bytearray()
        self.received = 0  # bytes ever received
        self.mic = Microphone(
            None,
            chunk_ms=chunk_ms,
            on_state=self._on_state,
            watchdog_s=WATCHDOG_S,
            retry_s=RETRY_S,
        )
        self.thread = threading.Thread(target=self._run, name=f"mic-{name}")

    def _on_state(self, state: MicrophoneState) -> None:
        with self.lock:
            self.states.append(state)

    def _run(self) -> None:
        for chunk in self.mic.chunks():
            with self.lock:
                self.audio += chunk
                del self.audio[:-_KEPT_BYTES]
                self.received += len(chunk)

    def newest(self) -> tuple[bytes, int]:
        """The newest HEARD_S of audio, and how many bytes were ever received."""
        with self.lock:
            return bytes(self.audio[-int(HEARD_S * SAMPLE_RATE) * 2 :]), self.received

    def status(self) -> MicrophoneStatus:
        with self.lock:
            return self.states[-1].status


def dominant_hz(pcm: bytes) -> float:
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * SAMPLE_RATE / len(x))


def rms(pcm: bytes) -> float:
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(x * x))) if len(x) else 0.0


def hears(recorder: Recorder, hz: float, since: int) -> bool:
    """Whether the newest audio, all received after byte `since`, is the tone `hz`."""
    pcm, received = recorder.newest()
    fresh = received - since >= len(pcm) == int(HEARD_S * SAMPLE_RATE) * 2
    return fresh and rms(pcm) > 3000 and abs(dominant_hz(pcm) - hz) < 10


def wait(predicate: Callable[[], bool], timeout: float = DEADLINE_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def pactl(*args: str) -> str:
    return subprocess.run(["pactl", *args], check=True, capture_output=True, text=True).stdout


def play(folder: Path, hz: float) -> subprocess.Popen[bytes]:
    """Play a 30 s tone into the sink (the player ends by itself when the sink goes)."""
    raw = folder / f"tone-{hz:.0f}.raw"
    if not raw.exists():
        t = np.arange(30 * SAMPLE_RATE) / SAMPLE_RATE
        (np.sin(2 * np.pi * hz * t) * 12000).astype("<i2").tofile(raw)
    command = ["pacat", "--playback", "--device=vmic", "--rate=24000", "--channels=1"]
    command += ["--format=s16le", "--latency-msec=40", str(raw)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def load_sink() -> str:
    module = pactl("load-module", *SINK).strip()
    pactl("set-default-source", "vmic.monitor")
    return module


def all_lost(mics: list[Recorder]) -> bool:
    return all(r.status() is MicrophoneStatus.LOST for r in mics)


def all_hear(mics: list[Recorder], hz: float, since: list[int]) -> bool:
    return all(hears(r, hz, s) for r, s in zip(mics, since, strict=True))


def replug(mics: list[Recorder], module: str, cycle: int) -> tuple[dict[str, object], str]:
    """Unload the sink's module and load it again; what was seen, and the new module's id."""
    marks = [len(r.states) for r in mics]
    began = time.monotonic()
    pactl("unload-module", module)
    # Even cycles wait until both microphones saw the loss; odd ones plug back at once.
    lost = cycle % 2 == 1 or wait(partial(all_lost, mics))
    module = load_sink()
    hz = TONES[(cycle + 1) % len(TONES)]
    player = play(FOLDER, hz)
    since = [r.newest()[1] for r in mics]
    back = wait(partial(all_hear, mics, hz, since))
    states = [[s.status.value for s in r.states[m:]] for r, m in zip(mics, marks, strict=True)]
    seconds = round(time.monotonic() - began, 2)
    PLAYERS.append(player)
    return {"cycle": cycle, "lost": lost, "back": back, "states": states, "s": seconds}, module


def main(cycles: int) -> None:
    module = pactl("list", "short", "modules")
    module = next(line.split()[0] for line in module.splitlines() if "sink_name=vmic" in line)
    PLAYERS.append(play(FOLDER, TONES[0]))
    mics = [Recorder("listen", 40), Recorder("dictate", 20)]
    for recorder in mics:
        recorder.mic.start()
        recorder.thread.start()
    assert wait(partial(all_hear, mics, TONES[0], [0, 0])), "no tone before the first replug"
    for cycle in range(cycles):
        result, module = replug(mics, module, cycle)
        print(json.dumps(result), flush=True)
        if not result["back"]:
            break
    for recorder in mics:
        recorder.mic.stop()
        recorder.thread.join(10)
    for player in PLAYERS:
        player.terminate()
        player.wait(10)
    print(json.dumps({"done": [r.mic.state.status.value for r in mics]}), flush=True)


if __name__ == "__main__":
    FOLDER = Path(sys.argv[2])
    main(int(sys.argv[1]))
