"""Reading the spool back: which audio no transcript covers yet, and why (``tray-stt pending``).

Audio is pending when it lies at or past the run's settled offset, or in a failed span, and no
retry marked it done. A damaged or truncated segment is read up to its last whole record and
the damage is reported with the rest, never raised.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tray_stt.realtime.pcm import BYTES_PER_MS
from tray_stt.spool.frames import Audio, Done, Ended, Failed, Settled, read_segment
from tray_stt.spool.store import run_is_free, runs, segments

STOPPED = "tray-stt stopped before it was transcribed"


@dataclass(frozen=True)
class Part:
    """Pending audio ``[start, end)`` of a run, captured from ``captured`` (epoch seconds)."""

    start: int
    end: int
    captured: float
    reason: str

    @property
    def duration_s(self) -> float:
        """Its length in seconds."""
        return (self.end - self.start) / BYTES_PER_MS / 1000


@dataclass(frozen=True)
class Recording:
    """What ``tray-stt pending`` lists: one stretch of pending speech."""

    run: Path
    started: datetime
    duration_s: float
    reason: str


@dataclass
class RunState:
    """The pending audio of one run, and any damage found reading it."""

    path: Path
    parts: list[Part] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        """Pending audio in seconds."""
        return sum(part.duration_s for part in self.parts)

    def recordings(self) -> list[Recording]:
        """What ``tray-stt pending`` lists: one line per stretch of pending audio."""
        return [
            Recording(
                self.path,
                datetime.fromtimestamp(part.captured).astimezone(),
                part.duration_s,
                part.reason,
            )
            for part in self.parts
        ]


def read_run(run: Path, *, failed_only: bool = False) -> RunState:
    """Which audio of ``run`` is pending (reads every segment once, keeps no audio).

    ``failed_only``: a live run, whose audio past the settled offset is still on its way to
    the server: only its failed spans are pending."""
    state = RunState(run)
    settled = 0
    failed: dict[tuple[int, int], str] = {}
    done: list[tuple[int, int]] = []
    note = STOPPED
    audio: list[tuple[int, int, float]] = []
    for path in segments(run):
        result = read_segment(path)
        if result.problem:
            state.problems.append(result.problem)
        for record in result.records:
            if isinstance(record, Audio):
                audio.append((record.offset, record.end, record.captured))
            elif isinstance(record, Settled):
                settled = max(settled, record.offset)
            elif isinstance(record, Failed):
                failed[(record.start, record.end)] = record.reason
            elif isinstance(record, Done):
                done.append((record.start, record.end))
            elif isinstance(record, Ended):
                note = record.note
    if failed_only:
        settled = sys.maxsize
    spans = _Sweep(sorted((start, end, reason) for (start, end), reason in failed.items()))
    dones = _Sweep(sorted((start, end, "") for start, end in done))
    for start, end, captured in sorted(audio):
        near_spans, near_done = spans.at(start, end), dones.at(start, end)
        near = [(lo, hi) for lo, hi, _ in near_done]
        for lo, hi, reason in _pending(start, end, settled, near_spans, near, note):
            _add(state.parts, Part(lo, hi, captured + (lo - start) / BYTES_PER_MS / 1000, reason))
    return state


def read_audio(state: RunState) -> Iterator[tuple[Part, bytes]]:
    """The pending audio of a run in order, one captured block (or part of one) at a time."""
    parts = state.parts
    index = 0
    for path in segments(state.path):
        for record in read_segment(path).records:
            if not isinstance(record, Audio):
                continue
            while index < len(parts) and parts[index].end <= record.offset:
                index += 1
            scan = index
            while scan < len(parts) and parts[scan].start < record.end:
                part = parts[scan]
                lo, hi = max(part.start, record.offset), min(part.end, record.end)
                if lo < hi:
                    captured = record.captured + (lo - record.offset) / BYTES_PER_MS / 1000
                    piece = Part(lo, hi, captured, part.reason)
                    yield piece, record.pcm[lo - record.offset : hi - record.offset]
                scan += 1


def pending_runs(directory: Path) -> list[RunState]:
    """Every run no live session holds that has pending audio, oldest first; a run with none
    left is removed."""
    found = []
    for run in runs(directory):
        if not run_is_free(run):
            continue
        state = read_run(run)
        if state.parts or state.problems:
            found.append(state)
        else:
            shutil.rmtree(run, ignore_errors=True)
    return found


def _pending(
    start: int,
    end: int,
    settled: int,
    failed: list[tuple[int, int, str]],
    done: list[tuple[int, int]],
    note: str,
) -> Iterator[tuple[int, int, str]]:
    """The pending sub-ranges of ``[start, end)`` with their reasons."""
    cuts = {start, end, settled}
    for lo, hi, _ in failed:
        cuts.update((lo, hi))
    for lo, hi in done:
        cuts.update((lo, hi))
    points = sorted(c for c in cuts if start <= c <= end)
    for lo, hi in zip(points, points[1:], strict=False):
        if any(d_lo <= lo and hi <= d_hi for d_lo, d_hi in done):
            continue
        reasons = [r for f_lo, f_hi, r in failed if f_lo <= lo and hi <= f_hi]
        if reasons:
            yield lo, hi, reasons[-1]
        elif lo >= settled:
            yield lo, hi, note


class _Sweep:
    """The spans overlapping ranges asked for in ascending order, without rescanning them all
    (a morning without credit has hundreds of failed spans and 90,000 audio blocks an hour)."""

    def __init__(self, spans: list[tuple[int, int, str]]) -> None:
        self._spans = spans
        self._next = 0
        self._active: list[tuple[int, int, str]] = []

    def at(self, start: int, end: int) -> list[tuple[int, int, str]]:
        """The spans overlapping ``[start, end)``; ``start`` never decreases between calls."""
        while self._next < len(self._spans) and self._spans[self._next][0] < end:
            self._active.append(self._spans[self._next])
            self._next += 1
        self._active = [span for span in self._active if span[1] > start]
        return [span for span in self._active if span[0] < end]


def _add(parts: list[Part], part: Part) -> None:
    """Append, merging with the previous part when it continues it."""
    if parts:
        last = parts[-1]
        if last.end == part.start and last.reason == part.reason:
            parts[-1] = Part(last.start, part.end, last.captured, last.reason)
            return
    parts.append(part)
