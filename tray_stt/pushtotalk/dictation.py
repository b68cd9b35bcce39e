"""Push-to-talk dictation: a kept-open manual-commit session, fed only while the hotkey is held.

The microphone runs all the time into a short pre-roll ring, so the first word is not cut while the
key goes down (docs/architecture.md, "Push-to-talk audio"); the connection stays open, so no
handshake delays a turn. Every turn change (press, release, cancel) and every audio chunk pass
through one queue to the thread that feeds the session, so a commit or clear can never overtake
audio captured before it:

- press:   ``input_audio_buffer.clear`` (a sliver of an earlier tap never joins), then the
           pre-roll and live audio;
- release: ``tail_ms`` more audio so the last syllable is not cut, then
           ``input_audio_buffer.commit`` (``turn_detection`` is null: every model, live deltas);
- cancel:  ``input_audio_buffer.clear`` and the turn is forgotten.

Each completed transcript goes to the daily log first, always, then to the window that had focus
at key down, on a worker thread so a slow paste never holds up the session.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Protocol

from tray_stt.config import Config
from tray_stt.errors import LogWriteError
from tray_stt.metering.budget import BudgetWatch, Level
from tray_stt.pushtotalk.delivery import Window
from tray_stt.pushtotalk.talk import DictationEvent, DictationState, DictationStopped, TalkAction
from tray_stt.realtime.events import Event, Notice, TranscriptCompleted, TranscriptFailed
from tray_stt.realtime.models import TurnMode
from tray_stt.realtime.pcm import BYTES_PER_MS, MIN_COMMIT_BYTES
from tray_stt.realtime.session import Session, SessionOptions
from tray_stt.spool.store import Spool
from tray_stt.transcripts import DailyLog, log_first


class AudioSource(Protocol):
    """What dictation needs of a microphone (``tray_stt.audio.microphone.Microphone``)."""

    def start(self) -> None: ...
    def chunks(self) -> Iterator[bytes]: ...
    def stop(self) -> None: ...


class TextSink(Protocol):
    """What dictation needs to put text into a window (``desktop.inject.Deliverer``)."""

    def focused(self) -> Window | None: ...
    def deliver(self, text: str, target: Window | None) -> None: ...
    def close(self) -> None: ...


@dataclass
class _Turn:
    target: Window | None
    audio: int = 0  # bytes sent in this turn
    released_at: float | None = None


@dataclass(frozen=True)
class _Message:
    control: TalkAction
    target: Window | None = None


def dictation_session(
    config: Config, on_event: Callable[[Event], None], spool: Spool | None = None
) -> Session:
    """A session whose turns the client ends (``turn_detection: null``), kept open for good;
    the turns' audio also in ``spool`` until logged."""
    settings = replace(config.transcription, turn=TurnMode.MANUAL)
    options = SessionOptions(reconnect_attempts=None)
    return Session(config.endpoint, settings, on_event, options=options, spool=spool)


