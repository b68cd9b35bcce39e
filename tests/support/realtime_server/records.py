"""Records of the loopback realtime server (read by tests) and its per-connection timer thread."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ConnectionRecord", "ItemRecord", "Scheduler"]


@dataclass
class ItemRecord:
    """A committed item. ``transcript`` is set once its ``completed`` event was sent."""

    item_id: str
    previous_item_id: str | None
    position: int  # order of commit on this connection, from 0
    audio: bytes  # the committed buffer contents
    via: str  # "vad" (speech_stopped) or "commit" (client input_audio_buffer.commit)
    script_index: int | None = None  # None: silent item or transcription off
    transcript: str | None = None
    status: str = "committed"  # -> "completed" | "failed"


@dataclass
class ConnectionRecord:
    """Everything that happened on one connection, for assertions (appended to, never reset)."""

    index: int
    path: str
    headers: dict[str, str]
    dialect: str
    session_id: str | None = None
    client_events: list[dict[str, Any]] = field(default_factory=list)
    server_events: list[dict[str, Any]] = field(default_factory=list)
    raw_frames: list[str | bytes] = field(default_factory=list)  # non-JSON / non-object frames
    audio: bytearray = field(default_factory=bytearray)
    items: list[ItemRecord] = field(default_factory=list)
    close_code: int | None = None  # set when the server closed the connection on purpose
    close_reason: str | None = None
    dropped: bool = False  # the server dropped TCP without a close frame
    finished: threading.Event = field(default_factory=threading.Event)

    def events(self, event_type: str) -> list[dict[str, Any]]:
        """Server events of one type, in send order."""
        return [e for e in list(self.server_events) if e["type"] == event_type]


class Scheduler:
    """A thread running callbacks at given times, so the connection keeps reading meanwhile."""

    def __init__(self, name: str, on_error: Callable[[str], None]) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._stopped = False
        self._on_error = on_error
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), fn))
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    self._cond.wait(None if not self._heap else self._heap[0][0] - now)
                if self._stopped:
                    return
                fn = heapq.heappop(self._heap)[2]
            try:
                fn()
            except Exception:
                self._on_error(f"server bug in scheduled task: {traceback.format_exc()}")
