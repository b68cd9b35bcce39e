"""Writing the spool: one run directory per live session, its audio in segment files.

Layout (README "What is kept, and for how long"): ``<state dir>/spool/run-<time>-<pid>/`` holds
``lock`` (held with ``flock`` while the session lives, so a retry never takes live audio) and
``seg-NNNNNN.tsp`` files in the format of ``frames``. Writes are buffered by the kernel and
fsynced at least once a second, so a crash or power loss loses at most the last second; a
settled offset is fsynced at once, so audio already in the log is never transcribed twice.

A live run's failed audio (no credit, an outage longer than memory keeps) need not wait for the
session to end: ``Spool.live_in`` finds the process's live runs and ``borrowed`` lets a retry
replay their failed spans meanwhile, marking them done in the same run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import platformdirs

from tray_stt import APP_NAME
from tray_stt.realtime.pcm import BYTES_PER_MS
from tray_stt.spool.frames import MAGIC, Audio, Done, Ended, Failed, Record, Settled, encode

if sys.platform != "win32":
    import fcntl

SEGMENT_BYTES = 10 * 1000 * BYTES_PER_MS  # 10 s a file: settled audio goes within seconds
SYNC_S = 1.0
RETRY_WRITE_S = 30.0  # after a failed write (disk full), try again this much later
NOTICE_EVERY_S = 60.0
BORROW_WAIT_S = 15.0  # how long closing a live run waits for a retry of its failed audio
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)


def default_spool_dir() -> Path:
    """The per-user spool directory, under the XDG state directory."""
    return platformdirs.user_state_path(APP_NAME) / "spool"


def private_dir(path: Path) -> Path:
    """``path`` created if needed, readable by its owner only (0700)."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)  # the umask may have taken bits off, or it existed wider
    return path


def segments(run: Path) -> list[Path]:
    """The segment files of a run, oldest first."""
    return sorted(run.glob("seg-*.tsp"))


def runs(directory: Path) -> list[Path]:
    """The run directories of a spool, oldest first."""
    return sorted(p for p in directory.glob("run-*") if p.is_dir()) if directory.is_dir() else []


def open_spool(
    max_mb: int, report: Callable[[str], None], directory: Path | None = None
) -> Spool | None:
    """A new run for a live session; None when ``spool_max_mb`` is 0 or it cannot be made
    (then ``report`` says why and listening goes on without it)."""
    if max_mb <= 0:
        return None
    directory = directory or default_spool_dir()
    try:
        return Spool(directory, max_bytes=max_mb * 1_000_000, report=report)
    except OSError as exc:
        report(
            f"Cannot create the audio spool in {directory} ({exc.strerror or exc}): audio not "
            "yet transcribed would be lost in a crash."
        )
        return None


