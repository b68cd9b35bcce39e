"""The app's state machine: one thread drains one queue of commands and session events.

Nothing else changes application state. The tray, the control socket and the hotkeys only post
commands; the listening worker posts what its session reports. Views subscribe to snapshots.
The controller never imports the tray, pystray or pynput.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Protocol

from .config import Config
from .errors import AudioInputError, LogWriteError, TraySttError
from .events import (
    Event,
    Notice,
    SessionReady,
    SessionState,
    SpeechStarted,
    SpeechStopped,
    StateChanged,
    TranscriptCompleted,
    TranscriptDelta,
    TranscriptFailed,
)
from .transcripts import DailyLog


class AppState(Enum):
    """What the tray icon shows."""

    IDLE = "idle"
    CONNECTING = "connecting"
    LISTENING = "listening"
    SPEECH = "speech"  # hearing speech
    ERROR = "error"


@dataclass(frozen=True)
class Snapshot:
    """Everything a view shows, at one moment."""

    state: AppState
    detail: str  # a sentence: why it is in this state
    listening: bool  # the user wants to listen
    last_transcript: str
    partial: str
    config: Config
    autostart: bool
    today_count: int

    @property
    def log_path(self) -> Path:
        """Today's log file."""
        return self.config.log_dir / f"{date.today():%Y-%m-%d}.txt"


# -- commands -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Toggle:
    """Start listening if idle, stop if listening."""


@dataclass(frozen=True)
class Start:
    """Start listening."""


@dataclass(frozen=True)
class Stop:
    """Stop listening (outstanding transcripts still arrive)."""


@dataclass(frozen=True)
class Quit:
    """Stop listening and end the controller loop."""


@dataclass(frozen=True)
class ChangeSettings:
    """Change configuration keys (from the menu); persisted, and a running session restarts."""

    changes: dict[str, object]


@dataclass(frozen=True)
class Reload:
    """Read the configuration again (the key was stored, the file was edited)."""


@dataclass(frozen=True)
class SetAutostart:
    """Turn start-at-login on or off."""

    enabled: bool


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


Command = (
    Toggle
    | Start
    | Stop
    | Quit
    | ChangeSettings
    | Reload
    | SetAutostart
    | _FromSession
    | _Ended
    | _Retry
)


class Listening(Protocol):
    """A running capture + session; ``stop`` ends the input, the worker then reports its end."""

    def stop(self) -> None:
        """End the input; outstanding transcripts are still delivered."""


ListenerFactory = Callable[
    [Config, Callable[[Event], None], Callable[[BaseException | None], None]], Listening
]


class Notifying(Protocol):
    """Desktop notifications (never raising)."""

    def notify(self, title: str, body: str, *, urgent: bool = False) -> None:
        """Show a notification."""


class AutostartSwitch(Protocol):
    """Start at login."""

    def enabled(self) -> bool:
        """Whether an entry is in place and enabled."""

    def set(self, enabled: bool) -> str:
        """Enable or disable; returns a sentence saying what was done."""


