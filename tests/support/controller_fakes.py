"""Stand-ins for what the Controller drives: listening, push-to-talk, notifications, autostart.

The controller and tray tests play the dictation's side themselves: they call ``on_state`` and
``on_event`` as the real session would (a transcript is logged first, as the real dictation
does), and read back which turn controls were used.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from tray_stt.config import Config
from tray_stt.pushtotalk.talk import DictationState
from tray_stt.realtime.events import Event, TranscriptCompleted
from tray_stt.transcripts import daily_log, log_first


class FakeTurns:
    """A dictation's turn controls, recording each call and reporting the state it leads to."""

    def __init__(self, on_state: Callable[[DictationState], None]) -> None:
        self.on_state = on_state
        self.calls: list[str] = []
        self.running = True

    def press(self) -> None:
        self.calls.append("press")
        self.on_state(DictationState.RECORDING)

    def release(self) -> None:
        self.calls.append("release")
        self.on_state(DictationState.TRANSCRIBING)

    def toggle(self) -> None:
        self.calls.append("toggle")

    def cancel(self) -> None:
        self.calls.append("cancel")
        self.on_state(DictationState.IDLE)


class FakeTalk:
    """Stands in for PushToTalk: nothing is opened; ``closed`` is set when the owner closes it."""

    def __init__(
        self,
        config: Config,
        on_event: Callable[[Event], None],
        on_state: Callable[[DictationState], None],
    ) -> None:
        self.config = config
        self._on_event = on_event
        self.dictation = FakeTurns(on_state)
        self.closed = threading.Event()

    def on_event(self, event: Event) -> None:
        """Report ``event`` as the real dictation does: a transcript is logged first."""
        if isinstance(event, TranscriptCompleted):
            log = daily_log(self.config)
            log_first(log, event.text, event.started_at, report=print)
            if log is not None:
                log.close()
        self._on_event(event)

    def start(self) -> None:
        pass

    def close(self) -> None:
        self.closed.set()


class Dictations:
    """A dictation factory that records what it opened, or fails to open like a missing mic."""

    def __init__(self) -> None:
        self.opened: list[FakeTalk] = []
        self.fail_with: Exception | None = None

    def __call__(
        self,
        config: Config,
        on_event: Callable[[Event], None],
        on_state: Callable[[DictationState], None],
    ) -> FakeTalk:
        if self.fail_with is not None:
            raise self.fail_with
        self.opened.append(FakeTalk(config, on_event, on_state))
        return self.opened[-1]


class FakeAutostart:
    """Start at login as a switch in memory."""

    def __init__(self) -> None:
        self.on = False

    def enabled(self) -> bool:
        return self.on

    def set(self, enabled: bool) -> str:
        self.on = enabled
        return "done"


class FakeListening:
    """Stands in for MicrophoneListener: the test plays the session's part."""

    def __init__(self, on_event: Callable[[Event], None], on_end: Callable[[Any], None]) -> None:
        self.on_event = on_event
        self.on_end = on_end
        self.stopped = threading.Event()
        self.muted: list[bool] = []

    def stop(self) -> None:
        self.stopped.set()
        self.on_end(None)

    def mute(self, muted: bool) -> None:
        self.muted.append(muted)


class FakeNotifier:
    """Records what would have been shown."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, str, bool]] = []
        self.topics: dict[str, str] = {}  # topic -> body of its notification still on screen

    def notify(
        self, title: str, body: str, *, urgent: bool = False, topic: str | None = None
    ) -> None:
        self.shown.append((title, body, urgent))
        if topic is not None:
            self.topics[topic] = body

    def withdraw(self, topic: str) -> None:
        self.topics.pop(topic, None)

    def set_hook(self, hook: object) -> None:
        pass