class RunLock:
    """The ``flock`` a live session holds on its run, so no retry takes its audio."""

    def __init__(self, run: Path) -> None:
        self._fd: int | None = None
        self._path = run / "lock"

    def acquire(self) -> bool:
        """Take the lock; False if another process holds it."""
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        if sys.platform != "win32":
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
        self._fd = fd
        return True

    def release(self) -> None:
        """Let the lock go (closing the file releases the flock)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def run_is_free(run: Path) -> bool:
    """Whether no live session holds ``run``."""
    lock = RunLock(run)
    try:
        if not lock.acquire():
            return False
    except OSError:
        return False
    lock.release()
    return True


@dataclass
class _Segment:
    path: Path
    start: int  # audio offsets it holds
    end: int
    size: int


class Spool:
    """One session's audio on disk until it is settled (the session's ``AudioSpool``).

    ``report`` gets one sentence for the user when the spool must drop the oldest audio or
    cannot write; the spool never raises into the session: listening always goes on.
    """

    _live: weakref.WeakSet[Spool] = weakref.WeakSet()  # this process's open live runs

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int,
        report: Callable[[str], None],
        segment_bytes: int = SEGMENT_BYTES,
        run: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``run``: an existing run to add records to (a retry), instead of a new one."""
        self.directory = directory
        self._max = max_bytes
        self._report = report
        self._segment_bytes = segment_bytes
        self._clock = clock
        self._mutex = threading.RLock()  # the feeder appends, the receiver settles
        self._offset = 0
        self._settled = 0
        self._failed: list[Failed] = []
        self._done: list[Done] = []  # restated in each segment, like the failed spans
        self._borrowers = 0
        self._closing = False
        self._returned = threading.Condition(self._mutex)
        self._closed: list[_Segment] = []
        self._current: _Segment | None = None
        self._fd: int | None = None
        self._index = 0
        self._synced_at = clock()
        self._dirty = False
        self._paused_until: float | None = None
        self._told_at: float | None = None
        self._dropped_told_at: float | None = None
        private_dir(directory)
        self._resumed = run is not None
        self.run = run or self._new_run()
        self._lock = RunLock(self.run)
        if not self._lock.acquire():
            raise OSError(f"the spool run {self.run.name} is in use")
        existing = segments(self.run)
        if existing:
            self._index = int(existing[-1].stem.split("-")[1])
        self._total = _spool_size(directory)
        if not self._resumed:
            Spool._live.add(self)

    @classmethod
    def live_in(cls, directory: Path) -> list[Spool]:
        """The live runs this process has open in ``directory`` (their lock keeps every other
        retry out, so only this process can retry their failed audio while they live)."""
        return [spool for spool in list(cls._live) if spool.directory == directory]

    @contextlib.contextmanager
    def borrowed(self) -> Iterator[bool]:
        """For a retry of this live run's failed audio: True if the run is still open. Closing
        waits (up to ``BORROW_WAIT_S``) until the retry has marked what it logged as done."""
        with self._mutex:
            lent = not self._closing
            self._borrowers += lent
        if not lent:
            yield False
            return
        try:
            yield True
        finally:
            with self._mutex:
                self._borrowers -= 1
                self._returned.notify_all()

    @property
    def closing(self) -> bool:
        """The session ended: a retry borrowing this run should stop feeding its audio."""
        return self._closing

    @property
    def offset(self) -> int:
        """Bytes of audio appended so far (the session's journal offset)."""
        return self._offset

    def append(self, pcm: bytes, when: datetime) -> None:
        """Spool captured audio; fsynced within a second."""
        with self._mutex:
            start = self._offset
            self._offset += len(pcm)
            self._write(Audio(start, when.timestamp(), bytes(pcm)), audio=len(pcm))
            if self._current is not None and self._current.end - self._current.start >= (
                self._segment_bytes
            ):
                self._rotate()
            if self._clock() - self._synced_at >= SYNC_S:
                self.sync()

    def settle(self, settled: int, failed: list[tuple[int, int, str]]) -> None:
        """Audio before ``settled`` is logged or silence, except the ``failed`` spans."""
        with self._mutex:
            changed = False
            for start, end, reason in failed:
                span = self._add_failed(Failed(start, end, reason))
                self._write(span)
                changed = True
            if settled > self._settled:
                self._settled = settled
                self._write(Settled(settled))
                changed = True
            if changed:
                self.sync()
                self._delete_settled()

    def _add_failed(self, span: Failed) -> Failed:
        """Keep a failed span; one that extends the last (a long outage) replaces it."""
        last = self._failed[-1] if self._failed else None
        if last is not None and last.reason == span.reason and last.start <= span.start <= last.end:
            span = Failed(last.start, max(last.end, span.end), span.reason)
            self._failed[-1] = span
        else:
            self._failed.append(span)
        return span

    def done(self, start: int, end: int) -> None:
        """A retry logged the transcript of ``[start, end)``: never send it again."""
        with self._mutex:
            record = Done(start, end)
            self._done.append(record)
            self._write(record)
            self.sync()
            self._delete_settled()

    def sync(self) -> None:
        """Make what was written durable."""
        with self._mutex:
            self._synced_at = self._clock()
            if self._fd is None or not self._dirty:
                return
            try:
                os.fsync(self._fd)
                self._dirty = False
            except OSError as exc:
                self._write_failed(exc)

    def close(self, note: str | None = None, *, finished: bool = False) -> None:
        """Say why the session ended (if it failed), and remove the run if nothing is pending.

        ``finished``: the session ended normally, every transcript released and handled, so
        all its audio is settled but the failed spans (the rest was silence).
        """
        with self._mutex:
            self._closing = True
            Spool._live.discard(self)
            deadline = time.monotonic() + BORROW_WAIT_S
            while self._borrowers and time.monotonic() < deadline:
                self._returned.wait(deadline - time.monotonic())
            if finished:
                self.settle(self._offset, [])
            if note:
                self._write(Ended(note))
            self.sync()
            self._close_fd()
            pending = self._still_failed(0, self._offset) or self._settled < self._offset
            if not pending and not self._resumed:
                shutil.rmtree(self.run, ignore_errors=True)
            self._lock.release()

        # -- files -------------------------------------------------------------------------------

    def _new_run(self) -> Path:
        stamp = datetime.now().strftime("%Y%m%dT%H%M%S.%f")
        return private_dir(self.directory / f"run-{stamp}-{os.getpid()}")

    def _write(self, record: Record, *, audio: int = 0) -> None:
        if self._paused_until is not None:
            if self._clock() < self._paused_until:
                return
            self._paused_until = None
        data = encode(record)
        try:
            if self._fd is None:
                self._open_segment()
            assert self._fd is not None and self._current is not None
            _write_all(self._fd, data)
        except OSError as exc:
            self._write_failed(exc)
            return
        self._dirty = True
        self._current.size += len(data)
        self._total += len(data)
        if audio:
            if self._current.end == self._current.start:
                self._current.start = self._offset - audio
            self._current.end = self._offset
        if self._max and self._total > self._max:
            self._drop_oldest()

    def _open_segment(self) -> None:
        self._index += 1
        path = self.run / f"seg-{self._index:06d}.tsp"
        fd = os.open(path, _OPEN_FLAGS, 0o600)
        self._fd = fd
        self._current = _Segment(path, self._offset, self._offset, 0)
        # Each segment restates what is settled and failed, so older ones can go.
        head = MAGIC + encode(Settled(self._settled))
        restated: list[Record] = [*self._failed, *self._done]
        head += b"".join(encode(record) for record in restated)
        _write_all(fd, head)
        self._current.size = len(head)
        self._total += len(head)
        _sync_dir(self.run)

    def _rotate(self) -> None:
        self.sync()
        self._close_fd()

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, None
        if self._current is not None:
            self._closed.append(self._current)
            self._current = None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _delete_settled(self) -> None:
        keep = []
        for segment in self._closed:
            if segment.end <= self._settled and not self._still_failed(segment.start, segment.end):
                self._remove(segment.path, segment.size)
            else:
                keep.append(segment)
        self._closed = keep

    def _still_failed(self, start: int, end: int) -> bool:
        """Whether failed audio in ``[start, end)`` is not yet done by a retry."""
        for span in self._failed:
            lo, hi = max(start, span.start), min(end, span.end)
            for done in sorted(self._done, key=lambda d: d.start):
                if done.start <= lo < done.end:
                    lo = done.end
            if lo < hi:
                return True
        return False

    def _remove(self, path: Path, size: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self._total -= size

    def _drop_oldest(self) -> None:
        """Over ``spool_max_mb``: the oldest audio goes first, and the user is told."""
        current = self._current.path if self._current is not None else None
        oldest: datetime | None = None
        for run in runs(self.directory):
            if run != self.run and not run_is_free(run):
                continue
            for path in segments(run):
                if self._total <= self._max * 0.9 or path == current:
                    break
                oldest = oldest or _modified(path)
                size = path.stat().st_size
                self._remove(path, size)
                self._closed = [s for s in self._closed if s.path != path]
            if run != self.run and not segments(run):
                shutil.rmtree(run, ignore_errors=True)
        if oldest is not None and self._due(self._dropped_told_at):
            self._dropped_told_at = self._clock()
            self._report(
                f"The audio spool reached its limit of {self._max / 1_000_000:g} MB "
                f"(spool_max_mb): the oldest audio not yet transcribed, from "
                f"{oldest:%Y-%m-%d %H:%M}, was deleted."
            )

    def _write_failed(self, exc: OSError) -> None:
        self._close_fd()
        self._paused_until = self._clock() + RETRY_WRITE_S
        if self._due(self._told_at):
            self._told_at = self._clock()
            self._report(
                f"Cannot write the audio spool in {self.directory} "
                f"({exc.strerror or exc}): listening goes on, but audio not yet transcribed "
                "would be lost in a crash. Free some disk space."
            )

    def _due(self, told_at: float | None) -> bool:
        return told_at is None or self._clock() - told_at >= NOTICE_EVERY_S


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _sync_dir(path: Path) -> None:
    """Make a new file's name durable too (POSIX only)."""
    if sys.platform == "win32":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _spool_size(directory: Path) -> int:
    return sum(p.stat().st_size for run in runs(directory) for p in segments(run))


def _modified(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime)
