"""Reconnect after an outage: from the server being reachable again to the first audio it
receives and to the first transcript (docs/protocol.md, "Session lifetime and reconnection").

A live session with the options of tray listening and `tray-stt listen` (``live_options``) is fed
a microphone paced in real time (silence, with a tone said during the outage) against the
loopback realtime server. The server is stopped (connections refused) for the outage, then
started again on the same port; the times are measured from the moment it listens again.

Run: .venv/bin/python -m benchmarks.bench_reconnect [--outages 30 60]   (prints a table)
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Iterator

import numpy as np

from tests.support.audio_samples import silence, tone
from tests.support.realtime_server import RealtimeServer
from tray_stt.app.listening import live_options
from tray_stt.realtime.endpoint import Endpoint
from tray_stt.realtime.events import Event, Reconnecting, TranscriptCompleted
from tray_stt.realtime.models import TranscriptionSettings
from tray_stt.realtime.session import Session

RATE = 24000
CHUNK_MS = 40


class Clock:
    """Records when each event of interest happened."""

    def __init__(self) -> None:
        self.transcripts: list[float] = []
        self.retries: list[Reconnecting] = []

    def __call__(self, event: Event) -> None:
        if isinstance(event, TranscriptCompleted):
            self.transcripts.append(time.monotonic())
        elif isinstance(event, Reconnecting):
            self.retries.append(event)


def microphone(stop: threading.Event, speak: threading.Event) -> Iterator[bytes]:
    """Silence in real time; one second of tone after ``speak`` is set (once)."""
    quiet = silence(CHUNK_MS / 1000, RATE).astype("<i2").tobytes()
    said = np.concatenate([tone(440, 1.0, RATE), silence(1.0, RATE)]).astype("<i2").tobytes()
    size = CHUNK_MS * 48
    due = time.monotonic()
    while not stop.is_set():
        chunks = [quiet]
        if speak.is_set():
            speak.clear()
            chunks = [said[i : i + size] for i in range(0, len(said), size)]
        for chunk in chunks:
            due += CHUNK_MS / 1000
            time.sleep(max(due - time.monotonic(), 0))
            yield chunk


def first_append(server: RealtimeServer) -> float:
    """When the server first received audio (polled every 2 ms)."""
    while True:
        for record in list(server.connections):
            if any(e.get("type") == "input_audio_buffer.append" for e in record.client_events):
                return time.monotonic()
        time.sleep(0.002)


def measure(outage_s: float) -> tuple[float, float, int, float]:
    """(s to first audio, s to first transcript, retries, longest delay) after one outage."""
    clock = Clock()
    first = RealtimeServer(transcripts=["before"])
    port = first.port
    session = Session(
        Endpoint(url=first.url, api_key="test-key"),
        TranscriptionSettings(),
        clock,
        options=live_options(),
    )
    stop, speak = threading.Event(), threading.Event()
    runner = threading.Thread(target=session.run, args=(microphone(stop, speak),), daemon=True)
    runner.start()
    first.wait_for(lambda: first.connections and first.connections[0].client_events, 30)
    time.sleep(1.0)
    first.stop()  # refused from now on
    time.sleep(1.0)
    speak.set()  # said during the outage: sent once the server is back
    time.sleep(max(outage_s - 1.0, 0))
    second = RealtimeServer(transcripts=["during"], port=port)
    back = time.monotonic()
    audio_at = first_append(second)
    second.wait_for(lambda: clock.transcripts, 60)
    transcript_at = clock.transcripts[-1]
    stop.set()
    runner.join(60)
    second.stop()
    retries = [r for r in clock.retries]
    longest = max((r.delay_s for r in retries), default=0.0)
    return audio_at - back, transcript_at - back, len(retries), longest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outages", type=float, nargs="+", default=[30.0, 60.0])
    args = parser.parse_args()
    print(
        f"{'outage (refused)':>17} {'to 1st audio':>13} {'to 1st transcript':>18} "
        f"{'retries':>8} {'longest delay':>14}"
    )
    for outage in args.outages:
        audio, transcript, retries, longest = measure(outage)
        print(
            f"{outage:>15.0f} s {audio:>11.2f} s {transcript:>16.2f} s {retries:>8d} "
            f"{longest:>12.2f} s"
        )


if __name__ == "__main__":
    main()
