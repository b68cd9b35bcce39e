"""What the app shows and what it can be asked: the controller's snapshots and commands.

Views (the tray, the control socket, ``tray-stt status``) import this, never the controller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum
from pathlib import Path

from tray_stt.config import Config
from tray_stt.pushtotalk.talk import DictationState, TalkAction
from tray_stt.transcripts import LogLine, log_file

RECENT_COUNT = 10  # transcripts the tray's Recent submenu offers


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
    dictation: DictationState = DictationState.IDLE  # push-to-talk, independent of listening
    pending: int = 0  # recordings in the audio spool with no transcript yet
    usage_today: str = ""  # today's spend and minutes, e.g. "$0.02 · 3 min today"; "" unmetered
    recent: tuple[LogLine, ...] = ()  # the last transcripts (RECENT_COUNT), oldest first

    @property
    def log_path(self) -> Path:
        """Today's log file."""
        return log_file(self.config.log_dir, date.today())


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
class Talk:
    """Push-to-talk: start, end, toggle or cancel a dictation turn."""

    action: TalkAction


@dataclass(frozen=True)
class RetryPending:
    """Transcribe the pending recordings of the audio spool now."""


Command = (
    Toggle | Start | Stop | Quit | ChangeSettings | Reload | SetAutostart | Talk | RetryPending
)
"""What a view or another program can ask of the controller."""
