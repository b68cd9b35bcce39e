"""``tray-stt transcribe``: files through realtime sessions, up to ``--jobs`` at once.

Each file runs on its own session, with a clock that is the file's own timeline (so every
transcript knows where it lies in the file, through reconnects, resends and rollovers: the
session's audio journal dates every byte). Output goes per file in input order, to stdout or
to ``DIR/NAME.EXT``; progress is one display on stderr; a rate limit on one session pauses
them all (``BackoffGate``).
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from tray_stt import APP_NAME
from tray_stt.app.console import Progress, TranscriptOutput
from tray_stt.app.formats import Cue, header, render
from tray_stt.app.listening import local_turns
from tray_stt.audio.convert import paced
from tray_stt.audio.media import AudioFile
from tray_stt.config import Config
from tray_stt.errors import ConfigError
from tray_stt.realtime.events import Event, TranscriptCompleted, TranscriptFailed
from tray_stt.realtime.models import TurnMode
from tray_stt.realtime.pcm import BYTES_PER_MS
from tray_stt.realtime.recovery import BackoffGate
from tray_stt.realtime.session import Session
from tray_stt.realtime.turns import Speech, SpeechBegan, TurnDetector, TurnEvent

_SENT_STEP = 1000 * BYTES_PER_MS


def _now() -> datetime:
    return datetime.now().astimezone()


class FileClock:
    """Capture times of a file's audio: ``epoch`` plus the offset of each chunk in the file.

    The session dates its audio with this clock, so a transcript's ``started_at``/``ended_at``
    minus ``epoch`` is where it lies in the file, however often the audio was resent.
    """

    def __init__(self, epoch: datetime, now: Callable[[], datetime] = _now) -> None:
        self.epoch = epoch
        self.fed = 0  # bytes of 24 kHz PCM16 handed to the session so far
        self._now = now
        # (bytes fed, wall time then), about one a second of audio: when each part was sent
        self._sent: list[tuple[int, datetime]] = []

    def count(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Pass the chunks on, counting each before the session sees it."""
        for chunk in chunks:
            self.fed += len(chunk)
            if not self._sent or self.fed - self._sent[-1][0] >= _SENT_STEP:
                self._sent.append((self.fed, self._now()))
            yield chunk

    def sent_at(self, when: datetime) -> datetime:
        """The wall time by which the audio at capture time ``when`` had been sent: the
        latency meter counts from there, not from the file's timeline (fast mode runs ahead)."""
        target = int(self.offset_s(when) * 1000) * BYTES_PER_MS
        index = bisect_left(self._sent, (target, datetime.min.replace(tzinfo=UTC)))
        return self._sent[index][1] if index < len(self._sent) else self._now()

    def __call__(self, pcm: bytes) -> datetime:
        """The time of the first sample of ``pcm``, audio the session just took ending here."""
        return self.epoch + timedelta(milliseconds=(self.fed - len(pcm)) / BYTES_PER_MS)

    def offset_s(self, when: datetime) -> float:
        """Where a capture time lies in the file, in seconds."""
        return (when - self.epoch).total_seconds()


class Onsets:
    """A local turn detector's utterances, remembered by where their audio starts: each opens
    with a lead-in (``SpeechBegan.preroll_ms``) before the speech, which a subtitle leaves out."""

    def __init__(self, inner: TurnDetector, clock: FileClock) -> None:
        self._inner = inner
        self._clock = clock
        self._leads: dict[datetime, float] = {}

    def process(self, pcm: bytes) -> list[TurnEvent]:
        """The inner detector's events, noting each utterance's lead-in."""
        return self._note(self._inner.process(pcm))

    def flush(self) -> list[TurnEvent]:
        """The inner detector's last events."""
        return self._note(self._inner.flush())

    def lead_s(self, started_at: datetime) -> float:
        """The lead-in of the utterance whose audio starts at ``started_at`` (0 if unknown)."""
        return self._leads.pop(started_at, 0.0)

    def _note(self, events: list[TurnEvent]) -> list[TurnEvent]:
        for began, speech in zip(events, events[1:], strict=False):
            if isinstance(began, SpeechBegan) and isinstance(speech, Speech):
                # The session dates this audio with the same clock, at the same moment.
                self._leads[self._clock(speech.pcm)] = began.preroll_ms / 1000
        return events


