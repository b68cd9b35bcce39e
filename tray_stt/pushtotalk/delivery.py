"""Putting a transcript into the window that had focus when the hotkey went down.

The decisions (which strategy, which paste chord, whether to restore the clipboard) are pure
functions; ``Deliverer`` carries them out with xdotool/Xlib on X11, wtype/ydotool on Wayland and
pynput elsewhere. The complaints this answers are in anchors.md §3: the old clipboard pasted
instead of the text (we paste only after our text is on the clipboard), the clipboard lost (it is
restored if it still holds our text), ``^V`` in terminals (Ctrl+Shift+V there), text in the wrong
window (the key-down window is focused again), stuck modifiers (we wait for them to be released
and never use ``--clearmodifiers``), wrong characters (never pynput's type() for non-ASCII on X11).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from tray_stt.desktop.xwindows import X11, Window
from tray_stt.transcripts import clipboard_copy, clipboard_paste

DEFAULT_TERMINALS = (
    "xterm", "uxterm", "urxvt", "rxvt", "st", "st-256color", "konsole", "gnome-terminal",
    "gnome-terminal-server", "org.gnome.console", "kgx", "ptyxis", "org.gnome.ptyxis", "kitty",
    "alacritty", "foot", "wezterm", "org.wezfurlong.wezterm", "ghostty", "terminator", "tilix",
    "xfce4-terminal", "mate-terminal", "lxterminal", "qterminal", "terminology", "sakura",
    "guake", "tilda", "yakuake", "cool-retro-term", "tabby", "hyper", "warp", "blackbox",
)  # fmt: skip


class DeliveryMode(StrEnum):
    """How a transcript reaches the focused window."""

    PASTE = "paste"  # clipboard + paste chord, clipboard restored: any Unicode, fast
    TYPE = "type"  # synthetic key presses: leaves the clipboard alone
    CLIPBOARD = "clipboard"  # only copied; the user pastes


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
    """Choose the strategy for ``mode`` with the tools installed (platform-notes §3)."""
    if mode is DeliveryMode.CLIPBOARD or desktop is Desktop.NONE:
        return Plan(DeliveryMode.CLIPBOARD, tell_user=mode is not DeliveryMode.CLIPBOARD)
    if desktop is Desktop.WAYLAND:
        # X injection reaches only XWayland windows: type with a Wayland tool, else the clipboard.
        for tool in ("wtype", "ydotool"):
            if tool in tools:
                return Plan(DeliveryMode.TYPE, tool)
        return Plan(DeliveryMode.CLIPBOARD, tell_user=True)
    if desktop is Desktop.X11:
        if "xdotool" in tools:
            return Plan(mode, "xdotool")
        # pynput's type() sends XSendEvent: terminals ignore it and non-ASCII comes out wrong,
        # so without xdotool the chord (through XTEST) is the only safe way.
        return Plan(DeliveryMode.PASTE, "pynput")
    return Plan(mode, "pynput")


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


Runner = Callable[[list[str]], None]


def _run(command: list[str]) -> None:
    subprocess.run(command, check=True, timeout=30, stdin=subprocess.DEVNULL, capture_output=True)


class Deliverer:
    """Carries out a Plan; every failure becomes one sentence for ``on_notice``, never a raise."""

    def __init__(
        self,
        mode: DeliveryMode = DeliveryMode.PASTE,
        *,
        terminal_classes: Collection[str] = DEFAULT_TERMINALS,
        on_notice: Callable[[str], None] = lambda _message: None,
        settle_s: float = 0.25,
        modifier_timeout_s: float = 3.0,
        env: Mapping[str, str] | None = None,
        run: Runner = _run,
        copy: Callable[[str], None] = clipboard_copy,
        paste: Callable[[], str] = clipboard_paste,
        x11: X11 | None = None,
    ) -> None:
        """``settle_s``: how long the target gets to read the clipboard before it is restored
        (Tk reads it at once; Chromium and Electron read it asynchronously)."""
        env = os.environ if env is None else env
        self.desktop = detect_desktop(env)
        tools = {t for t in ("xdotool", "wtype", "ydotool") if shutil.which(t)}
        self.plan = plan_delivery(mode, self.desktop, tools)
        self.terminal_classes = tuple(terminal_classes)
        self._notice = on_notice
        self._settle_s = settle_s
        self._modifier_timeout_s = modifier_timeout_s
        self._run = run
        self._copy = copy
        self._paste = paste
        self._x11 = x11
        if self._x11 is None and self.desktop is Desktop.X11:
            try:
                self._x11 = X11(env.get("DISPLAY"))
            except Exception as exc:  # python-xlib missing, or the display refused us
                on_notice(f"Cannot query X windows ({exc}); text goes to whatever has focus.")

    def focused(self) -> Window | None:
        """The window to deliver the next turn into: call it when the hotkey goes down."""
        if self._x11 is None:
            return None
        try:
            return self._x11.focused()
        except Exception:
            return None

    def deliver(self, text: str, target: Window | None) -> None:
        """Put ``text`` into ``target`` (or the focused window); blank text is not delivered."""
        if not text.strip():
            return
        try:
            self._deliver(text, target)
        except Exception as exc:  # a failed injection must not end dictation; the log has it
            self._notice(f"Could not deliver the text ({_describe(exc)}); it is in the daily log.")

    def close(self) -> None:
        """Release the X connection."""
        if self._x11 is not None:
            self._x11.close()

    def _deliver(self, text: str, target: Window | None) -> None:
        plan = self.plan
        if plan.how is DeliveryMode.CLIPBOARD:
            self._copy(text)
            if plan.tell_user:
                self._notice("The text is on the clipboard: press Ctrl+V to paste it.")
            return
        self._prepare(target)
        if plan.how is DeliveryMode.TYPE:
            self._type(text)
        else:
            self._paste_text(text, target)

    def _prepare(self, target: Window | None) -> None:
        """Wait for the hotkey's modifiers to be let go, then focus the key-down window."""
        if self._x11 is None:
            return
        if not self._x11.wait_modifiers_released(self._modifier_timeout_s):
            self._notice("Modifier keys are still held; injecting anyway.")
        if target is not None and self._x11.focused() != target:
            self._x11.focus(target)

    def _type(self, text: str) -> None:
        tool = self.plan.tool
        if tool == "xdotool":
            self._run(["xdotool", "type", "--delay", "2", "--", text])
        elif tool == "wtype":
            self._run(["wtype", "--", text])
        elif tool == "ydotool":
            self._run(["ydotool", "type", "--", text])
        else:
            from tray_stt.desktop.keyboard import pynput_type

            pynput_type(text)

    def _paste_text(self, text: str, target: Window | None) -> None:
        try:
            previous: str | None = self._paste()
        except Exception:
            previous = None  # nothing we can read back (empty, or not text): leave ours there
        self._copy(text)
        keys = paste_keys(self.desktop, is_terminal(target, self.terminal_classes))
        if self.plan.tool == "xdotool":
            self._run(["xdotool", "key", xdotool_keys(keys)])
        else:
            from tray_stt.desktop.keyboard import pynput_tap

            pynput_tap(keys)
        time.sleep(self._settle_s)  # the target reads the clipboard when it handles the chord
        try:
            now: str | None = self._paste()
        except Exception:
            now = None
        if should_restore(previous, now, text):
            assert previous is not None
            self._copy(previous)


def _describe(exc: Exception) -> str:
    if isinstance(exc, subprocess.CalledProcessError):
        stderr = exc.stderr.decode(errors="replace").strip() if exc.stderr else ""
        return f"{exc.cmd[0]} failed: {stderr or exc.returncode}"
    if isinstance(exc, FileNotFoundError):
        return f"{exc.filename} is not installed"
    return str(exc) or type(exc).__name__
