"""The push-to-talk vocabulary: what a turn input asks for, and what the dictation is doing.

One enum for every source of turn input (the hotkey state machine, the hotkey helper process, the
portal, ``tray-stt press|release|talk``, the tray) and for the dictation that carries it out.
Standard library only.
"""

from __future__ import annotations

from enum import Enum


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