class OrderedOutput:
    """Each file's output, in input order: the earliest unfinished file writes through, the
    later ones are held until it is done (files to ``DIR`` are written as they come)."""

    def __init__(self, count: int, stdout: TextIO) -> None:
        self._stdout = stdout
        self._held: list[list[str]] = [[] for _ in range(count)]
        self._done = [False] * count
        self._head = 0
        self._lock = threading.Lock()

    def write(self, index: int, text: str) -> None:
        """Output of file ``index``."""
        with self._lock:
            if index == self._head:
                self._stdout.write(text)
                self._stdout.flush()
            else:
                self._held[index].append(text)

    def finish(self, index: int) -> None:
        """File ``index`` is done: what the next files held is written."""
        with self._lock:
            self._done[index] = True
            while self._head < len(self._done) and self._done[self._head]:
                self._head += 1
                if self._head < len(self._done):
                    self._stdout.write("".join(self._held[self._head]))
                    self._held[self._head].clear()
            self._stdout.flush()


class BatchProgress:
    """One display for every file: files done, audio minutes done, speed against realtime."""

    def __init__(self, files: int, total_s: float, stream: TextIO = sys.stderr) -> None:
        self._files = files
        self._total = total_s
        self._stream = stream
        self._tty = stream.isatty()
        self._started = time.monotonic()
        self._done_s: dict[int, float] = {}
        self._finished = 0
        self._shown = 0.0
        self._drawn = False
        self.lock = threading.RLock()

    def update(self, index: int, done_s: float) -> None:
        """File ``index`` has ``done_s`` seconds of its audio sent."""
        with self.lock:
            self._done_s[index] = done_s
            now = time.monotonic()
            if self._tty and now - self._shown >= 0.1:
                self._shown = now
                self._stream.write("\r" + self._line() + "\x1b[K")
                self._stream.flush()
                self._drawn = True

    def finished(self, name: str) -> None:
        """One more file done (a line of its own when stderr is not a terminal)."""
        with self.lock:
            self._finished += 1
            if not self._tty:
                self._stream.write(f"{APP_NAME}: done {name}: {self._line()}\n")
                self._stream.flush()

    def _line(self) -> str:
        done = sum(self._done_s.values())
        elapsed = max(time.monotonic() - self._started, 1e-9)
        return (
            f"{self._finished}/{self._files} files, {done / 60:.1f}/{self._total / 60:.1f} min "
            f"of audio, {done / elapsed:.1f}x realtime"
        )

    def clear(self) -> None:
        """Remove the line so another can be written."""
        with self.lock:
            if self._drawn:
                self._stream.write("\r\x1b[K")
                self._stream.flush()
                self._drawn = False


@dataclass
class _FileView:
    """A file's share of the batch display, as the output's status line."""

    batch: BatchProgress
    index: int

    def update(self, done_s: float) -> None:
        self.batch.update(self.index, done_s)

    def clear(self) -> None:
        self.batch.clear()


@dataclass
class TranscribeJob:
    """What to do with the files: the output shape and where it goes, how many at once."""

    fmt: str = "txt"
    out_dir: Path | None = None
    jobs: int = 1
    realtime: bool = False


@dataclass
class _Running:
    session: Session
    output: TranscriptOutput
    thread: threading.Thread
    done: threading.Event = field(default_factory=threading.Event)


def output_paths(files: list[AudioFile], job: TranscribeJob) -> list[Path] | None:
    """``DIR/NAME.EXT`` per input (None: stdout); refused in one sentence if two collide."""
    if job.out_dir is None:
        return None
    paths = [job.out_dir / f"{Path(f.path).stem}.{job.fmt}" for f in files]
    seen: dict[Path, str] = {}
    for path, source in zip(paths, files, strict=True):
        if path in seen:
            raise ConfigError(
                f"{seen[path]} and {source.path} would both be written to {path}: "
                "rename one, or transcribe them into different --output directories."
            )
        seen[path] = source.path
    try:
        job.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"Cannot create the --output directory {job.out_dir}: {e}.") from e
    return paths


