"""The app's state machine: one thread drains one queue of commands and session events.

Nothing else changes application state. The tray, the control socket and the hotkeys only post
commands; the listening worker and the push-to-talk dictation post what their sessions report.
Views subscribe to snapshots. The controller never imports the tray, pystray or pynput.

Push-to-talk is independent of listening: the hotkey (or ``tray-stt press``) works whether or not
the tray listens. Its microphone and session are opened at the first press and closed again
``KEEP_WARM_S`` after the last turn, because an always-open dictation would keep the microphone
in use all day (the desktop's recording indicator lit, 50 wake-ups a second, the device held
from other programs) and a realtime connection open for nothing; while warm, the next turns get
the pre-roll and no handshake. The first turn of a burst loses only the device's opening time:
the session records while it connects and sends the audio once ready.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path

from tray_stt import APP_NAME
from tray_stt.app.health import (
    Announce,
    Decision,
    Health,
    Problem,
    Trouble,
    Withdraw,
    trouble_for_error,
    trouble_for_failure,
    trouble_for_reconnect,
)
from tray_stt.app.ports import (
    AutostartSwitch,
    Dictating,
    DictationFactory,
    ListenerFactory,
    Listening,
    Notifying,
    Retrying,
)
from tray_stt.app.retry import RetryReport, done_sentence
from tray_stt.app.state import (
    RECENT_COUNT,
    AppState,
    ChangeSettings,
    Command,
    Quit,
    Reload,
    RetryPending,
    SetAutostart,
    Snapshot,
    Start,
    Stop,
    Talk,
    Toggle,
)
from tray_stt.config import Config
from tray_stt.errors import AudioInputError, LogWriteError, TraySttError
from tray_stt.metering.budget import BudgetWatch, Level
from tray_stt.pushtotalk.talk import DictationEvent, DictationState, DictationStopped, TalkAction
from tray_stt.realtime.events import (
    Event,
    Notice,
    Reconnecting,
    SessionReady,
    SessionState,
    SpeechStarted,
    SpeechStopped,
    StateChanged,
    TranscriptCompleted,
    TranscriptDelta,
    TranscriptFailed,
)
from tray_stt.realtime.models import Dialect, check_settings
from tray_stt.transcripts import LogLine, daily_log, flatten, log_file, log_first, recent_lines


@dataclass(frozen=True)
class _FromSession:
    event: Event
    generation: int


@dataclass(frozen=True)
class _Ended:
    error: BaseException | None
    generation: int


@dataclass(frozen=True)
class _Retry:
    generation: int


@dataclass(frozen=True)
class _FromDictation:
    event: DictationEvent


@dataclass(frozen=True)
class _TalkState:
    state: DictationState
    talk: int  # which opened dictation reported it


@dataclass(frozen=True)
class _CoolDown:
    turn: int  # the turn count when the timer was set: any later turn keeps the dictation warm


@dataclass(frozen=True)
class _Microphone:
    capturing: bool  # audio arrives; False: lost, and the microphone keeps trying
    sentence: str
    generation: int


@dataclass(frozen=True)
class _RetryDone:
    report: RetryReport
    asked: bool  # from the menu: then a failure is told too


@dataclass(frozen=True)
class _DateCheck:
    """Time to see whether a new day began: today's count and spend start again."""


@dataclass(frozen=True)
class _OverBudget:
    error: BaseException  # errors.BudgetExceeded, with the sentence naming the cap
    generation: int


_Item = (
    Command
    | _FromSession
    | _Ended
    | _Retry
    | _FromDictation
    | _TalkState
    | _CoolDown
    | _RetryDone
    | _OverBudget
    | _Microphone
    | _DateCheck
)


