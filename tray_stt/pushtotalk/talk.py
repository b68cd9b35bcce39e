"""The push-to-talk vocabulary: what a turn input asks for, and what the dictation is doing.

One enum for every source of turn input (the hotkey state machine, the hotkey helper process, the
portal, ``tray-stt press|release|talk``, the tray) and for the dictation that carries it out.
Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tray_stt.realtime.events import Event


class TalkAction(Enum):
    """What a push-to-talk input asks of the dictation."""

    PRESS = "press"  # start a turn: the hotkey went down
    RELEASE = "release"  # end the turn: what was said is transcribed and delivered
    TOGGLE = "toggle"  # press if no turn is recording, else release
    CANCEL = "cancel"  # discard the turn: nothing is transcribed or delivered


class DictationState(Enum):
    """What the dictation is doing, for the tray icon and sound cues."""

    IDLE = "idle"
    RECORDING = "recording"  # the hotkey is held (or toggled on), or the tail is being recorded
    TRANSCRIBING = "transcribing"  # committed; waiting for the text


@dataclass(frozen=True)
class DictationStopped:
    """The dictation's session ended for good (key rejected, no credit); the next press opens a
    new one."""

    error: BaseException

    @property
    def message(self) -> str:
        """The sentence the tray shows."""
        return f"Dictation stopped: {self.error}"


DictationEvent = Event | DictationStopped
"""What a dictation reports: its session's events, and its own end."""