class Batch:
    """Runs the files' sessions, at most ``job.jobs`` at a time, from the caller's thread
    (``run``), so that Ctrl+C is handled as for one session (``stop``, ``give_up``)."""

    def __init__(
        self,
        config: Config,
        files: list[AudioFile],
        base: TranscriptOutput,
        job: TranscribeJob,
        *,
        stdout: TextIO = sys.stdout,
        stderr: TextIO = sys.stderr,
    ) -> None:
        self._config = config
        self._files = files
        self._base = base
        self._job = job
        self._paths = output_paths(files, job)
        self._ordered = OrderedOutput(len(files), stdout)
        self._stderr = stderr
        self._gate = BackoffGate()
        self._lock = threading.RLock()  # one event sink at a time across every session
        self._running: dict[int, _Running] = {}
        self._targets: dict[int, TextIO | None] = {}  # the open DIR/NAME.EXT of each file
        self._stopped = False
        self._failure: BaseException | None = None
        self.outputs: list[TranscriptOutput] = []
        self.interrupted = False
        self._batch: BatchProgress | None = None
        if job.jobs > 1:
            self._batch = BatchProgress(len(files), sum(f.duration_s for f in files), stderr)
            self._lock = self._batch.lock
        settings = config.transcription
        server_vad = settings.effective_turn is TurnMode.SERVER
        # Server VAD's offsets include its prefix padding before the speech and the silence
        # that ended it after (docs/protocol.md, "Turn detection"): a subtitle shows the speech.
        self._lead_s = settings.prefix_padding_ms / 1000 if server_vad else 0.0
        self._trail_s = settings.silence_duration_ms / 1000 if server_vad else 0.0

    # -- run_until_done's view: one long-running session ------------------------------------

    def run(self, chunks: Iterable[bytes], *, wait_ready: bool = False) -> None:
        """Transcribe every file; raises the first session's failure once the others ended."""
        del chunks, wait_ready  # each file has its own
        pending = list(range(len(self._files)))
        while True:
            with self._lock:
                finished = [i for i, r in self._running.items() if r.done.is_set()]
                for index in finished:
                    del self._running[index]
                can_start = not self._stopped and self._failure is None
                if not can_start:
                    pending.clear()
                while pending and len(self._running) < self._job.jobs and can_start:
                    self._start(pending.pop(0))
                if not self._running and not pending:
                    break
                waiting = [r.done for r in self._running.values()]
            for done in waiting:
                if done.wait(0.05):
                    break
        if self._batch is not None:
            self._batch.clear()
        if self._failure is not None:
            raise self._failure

    def stop(self) -> None:
        """End the input of every running file (what was sent is still transcribed); the files
        not started are not."""
        with self._lock:
            self._stopped = True
            self.interrupted = True
            running = list(self._running.values())
        for item in running:
            item.session.stop()

    def give_up(self, reason: str) -> None:
        """Stop waiting for the server in every running session."""
        with self._lock:
            running = list(self._running.values())
        for item in running:
            item.session.give_up(reason)

    # -- one file ----------------------------------------------------------------------------

    def _start(self, index: int) -> None:
        source = self._files[index]
        output = self._base.sibling() if self.outputs else self._base
        self.outputs.append(output)
        clock = FileClock(datetime.now().astimezone())
        config = self._config
        detector = local_turns(config)
        onsets = None if detector is None else Onsets(detector, clock)
        session = Session(
            config.endpoint,
            config.transcription,
            self._locked(output, clock),
            turns=onsets,
            clock=clock,
            gate=self._gate,
        )
        if index == 0:
            for warning in session.warnings:
                output.note(warning)
        for warning in source.warnings:
            output.note(warning)
        output.stop_input = self._over_budget
        output.write_text = self._writer(index, source, clock, onsets)
        thread = threading.Thread(
            target=self._work,
            args=(index, session, output, clock),
            name=f"tray-stt-file-{index}",
            daemon=True,
        )
        running = _Running(session, output, thread)
        self._running[index] = running
        thread.start()

    def _locked(self, output: TranscriptOutput, clock: FileClock) -> Callable[[Event], None]:
        def handle(event: Event) -> None:
            if isinstance(event, TranscriptCompleted | TranscriptFailed) and event.meter:
                sent = clock.sent_at(event.meter.ended_at)
                event = dataclasses.replace(
                    event, meter=dataclasses.replace(event.meter, ended_at=sent)
                )
            with self._lock:
                output(event)

        return handle

    def _over_budget(self) -> None:
        with self._lock:
            self._stopped = True
            running = list(self._running.values())
        for item in running:
            item.session.stop()

    def _writer(
        self, index: int, source: AudioFile, clock: FileClock, onsets: Onsets | None
    ) -> Callable[[TranscriptCompleted, str], None]:
        fmt = self._job.fmt
        name = source.path
        count = 0
        target = None
        if self._paths is not None:
            try:
                target = self._paths[index].open("w", encoding="utf-8")
            except OSError as e:
                raise ConfigError(f"Cannot write {self._paths[index]}: {e.strerror or e}.") from e
        self._targets[index] = target
        opening = header(fmt)

        def write(event: TranscriptCompleted, text: str) -> None:
            nonlocal count, opening
            count += 1
            start = clock.offset_s(event.started_at) + source.start_s
            end = clock.offset_s(event.ended_at or event.started_at) + source.start_s
            end = max(end - self._trail_s, start)
            lead = self._lead_s if onsets is None else onsets.lead_s(event.started_at)
            start = min(start + lead, end)
            usage = None if event.meter is None else event.meter.usage
            out = opening + render(fmt, Cue(count, start, end, text, usage), name)
            opening = ""
            if target is None:
                self._ordered.write(index, out)
            else:
                target.write(out)
                target.flush()

        return write

    def _work(
        self, index: int, session: Session, output: TranscriptOutput, clock: FileClock
    ) -> None:
        source = self._files[index]
        name = Path(source.path).name
        progress = self._progress(index, name, source.duration_s)
        with self._lock:
            output.status, output.source, output.missed = progress, name, []
        total_ms = int(source.duration_s * 1000)

        def problem(message: str) -> None:
            with self._lock:
                output.note(message)

        chunks = paced(
            _counted(clock.count(source.pcm_chunks(self._config.chunk_ms, problem)), progress),
            realtime=self._job.realtime,
        )
        try:
            session.run(chunks, wait_ready=not self._job.realtime)
            total_ms = max(total_ms, int(source.decoded_s * 1000))
            fed_ms = clock.fed // BYTES_PER_MS
            if fed_ms < total_ms:  # stopped early: the rest was never sent
                output.missed.append((fed_ms, total_ms))
        except BaseException as exc:
            output.missed.append((session.settled_ms, total_ms))
            with self._lock:
                if self._failure is None:
                    self._failure = exc
        finally:
            with self._lock:
                progress.clear()
                output.status = None
                output.report_missed(total_ms)
                output.source = None
                if self._batch is not None:
                    self._batch.finished(name)
            target = self._targets.pop(index, None)
            if target is not None:
                target.close()
            self._ordered.finish(index)
            self._running[index].done.set()

    def _progress(self, index: int, name: str, total_s: float) -> Progress | _FileView:
        if self._batch is not None:
            return _FileView(self._batch, index)
        with self._lock:
            return Progress(name, total_s, self._stderr)


def _counted(chunks: Iterable[bytes], progress: Progress | _FileView) -> Iterator[bytes]:
    sent = 0
    for chunk in chunks:
        yield chunk
        sent += len(chunk)
        progress.update(sent / BYTES_PER_MS / 1000)