MIC_RETRY_S = 5.0
HEALTH_TOPIC = "health"  # the notification of the current problem, replaced and withdrawn
LISTENING_PROBLEMS = (Problem.NETWORK_DOWN, Problem.ITEMS_FAILING, Problem.MICROPHONE_LOST)
KEEP_WARM_S = 60.0  # a dictation stays open this long after its last turn
RETRY_STOP_S = 15.0  # at Quit, a retry under way may finish logging what it sent
_DATE_CHECK_MAX_S = 3600.0  # a late midnight timer (suspend) is caught within the hour


class Controller:
    """Owns the application state; every change happens on the thread running ``run``."""

    def __init__(
        self,
        config: Config,
        *,
        listen: ListenerFactory,
        notifier: Notifying,
        save: Callable[[dict[str, object]], None],
        reload: Callable[[], Config],
        autostart: AutostartSwitch | None = None,
        on_change: Callable[[Snapshot], None] = lambda snapshot: None,
        deliver: Callable[[str], None] = lambda text: None,
        dictate: DictationFactory | None = None,
        keep_warm_s: float = KEEP_WARM_S,
        clock: Callable[[], float] = time.monotonic,
        retrier: Retrying | None = None,
        usage: BudgetWatch | None = None,
        now: Callable[[], datetime] = datetime.now,
    ) -> None:
        """``dictate`` opens a push-to-talk dictation; it writes the daily log itself.
        ``retrier`` transcribes pending recordings at start and when a connection is ready.
        ``usage``: the ledger listening is metered into, and its budget caps.
        ``now``: the local time of day, which says when today's count starts again."""
        self._now = now
        self._counted_on = now().date()
        self._retrier = retrier
        self._usage = usage
        self._queue: queue.Queue[_Item] = queue.Queue()
        self._health = Health()
        self._clock = clock
        self._listen = listen
        self._notifier = notifier
        self._save = save
        self._reload = reload
        self._autostart = autostart
        self._on_change = on_change
        # Read by the session's thread, replaced when the settings change: the lock keeps a
        # transcript from being written to a log that is being closed.
        self._log_lock = threading.Lock()
        self._log = daily_log(config)
        self._deliver_text = deliver
        self._worker: Listening | None = None
        self._generation = 0
        self._dictate = dictate
        self._keep_warm_s = keep_warm_s
        self._talk: Dictating | None = None
        self._talks = 0  # dictations opened; tells a replaced one's state reports apart
        self._turns = 0  # presses; a cool-down timer set before the latest one does nothing
        self._closing: list[threading.Thread] = []
        self._snapshot = Snapshot(
            state=AppState.IDLE,
            detail="not listening",
            listening=False,
            last_transcript="",
            partial="",
            config=config,
            autostart=autostart.enabled() if autostart else False,
            today_count=_count_on(config, self._counted_on),
            recent=_recent(config),
            usage_today=usage.today_text() if usage is not None else "",
        )
        self._lock = threading.Lock()

    @property
    def snapshot(self) -> Snapshot:
        """The current state (safe from any thread)."""
        with self._lock:
            return self._snapshot

    def post(self, command: _Item) -> None:
        """Queue a command; returns at once (safe from any thread)."""
        self._queue.put(command)

    def run(self) -> None:
        """Handle commands until Quit; then stop listening and return."""
        self._check_config()
        self._retry_pending(asked=False)
        self._check_date_later()
        while True:
            command = self._queue.get()
            if isinstance(command, Quit):
                self._stop_worker()
                self._close_dictation(wait=True)
                if self._retrier is not None:
                    self._retrier.stop(RETRY_STOP_S)
                return
            self._handle(command)

    # -- handling --------------------------------------------------------------------------

    def _handle(self, command: _Item) -> None:
        if getattr(command, "generation", self._generation) != self._generation:
            return  # from a worker that was already replaced
        if isinstance(command, Toggle):
            self._handle(Stop() if self.snapshot.listening else Start())
        elif isinstance(command, Start):
            self._start()
        elif isinstance(command, Stop):
            self._stop_worker()
            self._healed(*LISTENING_PROBLEMS)  # nothing is wrong with what no longer runs
            self._update(listening=False, state=AppState.IDLE, detail="not listening", partial="")
            self._check_config()  # idle, but still unable to start: keep showing why
        elif isinstance(command, ChangeSettings | Reload):
            self._change_settings(command.changes if isinstance(command, ChangeSettings) else {})
        elif isinstance(command, SetAutostart):
            self._set_autostart(command.enabled)
        elif isinstance(command, _FromSession):
            self._on_session_event(command.event)
        elif isinstance(command, _Ended):
            self._on_ended(command.error)
        elif isinstance(command, _Retry) and self.snapshot.listening:
            self._start()
        elif isinstance(command, Talk):
            self._on_talk(command.action)
        elif isinstance(command, _FromDictation):
            self._on_dictation_event(command.event)
        elif isinstance(command, _TalkState) and command.talk == self._talks:
            self._on_talk_state(command.state)
        elif isinstance(command, _CoolDown) and self._cooled(command.turn):
            self._close_dictation(wait=False)
        elif isinstance(command, RetryPending):
            self._retry_pending(asked=True)
        elif isinstance(command, _RetryDone):
            self._on_retry_done(command.report, command.asked)
        elif isinstance(command, _Microphone):
            self._on_microphone(command)
        elif isinstance(command, _DateCheck):
            self._new_day()
            self._check_date_later()
        elif isinstance(command, _OverBudget):
            self._stop_worker()  # what was sent is still transcribed, logged and delivered
            self._update(listening=False)
            self._on_ended(command.error)

    def _start(self) -> None:
        self._stop_worker()  # a new generation: what the old worker still reports is ignored
        generation = self._generation
        if self._usage is not None and (budget := self._usage.state()).level is Level.OVER:
            self._update(listening=False)
            self._on_ended(budget.error())
            return
        self._update(listening=True, state=AppState.CONNECTING, detail="connecting…", partial="")
        try:
            self._worker = self._listen(
                self.snapshot.config,
                lambda event: self._from_session(event, generation),
                lambda error: self.post(_Ended(error, generation)),
            )
        except TraySttError as exc:
            self._on_ended(exc)

    def _stop_worker(self) -> None:
        worker, self._worker = self._worker, None
        self._generation += 1  # whatever the old worker still reports is ignored
        if worker is not None:
            worker.stop()

    def _from_session(self, event: Event, generation: int) -> None:
        """On the session's thread: the transcript reaches the disk before anything else."""
        words = False
        if isinstance(event, TranscriptCompleted):
            with self._log_lock:  # the settings may swap the log (None: turned off) meanwhile
                words = log_first(
                    self._log, event.text, event.started_at, self._log_refused, self._log_notice
                )
        if isinstance(event, TranscriptCompleted | TranscriptFailed):
            self._meter(event, generation)  # after the log, before delivery
        if isinstance(event, TranscriptCompleted) and words:
            self._deliver_text(event.text)
        self.post(_FromSession(event, generation))

    def _meter(self, event: TranscriptCompleted | TranscriptFailed, generation: int) -> None:
        """On the session's thread, after the log: into the ledger; a cap reached stops
        listening (docs/architecture.md, Errors: one notification)."""
        if self._usage is None:
            return
        report = self._log_refused_text
        budget = self._usage.record(event, report)
        if budget is None:
            return
        if budget.level is Level.OVER:
            self.post(_OverBudget(budget.error(), generation))
        else:
            self._notifier.notify(APP_NAME, budget.message)

    def _log_refused_text(self, message: str) -> None:
        self._notifier.notify(APP_NAME, message)

    def _log_refused(self, error: LogWriteError) -> None:
        self._notifier.notify(APP_NAME, str(error), urgent=True)

    def _log_notice(self, message: str) -> None:
        self._notifier.notify(APP_NAME, message)

    def _on_session_event(self, event: Event) -> None:
        if isinstance(event, SessionReady):
            self._healed(Problem.NETWORK_DOWN)
            self._update(state=AppState.LISTENING, detail="listening")
            self._retry_pending(asked=False)  # the network works: what is pending can go
        elif isinstance(event, StateChanged) and event.state is SessionState.RECONNECTING:
            self._update(state=AppState.CONNECTING, detail="connection lost; reconnecting…")
        elif isinstance(event, SpeechStarted):
            self._update(state=AppState.SPEECH, detail="hearing speech")
        elif isinstance(event, SpeechStopped):
            self._update(state=AppState.LISTENING, detail="listening")
        elif isinstance(event, TranscriptDelta):
            self._update(partial=event.text)
        elif isinstance(event, TranscriptCompleted):
            self._count(event)
        elif isinstance(event, TranscriptFailed):
            self._trouble(trouble_for_failure(event, "utterance"))
            self._one_more_pending()
        elif isinstance(event, Reconnecting):
            self._update(state=AppState.CONNECTING, detail=event.message)
            self._trouble(trouble_for_reconnect(event))

    def _on_ended(self, error: BaseException | None) -> None:
        self._worker = None
        if error is None:
            if self.snapshot.listening:  # the input ended by itself: say so, stay idle
                self._update(listening=False, state=AppState.IDLE, detail="not listening")
            return
        sentence = str(error) if isinstance(error, TraySttError) else f"internal error: {error!r}"
        self._update(state=AppState.ERROR, detail=sentence, partial="")
        trouble = trouble_for_error(error)
        if trouble is None:
            self._notifier.notify(APP_NAME, sentence, urgent=True)
        else:
            self._trouble(trouble)
        if isinstance(error, AudioInputError) and self.snapshot.listening:
            # A microphone may be plugged in: keep trying while the user wants to listen.
            self._post_later(MIC_RETRY_S, _Retry(self._generation))

    def _change_settings(self, changes: dict[str, object]) -> None:
        try:
            if changes:
                self._save(changes)
            config = self._reload()
        except TraySttError as exc:
            self._update(state=AppState.ERROR, detail=str(exc))
            self._notifier.notify(APP_NAME, str(exc), urgent=True)
            return
        old = self.snapshot.config
        if config != old:
            self._close_dictation(wait=False)  # the next press opens one with the new settings
        if (config.log, config.log_dir) != (old.log, old.log_dir):
            self._switch_log(config)
        count, recent = self.snapshot.today_count, self.snapshot.recent
        if config.log_dir != old.log_dir:
            count, recent = self._logged_transcripts(config)  # what the new folder holds
        self._update(config=config, today_count=count, recent=recent)
        if config.transcription.model != old.transcription.model:
            self._warn_about_model(config)
        if self.snapshot.listening:
            self._start()  # the session must be configured anew
        else:
            self._check_config()

    def _warn_about_model(self, config: Config) -> None:
        """A model chosen in the menu that is about to be shut down: say so where the user
        looks (the console prints the same warning at start)."""
        dialect = Dialect.GA if config.dialect is Dialect.AUTO else config.dialect
        try:
            warnings = check_settings(config.transcription, dialect, date.today())
        except TraySttError:
            return  # refused outright: starting says why
        for warning in warnings:
            self._notifier.notify(APP_NAME, warning)

    def _switch_log(self, config: Config) -> None:
        """Log where the settings say now (or not at all); a stopped worker's last transcripts
        still due go there too."""
        log = daily_log(config)
        with self._log_lock:
            old, self._log = self._log, log
        if old is not None:
            old.close()

    def _check_config(self) -> None:
        """Say now, not at the first click, what cannot work (no API key, a bad URL)."""
        try:
            self.snapshot.config.endpoint.check()
        except TraySttError as exc:
            self._update(state=AppState.ERROR, detail=str(exc))
            self._notifier.notify(APP_NAME, str(exc), urgent=True)
            return
        if self.snapshot.state is AppState.ERROR and not self.snapshot.listening:
            self._update(state=AppState.IDLE, detail="not listening")  # fixed, e.g. key set

    def _set_autostart(self, enabled: bool) -> None:
        if self._autostart is None:
            return
        try:
            self._autostart.set(enabled)
        except TraySttError as exc:
            self._notifier.notify(APP_NAME, str(exc), urgent=True)
        self._update(autostart=self._autostart.enabled())

    # -- push-to-talk ------------------------------------------------------------------------

    def _on_talk(self, action: TalkAction) -> None:
        if action in (TalkAction.PRESS, TalkAction.TOGGLE) and not self._open_dictation():
            return
        talk = self._talk
        if talk is None:
            return  # a release or cancel with no dictation open: nothing is being said
        if action in (TalkAction.PRESS, TalkAction.TOGGLE):
            self._turns += 1  # keeps it warm: an earlier cool-down timer does nothing now
        turns = talk.dictation
        {
            TalkAction.PRESS: turns.press,
            TalkAction.RELEASE: turns.release,
            TalkAction.TOGGLE: turns.toggle,
            TalkAction.CANCEL: turns.cancel,
        }[action]()

    def _open_dictation(self) -> bool:
        """Make sure a dictation is open; on failure say why (never raise)."""
        if self._talk is not None and self._talk.dictation.running:
            return True
        if self._dictate is None:
            return False
        # One whose session failed (its Notice said why); closing also starts a new count.
        self._close_dictation(wait=False)
        talks = self._talks
        talk: Dictating | None = None
        try:
            talk = self._dictate(
                self.snapshot.config,
                lambda event: self.post(_FromDictation(event)),
                lambda state: self.post(_TalkState(state, talks)),
            )
            talk.start()
        except Exception as exc:  # no API key, no microphone, a bad hotkey: the tray stays up
            if talk is not None:
                with contextlib.suppress(Exception):
                    talk.close()  # what it opened before failing (an X connection)
            sentence = str(exc) if isinstance(exc, TraySttError) else f"internal error: {exc!r}"
            self._notifier.notify(APP_NAME, f"Push-to-talk: {sentence}", urgent=True)
            if not self.snapshot.listening:  # a running listening session keeps its icon
                self._update(state=AppState.ERROR, detail=sentence, dictation=DictationState.IDLE)
            return False
        self._talk = talk
        if self.snapshot.state is AppState.ERROR and not self.snapshot.listening:
            self._check_config()  # it works now: clear the earlier error
        return True

    def _close_dictation(self, *, wait: bool) -> None:
        """Close the open dictation: on a thread of its own unless ``wait`` (Quit), since
        closing waits for transcripts still due and the controller must keep answering."""
        talk, self._talk = self._talk, None
        self._talks += 1  # what the closed one still reports of its state is ignored
        if talk is not None:
            closer = threading.Thread(target=talk.close, name="tray-stt-dictation-close")
            closer.start()
            self._closing.append(closer)
            if self.snapshot.dictation is not DictationState.IDLE:
                self._update(dictation=DictationState.IDLE)
        if wait:
            for closer in self._closing:
                closer.join(timeout=30)
        self._closing = [closer for closer in self._closing if closer.is_alive()]

    def _cooled(self, turn: int) -> bool:
        """No press since the timer was set, and no turn recording now."""
        return turn == self._turns and self.snapshot.dictation is not DictationState.RECORDING

    def _on_talk_state(self, state: DictationState) -> None:
        if self._worker is not None:
            # What is dictated goes into a window; listening must not log it a second time. Muted
            # until the turn is over: after the key is let go the dictation still records its tail.
            self._worker.mute(state is not DictationState.IDLE)
        if state is DictationState.RECORDING:
            self._update(dictation=state, partial="")
            return
        was_recording = self.snapshot.dictation is DictationState.RECORDING
        self._update(dictation=state)
        if was_recording:  # the turn is over (once: TRANSCRIBING and then IDLE both follow it)
            self._post_later(self._keep_warm_s, _CoolDown(self._turns))

    def _on_dictation_event(self, event: DictationEvent) -> None:
        """What the dictation reports; it wrote the transcript to the log itself already."""
        if isinstance(event, TranscriptDelta):
            self._update(partial=event.text)
        elif isinstance(event, TranscriptCompleted):
            self._count(event)
        elif isinstance(event, TranscriptFailed):
            self._trouble(trouble_for_failure(event, "dictation"))
            self._one_more_pending()
        elif isinstance(event, DictationStopped):
            # Its session ended (key rejected, no credit): say so; the next press opens anew.
            self._update(dictation=DictationState.IDLE, partial="")
            if not self.snapshot.listening:
                self._update(state=AppState.ERROR, detail=event.message)
            trouble = trouble_for_error(event.error)
            if trouble is None:
                self._notifier.notify(APP_NAME, event.message, urgent=True)
            else:
                self._trouble(Trouble(trouble.problem, event.message))
        elif isinstance(event, Notice):
            # Delivery trouble, "press Ctrl+V"; a reconnect of a warm session is no Notice.
            self._notifier.notify(APP_NAME, event.message)

    def microphone_changed(self, capturing: bool, sentence: str = "") -> None:
        """The listening microphone lost its device or captures again (any thread)."""
        self.post(_Microphone(capturing, sentence, self._generation))

    def _on_microphone(self, change: _Microphone) -> None:
        """ "Listening" on the icon means audio arrives: a lost device is an error state until
        the microphone captures again (it keeps trying by itself)."""
        if not self.snapshot.listening:
            return
        if change.capturing:
            self._healed(Problem.MICROPHONE_LOST)
            if self.snapshot.state is AppState.ERROR:
                self._update(state=AppState.LISTENING, detail="listening")
            return
        self._update(state=AppState.ERROR, detail=change.sentence, partial="")
        self._trouble(Trouble(Problem.MICROPHONE_LOST, change.sentence))

    def _trouble(self, trouble: Trouble) -> None:
        """Something is wrong: the user hears of it as Health decides (once per burst)."""
        self._tell(self._health.report(trouble, self._clock()))

    def _healed(self, *problems: Problem) -> None:
        """These problems are over: withdraw their notification."""
        self._tell(self._health.clear(*problems))

    def _tell(self, decision: Decision | None) -> None:
        if isinstance(decision, Announce):
            trouble = decision.trouble
            urgent = trouble.problem.urgent
            self._notifier.notify(APP_NAME, trouble.sentence, urgent=urgent, topic=HEALTH_TOPIC)
        elif isinstance(decision, Withdraw):
            self._notifier.withdraw(HEALTH_TOPIC)

    def _count(self, event: TranscriptCompleted) -> None:
        """Show a transcript and count it; an empty one (nothing was said) is neither."""
        self._new_day()  # a transcript just after midnight counts towards the new day
        if event.text.strip():
            failing = self._health.current is not None and self._health.current.problem in (
                Problem.ITEMS_FAILING,
                Problem.NO_CREDIT,
            )
            self._healed(Problem.ITEMS_FAILING, Problem.NO_CREDIT)  # the server transcribes
            if failing:
                self._retry_pending(asked=False)  # e.g. credit is back: the kept audio can go
            if self._log is None:  # not logged: a tally of what was shown
                # As a log would have it (one line, local time), so Recent reads like `history`.
                line = LogLine(_local(event.started_at), flatten(event.text))
                count = self.snapshot.today_count + 1
                recent = (*self.snapshot.recent, line)[-RECENT_COUNT:]
            else:
                count, recent = self._logged_transcripts(self.snapshot.config)
            self._update(last_transcript=event.text, partial="", today_count=count, recent=recent)
        if self._usage is not None:  # metered before it was posted here
            self._update(usage_today=self._usage.today_text())

    # -- pending recordings (the audio spool) ------------------------------------------------

    def _retry_pending(self, *, asked: bool) -> None:
        """Transcribe the spool's pending recordings on the retrier's thread."""
        if self._retrier is None or (not asked and self.snapshot.state is AppState.ERROR):
            return
        self._retrier.start(
            self.snapshot.config,
            self._from_retry,
            lambda report: self.post(_RetryDone(report, asked)),
        )

    def _from_retry(self, event: Event) -> None:
        """On the retry's thread: its transcripts go to the log of the day they were spoken."""
        if isinstance(event, TranscriptCompleted):
            with self._log_lock:
                log_first(self._log, event.text, event.started_at, self._log_refused)

    def _on_retry_done(self, report: RetryReport, asked: bool) -> None:
        self._update(pending=report.left)
        if report.done:  # retried transcripts are shown and counted as if they came live
            count, recent = self._logged_transcripts(self.snapshot.config)
            last = recent[-1].text if recent else self.snapshot.last_transcript
            self._update(today_count=count, recent=recent, last_transcript=last)
        sentence = done_sentence(report)
        if sentence is not None:
            self._notifier.notify(APP_NAME, sentence)
        elif asked and report.error is not None:
            self._notifier.notify(APP_NAME, f"Pending recordings: {report.error}", urgent=True)

    def _logged_transcripts(self, config: Config) -> tuple[int, tuple[LogLine, ...]]:
        """Today's count and the Recent menu as the logs have them.

        Not a tally of events: a retry logs on its own thread, into the days its recordings were
        spoken, and a live transcript is logged before its event reaches this thread. A tally
        counted a live transcript twice when a retry's reload had already read it.
        """
        with self._log_lock:  # not while listening's transcript is half written
            return _count_on(config, self._counted_on), _recent(config)

    def _new_day(self) -> None:
        """Past midnight: today's count starts again (from what today's log already holds), and
        so does today's spend."""
        today = self._now().date()
        if today == self._counted_on:
            return
        self._counted_on = today
        count = self._logged_transcripts(self.snapshot.config)[0] if self._log is not None else 0
        spend = self._usage.today_text() if self._usage is not None else ""
        self._update(today_count=count, usage_today=spend)

    def _check_date_later(self) -> None:
        """Check the date again just after midnight, and at least hourly: a timer counts time
        awake, so after a night in suspend it fires late."""
        now = self._now()
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time())
        delay = min((midnight - now).total_seconds() + 1.0, _DATE_CHECK_MAX_S)
        self._post_later(delay, _DateCheck())

    def _one_more_pending(self) -> None:
        if self._retrier is not None and self.snapshot.config.spool_max_mb:
            self._update(pending=self.snapshot.pending + 1)

    def _post_later(self, delay: float, command: _Item) -> None:
        """Post ``command`` after ``delay`` seconds, from a timer that never holds up exit."""
        timer = threading.Timer(delay, self.post, args=(command,))
        timer.daemon = True
        timer.start()

    def _update(self, **changes: object) -> None:
        with self._lock:
            self._snapshot = replace(self._snapshot, **changes)  # type: ignore[arg-type]
            snapshot = self._snapshot
        self._on_change(snapshot)


def _recent(config: Config) -> tuple[LogLine, ...]:
    """The last transcripts the logs hold, for the Recent menu at start."""
    return tuple(recent_lines(config.log_dir, RECENT_COUNT))


def _local(when: datetime) -> datetime:
    """A time as the log writes it: local, naive."""
    return when.astimezone().replace(tzinfo=None) if when.utcoffset() is not None else when


def _count_on(config: Config, day: date) -> int:
    """A day's transcripts: the lines of its log file."""
    return _count_lines(log_file(config.log_dir, day))


def _count_lines(path: Path) -> int:
    try:
        with path.open("rb") as file:
            return sum(1 for _ in file)
    except OSError:
        return 0