MIC_RETRY_S = 5.0


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
        log: DailyLog | None = None,
        deliver: Callable[[str], None] = lambda text: None,
    ) -> None:
        self._queue: queue.Queue[Command] = queue.Queue()
        self._listen = listen
        self._notifier = notifier
        self._save = save
        self._reload = reload
        self._autostart = autostart
        self._on_change = on_change
        self._log = log if log is not None else DailyLog(config.log_dir)
        self._deliver_text = deliver
        self._worker: Listening | None = None
        self._generation = 0
        self._snapshot = Snapshot(
            state=AppState.IDLE,
            detail="not listening",
            listening=False,
            last_transcript="",
            partial="",
            config=config,
            autostart=autostart.enabled() if autostart else False,
            today_count=_count_lines(self._log.path_for(date.today())),
        )
        self._lock = threading.Lock()

    @property
    def snapshot(self) -> Snapshot:
        """The current state (safe from any thread)."""
        with self._lock:
            return self._snapshot

    def post(self, command: Command) -> None:
        """Queue a command; returns at once (safe from any thread)."""
        self._queue.put(command)

    def run(self) -> None:
        """Handle commands until Quit; then stop listening and return."""
        self._check_config()
        while True:
            command = self._queue.get()
            if isinstance(command, Quit):
                self._stop_worker()
                return
            self._handle(command)

    # -- handling --------------------------------------------------------------------------

    def _handle(self, command: Command) -> None:
        if getattr(command, "generation", self._generation) != self._generation:
            return  # from a worker that was already replaced
        if isinstance(command, Toggle):
            self._handle(Stop() if self.snapshot.listening else Start())
        elif isinstance(command, Start):
            self._start()
        elif isinstance(command, Stop):
            self._stop_worker()
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

    def _start(self) -> None:
        self._stop_worker()
        self._generation += 1
        generation = self._generation
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
        if isinstance(event, TranscriptCompleted) and event.text.strip():
            try:
                self._log.append(event.text, event.started_at)
            except LogWriteError as exc:  # still deliver the text: it must reach the user
                self._notifier.notify("tray-stt", str(exc), urgent=True)
            self._deliver_text(event.text)
        self.post(_FromSession(event, generation))

    def _on_session_event(self, event: Event) -> None:
        if isinstance(event, SessionReady):
            self._update(state=AppState.LISTENING, detail="listening")
        elif isinstance(event, StateChanged) and event.state is SessionState.RECONNECTING:
            self._update(state=AppState.CONNECTING, detail="connection lost; reconnecting…")
        elif isinstance(event, SpeechStarted):
            self._update(state=AppState.SPEECH, detail="hearing speech")
        elif isinstance(event, SpeechStopped):
            self._update(state=AppState.LISTENING, detail="listening")
        elif isinstance(event, TranscriptDelta):
            self._update(partial=event.text)
        elif isinstance(event, TranscriptCompleted):
            count = self.snapshot.today_count + 1
            self._update(last_transcript=event.text, partial="", today_count=count)
        elif isinstance(event, TranscriptFailed):
            when = f"{event.started_at:%H:%M:%S}"
            self._notifier.notify("tray-stt", f"Could not transcribe the utterance at {when}.")
        elif isinstance(event, Notice) and "retrying" in event.message:
            self._update(state=AppState.CONNECTING, detail=event.message)

    def _on_ended(self, error: BaseException | None) -> None:
        self._worker = None
        if error is None:
            if self.snapshot.listening:  # the input ended by itself: say so, stay idle
                self._update(listening=False, state=AppState.IDLE, detail="not listening")
            return
        sentence = str(error) if isinstance(error, TraySttError) else f"internal error: {error!r}"
        self._update(state=AppState.ERROR, detail=sentence, partial="")
        self._notifier.notify("tray-stt", sentence, urgent=True)
        if isinstance(error, AudioInputError) and self.snapshot.listening:
            # A microphone may be plugged in: keep trying while the user wants to listen.
            generation = self._generation
            timer = threading.Timer(MIC_RETRY_S, self.post, args=(_Retry(generation),))
            timer.daemon = True
            timer.start()

    def _change_settings(self, changes: dict[str, object]) -> None:
        try:
            if changes:
                self._save(changes)
            config = self._reload()
        except TraySttError as exc:
            self._update(state=AppState.ERROR, detail=str(exc))
            self._notifier.notify("tray-stt", str(exc), urgent=True)
            return
        self._update(config=config)
        if self.snapshot.listening:
            self._start()  # the session must be configured anew
        else:
            self._check_config()

    def _check_config(self) -> None:
        """Say now, not at the first click, what cannot work (no API key, a bad URL)."""
        try:
            self.snapshot.config.endpoint.check()
        except TraySttError as exc:
            self._update(state=AppState.ERROR, detail=str(exc))
            self._notifier.notify("tray-stt", str(exc), urgent=True)
            return
        if self.snapshot.state is AppState.ERROR and not self.snapshot.listening:
            self._update(state=AppState.IDLE, detail="not listening")  # fixed, e.g. key set

    def _set_autostart(self, enabled: bool) -> None:
        if self._autostart is None:
            return
        try:
            self._autostart.set(enabled)
        except TraySttError as exc:
            self._notifier.notify("tray-stt", str(exc), urgent=True)
        self._update(autostart=self._autostart.enabled())

    def _update(self, **changes: object) -> None:
        with self._lock:
            self._snapshot = replace(self._snapshot, **changes)  # type: ignore[arg-type]
            snapshot = self._snapshot
        self._on_change(snapshot)


def _count_lines(path: Path) -> int:
    try:
        with path.open("rb") as file:
            return sum(1 for _ in file)
    except OSError:
        return 0
