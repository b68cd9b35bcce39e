"""What the controller needs of the world outside it: listening, dictation, notifications,
start at login, retries. Each is a protocol the real adapter and the tests' fakes both meet."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from tray_stt.config import Config
from tray_stt.pushtotalk.talk import DictationEvent, DictationState
from tray_stt.realtime.events import Event

if TYPE_CHECKING:
    from tray_stt.app.retry import RetryReport


class Listening(Protocol):
    """A running capture + session; ``stop`` ends the input, the worker then reports its end."""

    def stop(self) -> None:
        """End the input; outstanding transcripts are still delivered."""

    def mute(self, muted: bool) -> None:
        """Send silence instead of the microphone while ``muted`` (a dictation turn is on)."""


ListenerFactory = Callable[
    [Config, Callable[[Event], None], Callable[[BaseException | None], None]], Listening
]


class Notifying(Protocol):
    """Desktop notifications (never raising)."""

    def notify(
        self, title: str, body: str, *, urgent: bool = False, topic: str | None = None
    ) -> None:
        """Show a notification; one per ``topic`` stays on screen, replaced by the next."""

    def withdraw(self, topic: str) -> None:
        """Take the ``topic``'s notification away."""


class AutostartSwitch(Protocol):
    """Start at login."""

    def enabled(self) -> bool:
        """Whether an entry is in place and enabled."""

    def set(self, enabled: bool) -> str:
        """Enable or disable; returns a sentence saying what was done."""


class Turns(Protocol):
    """The turn controls of an open dictation (``tray_stt.pushtotalk.dictation.Dictation``)."""

    def press(self) -> None: ...
    def release(self) -> None: ...
    def toggle(self) -> None: ...
    def cancel(self) -> None: ...

    @property
    def running(self) -> bool:
        """False once its session ended with an error: the next press opens a new one."""


class Dictating(Protocol):
    """An opened push-to-talk dictation (``app.pushtotalk.PushToTalk`` without a hotkey)."""

    @property
    def dictation(self) -> Turns: ...

    def start(self) -> None:
        """Open the microphone and the session; TraySttError with a sentence if that fails."""

    def close(self) -> None:
        """Stop recording; transcripts of committed turns are still logged and delivered."""


class Retrying(Protocol):
    """Transcribes the audio spool's pending recordings (``app.retry.Retrier``)."""

    def start(
        self,
        config: Config,
        on_event: Callable[[Event], None],
        on_done: Callable[[RetryReport], None],
    ) -> bool:
        """Start on a thread of its own; False if one is running already."""

    def stop(self, timeout: float) -> None:
        """Send no more; wait up to ``timeout`` s for what was sent to be logged."""


DictationFactory = Callable[
    [Config, Callable[[DictationEvent], None], Callable[[DictationState], None]], Dictating
]
