"""Pending recordings transcribed later: the spool's runs sent through a fast session.

Each run is replayed oldest first in a session of its own (never the live one), each chunk
with the time it was spoken, so a transcript goes to the log of that day at that time. As the
session settles audio, ``D`` (done) records go into the run, fsynced, so a crash mid-retry sends
nothing twice; what fails again stays pending with the new reason.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from tray_stt.config import Config
from tray_stt.errors import TraySttError
from tray_stt.pushtotalk.talk import DictationEvent
from tray_stt.realtime.events import (
    Event,
    Notice,
    SessionReady,
    TranscriptCompleted,
    TranscriptFailed,
)
from tray_stt.realtime.models import TranscriptionSettings, TurnMode, model_info
from tray_stt.realtime.pcm import BYTES_PER_MS
from tray_stt.realtime.session import Session
from tray_stt.realtime.transport import Connect, websocket_connect
from tray_stt.spool.pending import RunState, pending_runs, read_audio, read_run
from tray_stt.spool.store import Spool, default_spool_dir

_GAP_BYTES = 1000 * BYTES_PER_MS


@dataclass
class RetryResult:
    """What a retry did."""

    runs: int = 0  # runs replayed
    seconds: float = 0.0  # audio sent
    left: int = 0  # recordings still pending afterwards


class _Replay:
    """The retry session's spool: maps its offsets back onto the run's and marks them done."""

    def __init__(
        self, spool: Spool, state: RunState, chunk_bytes: int, stop: threading.Event
    ) -> None:
        # For a model without server turn detection, each stretch ends a turn.
        self.commit: Callable[[], object] | None = None
        self._spool = spool
        self._stop = stop
        self._state = state
        self._chunk = chunk_bytes
        self._map: list[tuple[int, int, int]] = []  # (session offset, run offset, length)
        self._fed = 0
        self._done_to = 0
        self._failed: list[tuple[int, int]] = []
        self._when = datetime.now().astimezone()

    def chunks(self) -> Iterator[bytes]:
        """The pending audio in chunks; ``clock`` then gives each one's spoken time. Stretches
        that were apart get a second of silence between them, so server turn detection ends
        each where it ended when it was spoken."""
        last_end: int | None = None
        for part, pcm in read_audio(self._state):
            if last_end is not None and part.start != last_end:
                if self.commit is not None:
                    self.commit()  # on the feeding thread, between chunks, as it must be
                else:
                    yield from self._silence(part.captured)
            last_end = part.end
            if self._spool.closing or self._stop.is_set():
                return  # its live session ended, or the app quits: the rest stays pending
            for at in range(0, len(pcm), self._chunk):
                chunk = pcm[at : at + self._chunk]
                self._map.append((self._fed, part.start + at, len(chunk)))
                self._when = datetime.fromtimestamp(
                    part.captured + at / BYTES_PER_MS / 1000
                ).astimezone()
                self._fed += len(chunk)
                yield chunk

    def _silence(self, before: float) -> Iterator[bytes]:
        for at in range(0, _GAP_BYTES, self._chunk):
            chunk = bytes(min(self._chunk, _GAP_BYTES - at))
            self._when = datetime.fromtimestamp(
                before - (_GAP_BYTES - at) / BYTES_PER_MS / 1000
            ).astimezone()
            self._fed += len(chunk)
            yield chunk

    @property
    def fed(self) -> int:
        """Bytes given to the session so far."""
        return self._fed

    def clock(self, pcm: bytes) -> datetime:
        """When the chunk just taken was spoken."""
        return self._when

    def append(self, pcm: bytes, when: datetime) -> None:
        """The audio is in the run already."""

    def settle(self, settled: int, failed: list[tuple[int, int, str]]) -> None:
        """Failures keep their audio pending with the new reason; the rest is done."""
        spans = []
        for start, end, reason in failed:
            self._failed.append((start, end))
            spans += [(lo, hi, reason) for lo, hi in self._to_run(start, end)]
        if spans:
            self._spool.settle(0, spans)
        settled = min(settled, self._fed)
        if settled <= self._done_to:
            return
        cuts = sorted(
            {self._done_to, settled}
            | {x for span in self._failed for x in span if self._done_to < x < settled}
        )
        for lo, hi in zip(cuts, cuts[1:], strict=False):
            if not any(f_lo <= lo and hi <= f_hi for f_lo, f_hi in self._failed):
                for run_lo, run_hi in self._to_run(lo, hi):
                    self._spool.done(run_lo, run_hi)
        self._done_to = settled

    def _to_run(self, start: int, end: int) -> list[tuple[int, int]]:
        ranges: list[tuple[int, int]] = []
        for at, run_at, length in self._map:
            lo, hi = max(start, at), min(end, at + length)
            if lo >= hi:
                continue
            run_lo, run_hi = run_at + lo - at, run_at + hi - at
            if ranges and ranges[-1][1] == run_lo:
                ranges[-1] = (ranges[-1][0], run_hi)
            else:
                ranges.append((run_lo, run_hi))
        return ranges


def retry_pending(
    config: Config,
    on_event: Callable[[Event], None],
    note: Callable[[str], None],
    *,
    directory: Path | None = None,
    connect: Connect = websocket_connect,
    stop: threading.Event | None = None,
) -> RetryResult:
    """Transcribe every pending recording, oldest first; raises what ended a session.
    ``stop``: once set, no more audio is sent; what was sent is still logged and marked done."""
    stop = stop or threading.Event()
    directory = directory or default_spool_dir()
    result = RetryResult()
    settings = _retry_settings(config)
    chunk = config.chunk_ms * BYTES_PER_MS
    for state in pending_runs(directory):
        if stop.is_set():
            break
        for problem in state.problems:
            note(f"A spool file was damaged ({problem}); what came before it is recovered.")
        if not state.parts:
            shutil.rmtree(state.path, ignore_errors=True)
            continue
        try:
            spool = Spool(directory, max_bytes=0, report=note, run=state.path)
        except OSError:
            continue  # a live session or another retry took it meanwhile
        state = read_run(state.path)  # another retry may have done some before the lock
        if not state.parts:
            spool.close()
            shutil.rmtree(state.path, ignore_errors=True)
            continue
        try:
            _replay(config, settings, _Replay(spool, state, chunk, stop), on_event, connect)
        finally:
            spool.close()
            result.runs += 1
            result.seconds += state.duration_s
            if not read_run(state.path).parts:
                shutil.rmtree(state.path, ignore_errors=True)
    for spool in Spool.live_in(directory):
        if stop.is_set():
            break
        with spool.borrowed() as lent:
            failed = read_run(spool.run, failed_only=True) if lent else None
            if failed is None or not failed.parts:
                continue
            _replay(config, settings, _Replay(spool, failed, chunk, stop), on_event, connect)
            result.runs += 1
            result.seconds += failed.duration_s
    result.left = count_pending(directory)
    return result


def _replay(
    config: Config,
    settings: TranscriptionSettings,
    replay: _Replay,
    on_event: Callable[[Event], None],
    connect: Connect,
) -> None:
    """Send one run's pending audio through a session of its own."""
    session = Session(
        config.endpoint, settings, on_event, spool=replay, clock=replay.clock, connect=connect
    )
    if settings.turn is TurnMode.MANUAL:
        replay.commit = session.commit
    session.run(replay.chunks(), wait_ready=True)
    replay.settle(replay.fed, [])  # ended normally: the rest was silence


