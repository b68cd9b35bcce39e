"""What the command line shows: transcript text on stdout, everything else on stderr."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol, TextIO

from tray_stt import APP_NAME
from tray_stt.desktop.clipboard import ClipboardSink
from tray_stt.errors import BudgetExceeded, LogWriteError
from tray_stt.metering.budget import BudgetWatch, Level
from tray_stt.pushtotalk.talk import DictationEvent, DictationStopped
from tray_stt.realtime.events import (
    Notice,
    Reconnecting,
    SessionState,
    SpeechStarted,
    SpeechStopped,
    StateChanged,
    TranscriptCompleted,
    TranscriptDelta,
    TranscriptFailed,
)
from tray_stt.realtime.wire import ErrorKind
from tray_stt.transcripts import DailyLog, log_first


class StatusLine(Protocol):
    """A progress display that gives way to other lines on stderr."""

    def clear(self) -> None:
        """Remove it so another line can be written."""
        ...


class TranscriptOutput:
    """Delivers each transcript: to the daily log first (fsynced), then stdout, then clipboard."""

    def __init__(
        self,
        log: DailyLog | None,
        clipboard: ClipboardSink | None,
        *,
        stdout: TextIO = sys.stdout,
        stderr: TextIO = sys.stderr,
        usage: BudgetWatch | None = None,
    ) -> None:
        self._log = log
        self._clipboard = clipboard
        self._stdout = stdout
        self._stderr = stderr
        self._usage = usage
        self.completed = 0
        self.failed = 0
        self.no_credit = 0
        self.log_failures = 0
        self.status: StatusLine | None = None
        # Set by ``transcribe``: writes the transcript (in a --format) instead of a stdout line;
        # the log then dates it when it was transcribed, as a file's clock is its own timeline.
        self.write_text: Callable[[TranscriptCompleted, str], None] | None = None
        # Set by the command: ends the input when a budget cap is reached mid-session.
        self.stop_input: Callable[[], None] | None = None
        self.over_budget: BudgetExceeded | None = None
        self.source: str | None = None  # the file being transcribed: failures in its offsets
        self.missed: list[tuple[int, int]] = []  # (start ms, end ms) of the source not transcribed
        self.ready_note: str | None = None  # said once the session first streams
        self.no_credit_note: str | None = None  # said at the first no-credit failure (listen)
        self._outage: str | None = None  # the reason last told, while reconnecting

    def __call__(self, event: DictationEvent) -> None:
        """Handle one session event (called on the session's receiving thread)."""
        if isinstance(event, TranscriptCompleted):
            self._deliver(event)
            self._meter(event)
        elif isinstance(event, TranscriptFailed):
            self._failed(event)
            self._meter(event)
        elif isinstance(event, Reconnecting):
            # Live sources retry for ever: one line per outage (and per new reason), not one
            # per attempt.
            if event.attempt == 1 or event.reason != self._outage:
                self.note(event.message)
            self._outage = event.reason
        elif isinstance(event, Notice | DictationStopped):
            self.note(event.message)
        elif isinstance(event, StateChanged):
            self._state(event)

    def _state(self, event: StateChanged) -> None:
        if event.state is SessionState.RECONNECTING and event.detail:
            self.note(f"Reconnecting: {event.detail}…")
        elif event.state is SessionState.STREAMING:
            if self.ready_note is not None:
                self.note(self.ready_note)
                self.ready_note = None
            elif self._outage is not None:
                self.note("Connected again.")
            self._outage = None

    def _failed(self, event: TranscriptFailed) -> None:
        self.failed += 1
        if self.source is not None:
            self.missed.append((event.audio_start_ms, event.audio_end_ms))
        if event.kind is ErrorKind.BILLING:
            # transcribe's session ends with the one no-credit sentence; listen goes on (its
            # audio is kept) and says it here, once.
            self.no_credit += 1
            if self.no_credit == 1 and self.no_credit_note is not None:
                self.note(self.no_credit_note)
            return
        partial = f' (partial text: "{event.partial_text}")' if event.partial_text else ""
        where = f"{event.started_at:%H:%M:%S}"
        if self.source is not None:
            where = f"{clock(event.audio_start_ms)} of {self.source}"
        self.note(f"Could not transcribe the utterance at {where}: {event.reason}{partial}")

    def report_missed(self, total_ms: int) -> None:
        """Say which parts of the source were not transcribed, in offsets of the source."""
        if self.source is None or not self.missed:
            return
        parts = ", ".join(f"{clock(a)}–{clock(b)}" for a, b in merged(self.missed, total_ms))
        self.note(f"not transcribed: {parts} of {self.source}")

    def _deliver(self, event: TranscriptCompleted) -> None:
        text = " ".join(event.text.split())
        when = event.started_at if self.write_text is None else datetime.now().astimezone()
        if not log_first(self._log, text, when, self._log_refused, self.note):
            return
        self.completed += 1
        if self.status is not None:
            self.status.clear()
        if self.write_text is not None:
            self.write_text(event, text)
        else:
            self._stdout.write(text + "\n")
            self._stdout.flush()
        if self._clipboard is not None:
            self._clipboard.submit(text)

    def _meter(self, event: TranscriptCompleted | TranscriptFailed) -> None:
        """Into the usage ledger, after the log; a cap reached ends the input cleanly: what
        was already sent is still transcribed and delivered."""
        if self._usage is None:
            return
        state = self._usage.record(event, self.note)
        if state is None:
            return
        self.note(state.message)
        if state.level is Level.OVER and self.over_budget is None:
            self.over_budget = state.error()
            if self.stop_input is not None:
                self.stop_input()

    def _log_refused(self, error: LogWriteError) -> None:
        self.log_failures += 1
        self.note(str(error))

    def sibling(self) -> TranscriptOutput:
        """Another output into the same log, clipboard and usage ledger (one per file of
        ``transcribe --jobs``); only this one closes them."""
        return TranscriptOutput(
            self._log, self._clipboard, stdout=self._stdout, stderr=self._stderr, usage=self._usage
        )

    def close(self) -> None:
        """Let the clipboard finish and close the log."""
        if self._clipboard is not None:
            self._clipboard.close()
        if self._log is not None:
            self._log.close()
        if self._usage is not None:
            self._usage.close()

    def note(self, message: str) -> None:
        """One diagnostic line on stderr."""
        if self.status is not None:
            self.status.clear()
        self._stderr.write(f"{APP_NAME}: {message}\n")
        self._stderr.flush()


def clock(ms: int) -> str:
    """An offset in a file as ``MM:SS.s`` (``H:MM:SS.s`` past an hour)."""
    tenths = max(ms, 0) // 100
    hours, rest = divmod(tenths, 36000)
    minutes, rest = divmod(rest, 600)
    seconds = f"{minutes:02d}:{rest // 10:02d}.{rest % 10}"
    return f"{hours}:{seconds}" if hours else seconds


def merged(ranges: list[tuple[int, int]], total_ms: int) -> list[tuple[int, int]]:
    """Ranges clamped to the source and joined where they touch or overlap."""
    out: list[tuple[int, int]] = []
    for start, end in sorted((min(a, total_ms), min(b, total_ms)) for a, b in ranges):
        if end <= start:
            continue
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


class Progress:
    """A one-line progress bar on a terminal stderr; a start line otherwise."""

    WIDTH = 30

    def __init__(self, name: str, total_s: float, stream: TextIO = sys.stderr) -> None:
        self._name = name
        self._total = max(total_s, 1e-9)
        self._stream = stream
        self._tty = stream.isatty()
        self._shown = 0.0
        self._drawn = False
        self.done_s = 0.0
        if not self._tty:
            stream.write(f"{APP_NAME}: transcribing {name} ({total_s:.1f} s of audio)\n")
            stream.flush()

    def update(self, done_s: float) -> None:
        """Redraw at most ten times a second."""
        self.done_s = done_s
        now = time.monotonic()
        if not self._tty or now - self._shown < 0.1:
            return
        self._shown = now
        fraction = min(done_s / self._total, 1.0)
        filled = int(fraction * self.WIDTH)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        line = f"{self._name} [{bar}] {fraction:4.0%} {done_s:6.1f}/{self._total:.1f} s"
        self._stream.write("\r" + line + "\x1b[K")
        self._stream.flush()
        self._drawn = True

    def clear(self) -> None:
        """Remove the bar so another line can be written."""
        if self._drawn:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._drawn = False


class LiveOutput(TranscriptOutput):
    """``tray-stt listen``: speech markers and live partial text as well, on stdout.

    On a terminal the partial text rewrites the current line and the final text replaces it;
    otherwise every marker and partial is a plain line, so a log of the session reads in order.
    """

    def __init__(
        self,
        log: DailyLog | None,
        clipboard: ClipboardSink | None,
        *,
        stdout: TextIO = sys.stdout,
        stderr: TextIO = sys.stderr,
        usage: BudgetWatch | None = None,
    ) -> None:
        super().__init__(log, clipboard, stdout=stdout, stderr=stderr, usage=usage)
        self._tty = stdout.isatty()
        self._partial = False
        # Events arrive on the session's receiving thread, notices on the capture thread: one
        # writer at a time, or a notice could land in the middle of a rewritten partial line.
        self._lock = threading.RLock()

    def __call__(self, event: DictationEvent) -> None:
        """Handle one session event."""
        with self._lock:
            self._handle(event)

    def _handle(self, event: DictationEvent) -> None:
        if isinstance(event, SpeechStarted):
            self._marker("speech started")
        elif isinstance(event, SpeechStopped):
            self._marker("speech stopped")
        elif isinstance(event, TranscriptDelta):
            self._show_partial(event.text)
        else:
            if isinstance(event, TranscriptCompleted):
                self._clear_partial()
            super().__call__(event)

    def _marker(self, text: str) -> None:
        self._clear_partial()
        self._write(f"-- {text} --\n")

    def _show_partial(self, text: str) -> None:
        flat = " ".join(text.split())
        if not self._tty:
            self._write(f"... {flat}\n")
            return
        width = shutil.get_terminal_size().columns - 5
        shown = flat if len(flat) <= width else "…" + flat[-width + 1 :]
        self._write(f"\r\x1b[K... {shown}")
        self._partial = True

    def _clear_partial(self) -> None:
        if self._partial:
            self._write("\r\x1b[K")
            self._partial = False

    def note(self, message: str) -> None:
        """Diagnostics still go to stderr, after taking the partial line away."""
        with self._lock:
            self._clear_partial()
            super().note(message)

    def _write(self, text: str) -> None:
        self._stdout.write(text)
        self._stdout.flush()
