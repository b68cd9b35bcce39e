"""The audio whose transcript has not arrived yet, kept so a new connection can send it again."""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, timedelta

BYTES_PER_MS = 48  # 24 kHz, 16-bit, mono


class AudioJournal:
    """Session audio addressed by absolute byte offset, with the wall-clock time of every byte.

    Offsets count from the start of the session (across connections); trimming drops the oldest
    bytes but never renumbers the rest.
    """

    def __init__(self) -> None:
        self._data = bytearray()
        self._start = 0
        # (offset, wall time) of each appended block, so every byte can be dated.
        self._offsets: list[int] = []
        self._times: list[datetime] = []

    @property
    def start(self) -> int:
        """Offset of the oldest byte still kept."""
        return self._start

    @property
    def end(self) -> int:
        """Offset just past the newest byte."""
        return self._start + len(self._data)

    def append(self, pcm: bytes, when: datetime) -> None:
        """Add audio captured at ``when`` (the wall-clock time of its first sample)."""
        if not pcm:
            return
        self._offsets.append(self.end)
        self._times.append(when)
        self._data += pcm

    def read(self, start: int, end: int) -> bytes:
        """The kept bytes in ``[start, end)``, clamped to what is kept."""
        lo = max(start, self._start) - self._start
        hi = min(end, self.end) - self._start
        return bytes(self._data[lo:hi]) if hi > lo else b""

    def time_at(self, offset: int) -> datetime | None:
        """Wall-clock time of the sample at ``offset`` (None if nothing was ever appended)."""
        if not self._offsets:
            return None
        index = max(bisect_right(self._offsets, offset) - 1, 0)
        elapsed_ms = max(offset - self._offsets[index], 0) / BYTES_PER_MS
        return self._times[index] + timedelta(milliseconds=elapsed_ms)

    def trim(self, before: int) -> None:
        """Forget the bytes before ``before`` (never past the end)."""
        before = min(before, self.end)
        if before <= self._start:
            return
        del self._data[: before - self._start]
        self._start = before
        # Keep the block that contains the new start so it can still be dated.
        keep_from = max(bisect_right(self._offsets, before) - 1, 0)
        del self._offsets[:keep_from]
        del self._times[:keep_from]