def _retry_settings(config: Config) -> TranscriptionSettings:
    """Spooled audio has no turn marks of its own: the server's turn detection splits it, or,
    for a model without one, each stretch is a turn of its own (a local detector would send
    only speech, and the offsets that mark audio done would no longer be the ones fed)."""
    settings = config.transcription
    if settings.effective_turn.on_server:
        return settings
    turn = TurnMode.SERVER if model_info(settings.model).server_vad else TurnMode.MANUAL
    return replace(settings, turn=turn)


def count_pending(directory: Path | None = None) -> int:
    """How many pending recordings the spool holds (what ``tray-stt pending`` lists), with the
    failed audio of this process's live runs."""
    directory = directory or default_spool_dir()
    states = pending_runs(directory)
    states += [read_run(spool.run, failed_only=True) for spool in Spool.live_in(directory)]
    return sum(len(state.recordings()) for state in states)


@dataclass(frozen=True)
class RetryReport:
    """How a retry in the tray went."""

    done: int  # recordings that were pending before
    left: int  # recordings still pending
    error: TraySttError | None = None


class Retrier:
    """Retries pending recordings on a thread of its own, one retry at a time, never on the
    controller's thread (it reads the spool and waits for the network). A retry asked for while
    one runs is run after it, so a recording spooled meanwhile is not left waiting."""

    def __init__(self, directory: Path | None = None, *, connect: Connect = websocket_connect):
        self._directory = directory
        self._connect = connect
        self._lock = threading.Lock()
        self._running = False
        self._next: _Ask | None = None
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None

    def start(
        self,
        config: Config,
        on_event: Callable[[Event], None],
        on_done: Callable[[RetryReport], None],
    ) -> bool:
        """Count, and retry if anything is pending; False if one runs (this one runs next)."""
        with self._lock:
            if self._stop.is_set():
                return False
            if self._running:
                self._next = (config, on_event, on_done)
                return False
            self._running = True
            worker = threading.Thread(
                target=self._loop, args=((config, on_event, on_done),), name="tray-stt-retry"
            )
            worker.daemon = True
            self._worker = worker
        worker.start()
        return True

    def stop(self, timeout: float) -> None:
        """Send no more pending audio and wait (up to ``timeout`` s) until what was sent is
        logged and marked done, so quitting mid-retry never sends anything twice later."""
        with self._lock:
            self._stop.set()
            self._next = None
            worker = self._worker
        if worker is not None:
            worker.join(timeout)

    def _loop(self, ask: _Ask) -> None:
        while True:
            self._run(*ask)
            with self._lock:
                if self._next is None:
                    self._running = False
                    return
                ask, self._next = self._next, None

    def _run(
        self,
        config: Config,
        on_event: Callable[[Event], None],
        on_done: Callable[[RetryReport], None],
    ) -> None:
        try:
            before = count_pending(self._directory)
            error: TraySttError | None = None
            if before:
                note = lambda message: on_event(Notice(message))  # noqa: E731
                try:
                    retry_pending(
                        config,
                        on_event,
                        note,
                        directory=self._directory,
                        connect=self._connect,
                        stop=self._stop,
                    )
                except TraySttError as exc:
                    error = exc
            left = count_pending(self._directory)
            on_done(RetryReport(max(before - left, 0), left, error))
        except Exception as exc:  # a thread must not die silently (docs/architecture.md, "Threads")
            on_done(RetryReport(0, 0, TraySttError(f"Retrying pending recordings failed: {exc}")))


