"""Deciding how a transcript reaches the window that had focus when the hotkey went down.

Pure functions of the mode, the desktop and the tools installed (standard library only);
``desktop.inject.Deliverer`` carries the plan out. The complaints this answers: the old clipboard
pasted instead of the text (we paste only after our text is on the clipboard), the clipboard lost
(it is restored if it still holds our text), ``^V`` in terminals (Ctrl+Shift+V there), text in
the wrong window (the key-down window is focused again), stuck modifiers (we wait for them to be
released and never use ``--clearmodifiers``), wrong characters (never pynput's type() for
non-ASCII on X11).
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_TERMINALS = (
    "xterm", "uxterm", "urxvt", "rxvt", "st", "st-256color", "konsole", "gnome-terminal",
    "gnome-terminal-server", "org.gnome.console", "kgx", "ptyxis", "org.gnome.ptyxis", "kitty",
    "alacritty", "foot", "wezterm", "org.wezfurlong.wezterm", "ghostty", "terminator", "tilix",
    "xfce4-terminal", "mate-terminal", "lxterminal", "qterminal", "terminology", "sakura",
    "guake", "tilda", "yakuake", "cool-retro-term", "tabby", "hyper", "warp", "blackbox",
)  # fmt: skip


@dataclass(frozen=True)
class Window:
    """A top-level window: its id and WM_CLASS (instance and class names, lower case)."""

    id: int
    wm_class: tuple[str, ...] = ()


class DeliveryMode(StrEnum):
    """How a transcript reaches the focused window."""

    PASTE = "paste"  # clipboard + paste chord, clipboard restored: any Unicode, fast
    TYPE = "type"  # synthetic key presses: leaves the clipboard alone
    CLIPBOARD = "clipboard"  # only copied; the user pastes
    PRIMARY = "primary"  # X11 PRIMARY selection + Shift+Insert: what a stock xterm pastes


class Desktop(StrEnum):
    """The kind of session, which decides the injection tools."""

    X11 = "x11"
    WAYLAND = "wayland"
    MACOS = "macos"
    WINDOWS = "windows"
    NONE = "none"  # no display at all


def detect_desktop(env: Mapping[str, str], platform: str = sys.platform) -> Desktop:
    """The session kind from the platform and environment (Wayland wins over XWayland)."""
    if platform == "darwin":
        return Desktop.MACOS
    if platform == "win32":
        return Desktop.WINDOWS
    if env.get("WAYLAND_DISPLAY"):
        return Desktop.WAYLAND
    return Desktop.X11 if env.get("DISPLAY") else Desktop.NONE


@dataclass(frozen=True)
class Plan:
    """What ``deliver`` will do: ``how`` is paste, type or clipboard; ``tool`` injects."""

    how: DeliveryMode
    tool: str | None = None  # xdotool | pynput | wtype | ydotool
    tell_user: bool = False  # the text is only on the clipboard: say so (press Ctrl+V)


def plan_delivery(mode: DeliveryMode, desktop: Desktop, tools: Collection[str]) -> Plan:
    """Choose the strategy for ``mode`` with the tools installed (docs/architecture.md, "Delivering
    text into a window")."""
    if mode is DeliveryMode.CLIPBOARD or desktop is Desktop.NONE:
        return Plan(DeliveryMode.CLIPBOARD, tell_user=mode is not DeliveryMode.CLIPBOARD)
    if desktop is Desktop.WAYLAND:
        # X injection reaches only XWayland windows: type with a Wayland tool, else the clipboard.
        for tool in ("wtype", "ydotool"):
            if tool in tools:
                return Plan(DeliveryMode.TYPE, tool)
        return Plan(DeliveryMode.CLIPBOARD, tell_user=True)
    if mode is DeliveryMode.PRIMARY and desktop is not Desktop.X11:
        mode = DeliveryMode.PASTE  # only X11 has a PRIMARY selection to paste from
    if desktop is Desktop.X11:
        if "xdotool" in tools:
            return Plan(mode, "xdotool")
        # pynput's type() sends XSendEvent: terminals ignore it and non-ASCII comes out wrong,
        # so without xdotool the chord (through XTEST) is the only safe way.
        return Plan(mode if mode is DeliveryMode.PRIMARY else DeliveryMode.PASTE, "pynput")
    return Plan(mode, "pynput")


@dataclass(frozen=True)
class WindowRule:
    """How text reaches the windows of one WM_CLASS: a mode, and a key to press after it."""

    mode: DeliveryMode
    then: str | None = None  # e.g. "Return" for a chat window that should send at once


# Stock xterm binds no key to paste the CLIPBOARD selection (Ctrl+Shift+V arrives as a literal
# ^V, which swallows the next key), and xdotool type garbles non-ASCII there; Shift+Insert
# pastes the PRIMARY selection in every xterm. rxvt-unicode (class URxvt, also run as `rxvt`)
# likewise prints ^V for Ctrl+Shift+V and pastes PRIMARY with Shift+Insert.
DEFAULT_WINDOW_RULES: tuple[tuple[str, WindowRule], ...] = (
    ("xterm", WindowRule(DeliveryMode.PRIMARY)),
    ("uxterm", WindowRule(DeliveryMode.PRIMARY)),
    ("urxvt", WindowRule(DeliveryMode.PRIMARY)),
)


def parse_window_rule(text: str) -> WindowRule:
    """``"type"``, ``"paste+Return"``: a mode, then optionally ``+`` and a key name; ValueError
    for an unknown mode or an empty key."""
    mode, plus, then = text.partition("+")
    if plus and not then.strip():
        raise ValueError(f"{text!r} names no key after the +")
    return WindowRule(DeliveryMode(mode.strip().lower()), then.strip() or None)


def window_rule(window: Window | None, rules: Mapping[str, WindowRule]) -> WindowRule | None:
    """The rule for ``window``'s WM_CLASS (instance or class name, case-insensitive), if any."""
    if window is None:
        return None
    lowered = {name.lower(): rule for name, rule in rules.items()}
    return next((lowered[name] for name in window.wm_class if name in lowered), None)


def is_terminal(window: Window | None, terminal_classes: Collection[str]) -> bool:
    """Whether the window's WM_CLASS names a terminal (case-insensitive)."""
    if window is None:
        return False
    wanted = {c.lower() for c in terminal_classes}
    return any(name in wanted for name in window.wm_class)


def paste_keys(desktop: Desktop, terminal: bool) -> tuple[str, ...]:
    """The paste chord: Cmd+V on macOS, Ctrl+Shift+V in a terminal (Ctrl+V prints ``^V``)."""
    if desktop is Desktop.MACOS:
        return ("cmd", "v")
    return ("ctrl", "shift", "v") if terminal else ("ctrl", "v")


def should_restore(previous: str | None, now: str | None, ours: str) -> bool:
    """Restore the old clipboard only if there was one and ours was not replaced meanwhile."""
    return previous is not None and previous != "" and now == ours and previous != ours


def xdotool_keys(keys: Sequence[str]) -> str:
    """A chord in xdotool's syntax: ``ctrl+shift+v``."""
    names = {"cmd": "super"}
    return "+".join(names.get(k, k) for k in keys)
