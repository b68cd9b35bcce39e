"""The audio whose transcript has not arrived yet, kept so a new connection can send it again."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import datetime, timedelta

from tray_stt.realtime.pcm import BYTES_PER_MS


class AudioJournal:
    """Session audio addressed by absolute byte offset, with the wall-clock time of every byte.

    Offsets count from the start of the session (across connections) and are never renumbered.
    The audio is kept as the blocks it was appended in, so the oldest can be trimmed and a range
    in the middle forgotten (a long outage) while the turns around it stay.
    """

    def __init__(self) -> None:
        self._offsets: list[int] = []  # where each kept block starts, ascending
        self._blocks: list[bytes] = []
        self._times: list[datetime] = []  # when the first sample of each block was captured
        self._start = 0  # offset of the oldest byte kept
        self._end = 0
        self._kept = 0  # bytes in the kept blocks

    @property
    def start(self) -> int:
        """Offset of the oldest byte still kept."""
        return self._start

    @property
    def end(self) -> int:
        """Offset just past the newest byte."""
        return self._end

    @property
    def kept_bytes(self) -> int:
        """How much audio is held in memory."""
        return self._kept

    def append(self, pcm: bytes, when: datetime) -> None:
        """Add audio captured at ``when`` (the wall-clock time of its first sample)."""
        if not pcm:
            return
        self._offsets.append(self._end)
        self._blocks.append(bytes(pcm))
        self._times.append(when)
        self._end += len(pcm)
        self._kept += len(pcm)

    def read(self, start: int, end: int) -> bytes:
        """The kept bytes in ``[start, end)``, clamped to what is kept.

        A forgotten range inside is left out, so callers read only ranges they kept.
        """
        start, end = max(start, self._start), min(end, self._end)
        if end <= start:
            return b""
        parts = []
        for index in range(max(bisect_right(self._offsets, start) - 1, 0), len(self._blocks)):
            offset = self._offsets[index]
            if offset >= end:
                break
            block = self._blocks[index]
            parts.append(block[max(start - offset, 0) : end - offset])
        return b"".join(parts)

    def block_starts(self, start: int, end: int) -> list[int]:
        """The offsets in ``[start, end)`` where a kept block begins (where ``forget`` can cut)."""
        return self._offsets[bisect_left(self._offsets, start) : bisect_left(self._offsets, end)]

    def time_at(self, offset: int) -> datetime | None:
        """Wall-clock time of the sample at ``offset`` (None if nothing was ever appended)."""
        if not self._offsets:
            return None
        index = max(bisect_right(self._offsets, offset) - 1, 0)
        elapsed_ms = max(offset - self._offsets[index], 0) / BYTES_PER_MS
        return self._times[index] + timedelta(milliseconds=elapsed_ms)

    def trim(self, before: int) -> None:
        """Forget the bytes before ``before`` (never past the end)."""
        before = min(before, self._end)
        if before <= self._start:
            return
        self._start = before
        # Whole blocks only: the one that holds the new start stays, so it can still be read and
        # dated; reads are clamped to ``start``.
        self._drop(0, max(bisect_right(self._offsets, before) - 1, 0))

    def forget(self, start: int, end: int) -> None:
        """Forget the blocks wholly inside ``[start, end)``; the blocks around them stay."""
        first = stop = bisect_left(self._offsets, start)
        while stop < len(self._blocks) and self._offsets[stop] + len(self._blocks[stop]) <= end:
            stop += 1
        self._drop(first, stop)

    def _drop(self, first: int, stop: int) -> None:
        if stop <= first:
            return
        self._kept -= sum(len(block) for block in self._blocks[first:stop])
        del self._offsets[first:stop]
        del self._blocks[first:stop]
        del self._times[first:stop]