_Ask = tuple[Config, Callable[[Event], None], Callable[[RetryReport], None]]


def done_sentence(report: RetryReport) -> str | None:
    """What to tell the user when a retry transcribed something."""
    if not report.done:
        return None
    plural = "" if report.done == 1 else "s"
    still = f"; {report.left} still pending" if report.left else ""
    return f"Transcribed {report.done} pending recording{plural} into the log{still}."


class AutoRetry:
    """A command-line live source (``listen``, ``dictate``) retrying pending recordings by
    itself, as the tray does: whenever a connection is ready (at the start, once the network is
    there, and after every outage) and when a transcript arrives after failures (the account
    has credit again). Wraps the command's event sink; the retry's transcripts go to
    ``deliver`` (the log, at their spoken time, and the console; settable, for a command whose
    log is made with its session)."""

    def __init__(
        self,
        config: Config,
        on_event: Callable[[DictationEvent], None],
        note: Callable[[str], None],
        *,
        deliver: Callable[[DictationEvent], None] | None = None,
        retrier: Retrier | None = None,
    ) -> None:
        self._config = config
        self._on_event = on_event
        self.deliver = deliver or on_event
        self._note = note
        self._retrier = retrier or Retrier()
        self._failing = False
        self._lock = threading.Lock()
        self._failures = 0  # live failures so far
        self._caught_up_to = 0  # failures before the last retry that left nothing pending

    @property
    def caught_up(self) -> bool:
        """Whatever failed has been transcribed since (e.g. credit came back)."""
        with self._lock:
            return self._caught_up_to == self._failures

    def __call__(self, event: DictationEvent) -> None:
        """The live session's event: handled by the command's sink, then watched."""
        self._on_event(event)
        if isinstance(event, TranscriptFailed):
            self._failing = True
            with self._lock:
                self._failures += 1
        elif isinstance(event, SessionReady) or (
            isinstance(event, TranscriptCompleted) and self._failing and event.text.strip()
        ):
            self._failing = False
            if self._config.spool_max_mb:
                with self._lock:
                    failures = self._failures
                self._retrier.start(
                    self._config, self._from_retry, lambda report: self._done(report, failures)
                )

    def close(self, timeout: float = 15.0) -> None:
        """Stop retrying; what was sent is still logged (bounded by ``timeout``)."""
        self._retrier.stop(timeout)

    def _from_retry(self, event: Event) -> None:
        if isinstance(event, TranscriptCompleted | TranscriptFailed):
            self.deliver(event)

    def _done(self, report: RetryReport, failures: int) -> None:
        if not report.left and report.error is None:
            with self._lock:
                self._caught_up_to = max(self._caught_up_to, failures)
        sentence = done_sentence(report)
        if sentence is not None:
            self._note(sentence)
