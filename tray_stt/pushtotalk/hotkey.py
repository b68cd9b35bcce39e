"""Push-to-talk hotkeys as a pure state machine: key names in, start/stop/cancel out.

No keyboard library here (keyboard.py feeds it from pynput, control commands feed it by name), so
the rules are tested without a display: a chord is held when all its keys are down; X11
auto-repeat sends a press per repeat and must never restart or split a turn
(docs/architecture.md, "Hotkeys").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tray_stt.errors import ConfigError
from tray_stt.pushtotalk.talk import TalkAction

MODIFIERS = ("ctrl", "alt", "shift", "cmd")
CANCEL_KEY = "esc"
_ALIASES = {
    "control": "ctrl",
    "ctl": "ctrl",
    "option": "alt",
    "alt_gr": "alt",
    "altgr": "alt",
    "super": "cmd",
    "win": "cmd",
    "meta": "cmd",
    "command": "cmd",
    "escape": CANCEL_KEY,
    "return": "enter",
    "spacebar": "space",
}
_NAMED = {
    *MODIFIERS,
    CANCEL_KEY,
    "space",
    "enter",
    "tab",
    "backspace",
    "delete",
    "insert",
    "home",
    "end",
    "page_up",
    "page_down",
    "up",
    "down",
    "left",
    "right",
    "pause",
    "scroll_lock",
    "print_screen",
    "menu",
    "caps_lock",
    "num_lock",
    *(f"f{n}" for n in range(1, 25)),
}


class HotkeyMode(StrEnum):
    """Hold the chord while talking, or press it once to start and again to stop."""

    HOLD = "hold"
    TOGGLE = "toggle"


def key_name(raw: str) -> str:
    """The canonical name of one key: ``Control_L``/``ctrl_r`` -> ``ctrl``, ``A`` -> ``a``."""
    name = raw.strip().lower()
    if name.startswith("<") and name.endswith(">"):
        name = name[1:-1]
    for side in ("_l", "_r"):
        if name.endswith(side) and name[: -len(side)] in (*MODIFIERS, *_ALIASES):
            name = name[: -len(side)]
    return _ALIASES.get(name, name)


@dataclass(frozen=True)
class Chord:
    """A hotkey: zero or more modifiers and exactly one other key, e.g. ``<ctrl>+<alt>+space``."""

    modifiers: frozenset[str]
    key: str

    @property
    def keys(self) -> frozenset[str]:
        """Every key that must be down."""
        return self.modifiers | {self.key}

    def __str__(self) -> str:
        ordered = [m for m in MODIFIERS if m in self.modifiers]
        return "+".join(f"<{k}>" if k in _NAMED else k for k in [*ordered, self.key])


_KEYSYMS = {
    "esc": "Escape",
    "space": "space",
    "enter": "Return",
    "tab": "Tab",
    "backspace": "BackSpace",
    "delete": "Delete",
    "insert": "Insert",
    "home": "Home",
    "end": "End",
    "page_up": "Page_Up",
    "page_down": "Page_Down",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "pause": "Pause",
    "scroll_lock": "Scroll_Lock",
    "print_screen": "Print",
    "menu": "Menu",
    "caps_lock": "Caps_Lock",
    "num_lock": "Num_Lock",
    # A modifier alone as the key (hotkey = "<ctrl>"): the left one's keysym.
    "ctrl": "Control_L",
    "alt": "Alt_L",
    "shift": "Shift_L",
    "cmd": "Super_L",
    **{f"f{n}": f"F{n}" for n in range(1, 25)},
    **dict(
        zip(
            " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
            [
                "space",
                "exclam",
                "quotedbl",
                "numbersign",
                "dollar",
                "percent",
                "ampersand",
                "apostrophe",
                "parenleft",
                "parenright",
                "asterisk",
                "plus",
                "comma",
                "minus",
                "period",
                "slash",
                "colon",
                "semicolon",
                "less",
                "equal",
                "greater",
                "question",
                "at",
                "bracketleft",
                "backslash",
                "bracketright",
                "asciicircum",
                "underscore",
                "grave",
                "braceleft",
                "bar",
                "braceright",
                "asciitilde",
            ],
            strict=True,
        )
    ),
}


def keysym_name(key: str) -> str:
    """The keysym name (X, xkbcommon) of a key: ``page_up`` -> ``Page_Up``, ``;`` -> ``semicolon``.

    Keysym names are case-sensitive, so every named key needs its entry.
    """
    if key in _KEYSYMS:
        return _KEYSYMS[key]
    if len(key) == 1 and key.isascii() and key.isalnum():
        return key  # keysyms a-z and 0-9 are the characters themselves
    if len(key) == 1:
        return f"U{ord(key):04X}"  # xkbcommon's name for any Unicode keysym
    return key


HOTKEY_OFF = "off"  # the config value that turns the tray's global hotkey off


def parse_chord(text: str) -> Chord:
    """Parse ``<ctrl>+<alt>+space``, ``ctrl+alt+space``, ``F9`` or ``<cmd>+;``.

    ConfigError, with the reason, for an empty chord, an unknown key name, a repeated key, or
    more than one non-modifier key (a chord ends on one key; ``ctrl+a+b`` cannot be pressed
    reliably).
    """
    parts = [p for p in _split(text)]
    if not parts:
        raise ConfigError(f"The hotkey {text!r} is empty: use something like <ctrl>+<alt>+space.")
    names = [key_name(p) for p in parts]
    for raw, name in zip(parts, names, strict=True):
        if len(name) != 1 and name not in _NAMED:
            raise ConfigError(f"The hotkey {text!r} has an unknown key {raw!r}.")
    if len(set(names)) != len(names):
        raise ConfigError(f"The hotkey {text!r} names a key twice.")
    others = [n for n in names if n not in MODIFIERS]
    if len(others) > 1:
        raise ConfigError(f"The hotkey {text!r} has more than one non-modifier key.")
    if not others:  # a modifier alone, such as <ctrl>: the last one is the key
        return Chord(frozenset(names[:-1]), names[-1])
    return Chord(frozenset(n for n in names if n in MODIFIERS), others[0])


def _split(text: str) -> list[str]:
    """Split on ``+``, where a ``+`` right after another is the plus key itself."""
    parts: list[str] = []
    current = ""
    for char in text.strip():
        if char == "+" and current.strip():
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


class HotkeyMachine:
    """Turns key downs and ups into start/stop/cancel, ignoring auto-repeat."""

    def __init__(self, chord: Chord, mode: HotkeyMode = HotkeyMode.HOLD) -> None:
        """``chord``: what to hold (or tap in toggle mode)."""
        self.chord = chord
        self.mode = mode
        self._down: set[str] = set()
        self._active = False  # a turn the hotkey started is running

    @property
    def active(self) -> bool:
        """Whether a turn is running."""
        return self._active

    @property
    def held(self) -> frozenset[str]:
        """The keys down now (as far as this machine saw)."""
        return frozenset(self._down)

    def press(self, key: str) -> TalkAction | None:
        """A key went down (or auto-repeated)."""
        if key in self._down:
            return None  # auto-repeat: X11 sends a press per repeat and one release
        self._down.add(key)
        if key == CANCEL_KEY and self._active and CANCEL_KEY not in self.chord.keys:
            self._active = False
            return TalkAction.CANCEL
        # One action per press of the chord: firing again needs a chord key let go and pressed
        # anew, since a key already down is auto-repeat (above).
        if not self.chord.keys <= self._down or key not in self.chord.keys:
            return None
        if self.mode is HotkeyMode.TOGGLE and self._active:
            self._active = False
            return TalkAction.RELEASE
        self._active = True
        return TalkAction.PRESS

    def release(self, key: str) -> TalkAction | None:
        """A key went up."""
        self._down.discard(key)
        if key not in self.chord.keys:
            return None
        if self.mode is HotkeyMode.HOLD and self._active:
            self._active = False
            return TalkAction.RELEASE
        return None
