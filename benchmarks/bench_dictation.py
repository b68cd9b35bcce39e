"""Push-to-talk latency: key up to commit sent, and completed transcript to text in the window.

1. Key up -> commit: a microphone paced in real time (20 ms chunks of a tone) feeds a Dictation
   against the loopback realtime server; the time from ``release()`` to the commit being queued for
   the socket, minus the configured tail. The tail ends on a timer, so no chunk is waited for.
2. Completed -> text: under a private Xvfb, the real Deliverer pastes (xdotool, Ctrl+V) into a Tk
   Entry whose StringVar writes every change to a file; the time from ``deliver()`` to the file
   holding the text. The clipboard settle delay comes after the paste and is not counted.

Run: .venv/bin/python -m benchmarks.bench_dictation [--turns 10]   (prints a table; asserts nothing)
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from tests.support.dictation_desktop import TkEntry, set_clipboard, wait_until
from tests.support.realtime_server import RealtimeServer
from tests.support.xvfb import xvfb_server
from tray_stt.config import Config
from tray_stt.desktop.inject import Deliverer
from tray_stt.pushtotalk.delivery import DeliveryMode
from tray_stt.pushtotalk.dictation import Dictation
from tray_stt.realtime.events import Event, SessionReady

CHUNK = (np.sin(np.arange(480) * 0.2) * 12000).astype("<i2").tobytes()  # 20 ms, loud
TAIL_MS = 200


class PacedTone:
    """A microphone that delivers a 20 ms chunk every 20 ms until stopped."""

    def __init__(self) -> None:
        self._stop = threading.Event()

    def start(self) -> None:
        pass

    def chunks(self) -> Iterator[bytes]:
        due = time.monotonic()
        while not self._stop.is_set():
            due += 0.02
            time.sleep(max(due - time.monotonic(), 0))
            yield CHUNK

    def stop(self) -> None:
        self._stop.set()


class Collecting:
    """A deliverer that only records when the text would have been delivered."""

    def __init__(self) -> None:
        self.texts: queue.Queue[str] = queue.Queue()

    def focused(self) -> None:
        return None

    def deliver(self, text: str, target: object) -> None:
        self.texts.put(text)

    def close(self) -> None:
        pass


def key_up_to_commit(turns: int) -> list[float]:
    """Milliseconds from release to commit queued, minus the tail, per turn."""
    with RealtimeServer(transcripts=[f"turn {i}" for i in range(turns)]) as server:
        ready = threading.Event()
        config = replace(Config(), url=server.url, api_key="test-key")

        def on_event(event: Event) -> None:
            if isinstance(event, SessionReady):
                ready.set()

        sink = Collecting()
        dictation = Dictation(
            config,
            PacedTone(),
            sink,
            tail_ms=TAIL_MS,
            on_event=on_event,  # type: ignore[arg-type]
        )
        dictation.start()
        ready.wait(10)
        results = []
        for _ in range(turns):
            dictation.press()
            time.sleep(0.5)
            released = time.monotonic()
            dictation.release()
            sink.texts.get(timeout=10)
            results.append((dictation.commit_times[-1] - released) * 1000 - TAIL_MS)
        dictation.close()
    return results


def completed_to_text(turns: int) -> list[float]:
    """Milliseconds from deliver() to the text in a Tk Entry, per turn (paste via xdotool)."""
    with tempfile.TemporaryDirectory() as tmp, xvfb_server() as display:
        env = {**os.environ, "DISPLAY": display}
        env.pop("WAYLAND_DISPLAY", None)
        saved = {k: os.environ.get(k) for k in ("DISPLAY", "WAYLAND_DISPLAY")}
        os.environ.update(DISPLAY=display)
        os.environ.pop("WAYLAND_DISPLAY", None)
        entry = TkEntry(Path(tmp), env)
        set_clipboard(env, "PREVIOUS")
        deliverer = Deliverer(DeliveryMode.PASTE, settle_s=0.05)
        results = []
        try:
            for i in range(turns):
                text = f"{entry.text}안녕 {i} — é "
                began = time.monotonic()
                threading.Thread(
                    target=deliverer.deliver, args=(text[len(entry.text) :], None)
                ).start()
                wait_until(lambda t=text: entry.text == t, 10)  # type: ignore[misc]
                results.append((time.monotonic() - began) * 1000)
                time.sleep(0.1)  # let the clipboard be restored before the next turn
        finally:
            deliverer.close()
            entry.close()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=10)
    args = parser.parse_args()
    rows = [
        ("key up -> commit sent, minus tail (ms)", key_up_to_commit(args.turns), "<= 30"),
        ("completed -> text in Tk Entry (ms)", completed_to_text(args.turns), "<= 150"),
    ]
    print(f"{'measure':<42} {'median':>8} {'p90':>8} {'max':>8}  target")
    print("-" * 76)
    for name, values, target in rows:
        ordered = sorted(values)
        p90 = ordered[int(0.9 * (len(ordered) - 1))]
        median = statistics.median(values)
        print(f"{name:<42} {median:>8.1f} {p90:>8.1f} {max(values):>8.1f}  {target}")


if __name__ == "__main__":
    main()