class Dictation:
    """Runs microphone, session and delivery until ``close``; driven by press/release/cancel."""

    def __init__(
        self,
        config: Config,
        microphone: AudioSource,
        deliverer: TextSink,
        *,
        tail_ms: int = 300,
        pre_roll_ms: int = 300,
        log: DailyLog | None = None,
        on_event: Callable[[DictationEvent], None] = lambda _event: None,
        on_state: Callable[[DictationState], None] = lambda _state: None,
        clock: Callable[[], float] = time.monotonic,
        spool: Spool | None = None,
        usage: BudgetWatch | None = None,
    ) -> None:
        """``log``: every transcript is written there before it is delivered; ``spool``: the
        turns' audio is kept there until then (closed when the session ends). ``usage``: the
        ledger each item is metered into; over a budget cap, new turns are refused."""
        self._spool = spool
        self._usage = usage
        self._session = dictation_session(config, self._on_session_event, spool)
        self._microphone = microphone
        self._deliverer = deliverer
        self._tail_s = tail_ms / 1000
        self._pre_roll_bytes = pre_roll_ms * BYTES_PER_MS
        self._log = log
        self._on_event = on_event
        self._on_state = on_state
        self._clock = clock
        self._inbox: queue.Queue[bytes | _Message | None] = queue.Queue()
        self._pre_roll: deque[bytes] = deque()
        self._turn: _Turn | None = None  # owned by the feeding thread
        self._pending: deque[_Turn] = deque()  # committed turns awaiting their transcript
        self._pending_lock = threading.Lock()
        self._deliveries: queue.Queue[tuple[str, Window | None] | None] = queue.Queue()
        self._failure: BaseException | None = None
        # Waited on instead of Thread.join: a Ctrl+C that interrupts join() makes Python 3.11/3.12
        # mark the thread stopped while it still runs (CPython gh-90882).
        self._ended = threading.Event()
        self._threads: list[threading.Thread] = []
        self.commit_times: list[float] = []  # clock() when each commit was queued (benchmarks)

    @property
    def warnings(self) -> list[str]:
        """Things to tell the user before starting (a deprecated model)."""
        return self._session.warnings

    def start(self) -> None:
        """Open the microphone (AudioInputError if it cannot) and start the worker threads."""
        self._microphone.start()
        for target, name in (
            (self._pump, "tray-stt-dictation-mic"),
            (self._feed, "tray-stt-dictation"),
            (self._deliver_loop, "tray-stt-delivery"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    # -- commands, from any thread -------------------------------------------------------------

    def press(self) -> None:
        """Start a turn (hotkey down); the focused window now is where its text will go."""
        if self._over_budget():
            return
        self._inbox.put(_Message(TalkAction.PRESS, self._deliverer.focused()))

    def _over_budget(self) -> bool:
        """Whether a budget cap refuses a new turn; the sentence naming it is reported."""
        if self._usage is None:
            return False
        budget = self._usage.state()
        if budget.level is not Level.OVER:
            return False
        self._on_event(Notice(budget.message))
        return True

    def release(self) -> None:
        """End the turn after the tail (hotkey up)."""
        self._inbox.put(_Message(TalkAction.RELEASE))

    def cancel(self) -> None:
        """Discard the turn: nothing is transcribed or delivered."""
        self._inbox.put(_Message(TalkAction.CANCEL))

    def toggle(self) -> None:
        """Start a turn, or end the running one (a desktop shortcut that fires on press only)."""
        if self._turn is None and self._over_budget():  # ending a running turn is always fine
            return
        self._inbox.put(_Message(TalkAction.TOGGLE, self._deliverer.focused()))

    def handle(self, action: TalkAction) -> None:
        """Carry out a hotkey action."""
        {
            TalkAction.PRESS: self.press,
            TalkAction.RELEASE: self.release,
            TalkAction.CANCEL: self.cancel,
        }[action]()

    def close(self, timeout: float = 10.0) -> None:
        """Stop recording; transcripts of committed turns are still logged and delivered."""
        self._microphone.stop()
        for thread in self._threads[:2]:
            thread.join(timeout)
        self._deliveries.put(None)
        for thread in self._threads[2:]:
            thread.join(timeout)
        self._deliverer.close()
        if self._spool is not None:
            self._spool.close()  # if the session never ran (closing twice is harmless)

    @property
    def running(self) -> bool:
        """Whether the session is still running (it ends on ``close`` or a fatal error)."""
        return len(self._threads) > 1 and not self._ended.is_set()

    def wait(self, timeout: float | None = None) -> BaseException | None:
        """Wait for the session to end (it ends only on ``close`` or a fatal error); its error."""
        if len(self._threads) > 1:
            self._ended.wait(timeout)
        return self._failure

    # -- the microphone thread -----------------------------------------------------------------

    def _pump(self) -> None:
        try:
            for chunk in self._microphone.chunks():
                self._inbox.put(chunk)
        finally:
            self._inbox.put(None)

    # -- the feeding thread: the only one that touches turns and sends ----------------------------

    def _feed(self) -> None:
        try:
            self._session.run(self._audio(), wait_ready=False)
        except BaseException as exc:  # reported through wait(); the CLI or tray shows it
            self._failure = exc
            self._microphone.stop()
            self._on_event(DictationStopped(exc))
        finally:
            if self._spool is not None:
                failure = self._failure
                note = None if failure is None else str(failure)
                self._spool.close(note, finished=failure is None)
            self._ended.set()

    def _audio(self) -> Iterator[bytes]:
        """The session's input: turn audio only; commits and clears happen in between."""
        while True:
            item = self._next()
            if item is None:
                if self._turn is not None:
                    self._end_turn(cancel=False)
                return
            if isinstance(item, bytes):
                if self._turn is None:
                    self._remember(item)
                    continue
                self._turn.audio += len(item)
                yield item
                if self._tail_done():
                    self._end_turn(cancel=False)
            else:
                yield from self._control(item)

    def _next(self) -> bytes | _Message | None:
        """The next chunk or command; at the end of a tail, a RELEASE that completes it."""
        turn = self._turn
        if turn is None or turn.released_at is None:
            return self._inbox.get()
        remaining = turn.released_at + self._tail_s - self._clock()
        try:
            return self._inbox.get(timeout=max(remaining, 0.0))
        except queue.Empty:
            self._end_turn(cancel=False)
            return self._next()

    def _control(self, message: _Message) -> Iterator[bytes]:
        control, turn = message.control, self._turn
        if control is TalkAction.TOGGLE:
            recording = turn is not None and turn.released_at is None
            control = TalkAction.RELEASE if recording else TalkAction.PRESS
        if control is TalkAction.PRESS:
            if turn is not None and turn.released_at is None:
                return  # already talking (a second press source, e.g. a shortcut and the key)
            if turn is not None:
                self._end_turn(cancel=False)  # pressed again during the tail: that turn ends now
            yield from self._begin_turn(message.target)
        elif control is TalkAction.RELEASE and turn is not None and turn.released_at is None:
            turn.released_at = self._clock()
            if self._tail_s <= 0:
                self._end_turn(cancel=False)
        elif control is TalkAction.CANCEL and turn is not None:
            self._end_turn(cancel=True)

    def _begin_turn(self, target: Window | None) -> Iterator[bytes]:
        self._session.clear()
        self._turn = _Turn(target)
        self._on_state(DictationState.RECORDING)
        pre_roll = b"".join(self._pre_roll)
        self._pre_roll.clear()
        if pre_roll:
            self._turn.audio += len(pre_roll)
            yield pre_roll

    def _tail_done(self) -> bool:
        turn = self._turn
        return (
            turn is not None
            and turn.released_at is not None
            and self._clock() >= turn.released_at + self._tail_s
        )

    def _end_turn(self, *, cancel: bool) -> None:
        turn, self._turn = self._turn, None
        if turn is None:
            return
        committed = False
        if not cancel and turn.audio >= MIN_COMMIT_BYTES:
            with self._pending_lock:  # before the transcript can arrive on the receiver thread
                committed = self._session.commit()
                if committed:
                    self._pending.append(turn)
                    self.commit_times.append(self._clock())
        if not committed:
            self._session.clear()  # cancelled, or too short for the server to transcribe
        self._on_state(DictationState.TRANSCRIBING if committed else DictationState.IDLE)

    def _remember(self, chunk: bytes) -> None:
        """Keep the last ``pre_roll_ms`` of audio heard while no turn runs."""
        self._pre_roll.append(chunk)
        kept = sum(len(c) for c in self._pre_roll)
        while self._pre_roll and kept - len(self._pre_roll[0]) >= self._pre_roll_bytes:
            kept -= len(self._pre_roll.popleft())

    # -- the session's receiver thread ---------------------------------------------------------

    def _on_session_event(self, event: Event) -> None:
        if isinstance(event, TranscriptCompleted | TranscriptFailed):
            with self._pending_lock:
                turn = self._pending.popleft() if self._pending else None
                idle = not self._pending
            words = self._logged(event) if isinstance(event, TranscriptCompleted) else False
            if self._usage is not None:  # after the log, before delivery: a cap is known at once
                budget = self._usage.record(event, lambda text: self._on_event(Notice(text)))
                if budget is not None:
                    self._on_event(Notice(budget.message))
            if words and isinstance(event, TranscriptCompleted):
                self._deliveries.put((event.text, turn.target if turn else None))
            if idle and self._turn is None:
                self._on_state(DictationState.IDLE)
        self._on_event(event)

    def _logged(self, event: TranscriptCompleted) -> bool:
        """Log first; whether the transcript has words to deliver."""
        return log_first(
            self._log, event.text, event.started_at, self._log_refused, self._log_notice
        )

    def _log_refused(self, error: LogWriteError) -> None:
        self._on_event(Notice(str(error)))  # still delivered: the text must not be lost twice

    def _log_notice(self, message: str) -> None:
        self._on_event(Notice(message))

    # -- the delivery thread -------------------------------------------------------------------

    def _deliver_loop(self) -> None:
        while (item := self._deliveries.get()) is not None:
            text, target = item
            self._deliverer.deliver(text, target)
