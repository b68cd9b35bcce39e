"""The child process of test_dictation_replug: push-to-talk turns after source replugs.

Run as ``python -m tests.pushtotalk.replug_dictation CYCLES FOLDER`` in the environment of a
private PulseAudio (tests/support/virtual_audio.virtual_microphone). A Dictation with a real
Microphone on the default source sends its turns to the loopback server; each cycle unloads and
reloads the source's module, plays a tone, holds a turn while it plays, and prints the loudness
and pitch of the audio the server received for that turn (issue 12: after a replug the next
dictation produced an empty item).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from tests.audio.replug_scenario import (
    RETRY_S,
    TONES,
    WATCHDOG_S,
    dominant_hz,
    load_sink,
    pactl,
    play,
    rms,
    wait,
)
from tests.support.realtime_server import RealtimeServer
from tray_stt.audio.microphone import Microphone, MicrophoneState, MicrophoneStatus
from tray_stt.config import Config
from tray_stt.pushtotalk.delivery import Window
from tray_stt.pushtotalk.dictation import Dictation
from tray_stt.realtime.pcm import SAMPLE_RATE

HOLD_S = 0.8


class Sink:
    """A window that takes the text."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def focused(self) -> Window | None:
        return None

    def deliver(self, text: str, target: Window | None) -> None:
        self.texts.append(text)

    def close(self) -> None:
        pass


def main(cycles: int, folder: Path) -> None:
    module = pactl("list", "short", "modules")
    module = next(line.split()[0] for line in module.splitlines() if "sink_name=vmic" in line)
    players = [play(folder, TONES[0])]
    states: list[MicrophoneState] = []
    with RealtimeServer(transcripts=[f"turn {n}" for n in range(cycles)]) as server:
        config = replace(Config(), url=server.url, api_key="test-key")
        mic = Microphone(
            None, chunk_ms=20, on_state=states.append, watchdog_s=WATCHDOG_S, retry_s=RETRY_S
        )
        sink = Sink()
        dictation = Dictation(config, mic, sink)
        dictation.start()

        def items() -> list[bytes]:
            return [item.audio for c in server.connections for item in c.items]

        for cycle in range(cycles):
            mark = len(states)
            pactl("unload-module", module)
            module = load_sink()
            hz = TONES[(cycle + 1) % len(TONES)]
            players.append(play(folder, hz))
            back = wait(lambda m=mark: _lost_then_capturing(states[m:]))
            time.sleep(0.3)  # the tone reaches the microphone
            dictation.press()
            time.sleep(HOLD_S)
            dictation.release()
            committed = wait(lambda c=cycle: len(items()) > c)
            audio = items()[cycle] if committed else b""
            newest = audio[-int(0.5 * SAMPLE_RATE) * 2 :]
            seen = [s.status.value for s in states[mark:]]
            result = {"cycle": cycle, "back": back, "states": seen, "seconds": len(audio) / 48000}
            result.update(rms=rms(newest), hz=dominant_hz(newest) if newest else 0.0, want=hz)
            print(json.dumps(result), flush=True)
        wait(lambda: len(sink.texts) == cycles)
        dictation.close()
    for player in players:
        player.terminate()
        player.wait(10)
    print(json.dumps({"delivered": sink.texts, "state": mic.state.status.value}), flush=True)


def _lost_then_capturing(states: list[MicrophoneState]) -> bool:
    statuses = [s.status for s in states]
    return MicrophoneStatus.LOST in statuses and statuses[-1] is MicrophoneStatus.CAPTURING


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
