"""Putting a transcript into the focused window: carries out a ``pushtotalk.delivery.Plan``.

xdotool/Xlib on X11, wtype/ydotool on Wayland and pynput elsewhere; the decisions are pure
functions in pushtotalk.delivery.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Collection, Mapping

from tray_stt.desktop.caret import text_before_caret
from tray_stt.desktop.clipboard import clipboard_copy, clipboard_paste, primary_copy
from tray_stt.desktop.xwindows import X11
from tray_stt.pushtotalk.delivery import (
    DEFAULT_TERMINALS,
    DEFAULT_WINDOW_RULES,
    DeliveryMode,
    Desktop,
    Window,
    WindowRule,
    detect_desktop,
    is_terminal,
    paste_keys,
    plan_delivery,
    should_restore,
    window_rule,
    xdotool_keys,
)
from tray_stt.pushtotalk.joining import join
from tray_stt.pushtotalk.replacements import Replacement, Replacer

Runner = Callable[[list[str]], None]
JOIN_WINDOW_S = 120.0  # a turn later than this starts afresh, even in the same window


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
        copy_primary: Callable[[str], None] = primary_copy,
        x11: X11 | None = None,
        join_dictations: bool = True,
        window_rules: Mapping[str, WindowRule] | None = None,
        keep_on_clipboard: bool = False,
        clock: Callable[[], float] = time.monotonic,
        replacements: Collection[Replacement] = (),
        before_caret: Callable[[], str | None] | None = None,
    ) -> None:
        """``settle_s``: how long the target gets to read the clipboard before it is restored
        (Tk reads it at once; Chromium and Electron read it asynchronously).
        ``join_dictations``: a turn delivered into the window of the previous one, soon after
        it, is joined to it like typing (pushtotalk.joining). ``keep_on_clipboard`` (the
        "Copy transcripts to clipboard" setting): a pasted text stays on the clipboard.
        ``replacements``: spoken phrases typed as other text (pushtotalk.replacements), before
        joining, so a turn ending in a newline is followed by the next without a space.
        ``before_caret``: the text before the cursor of the focused field, or None when the
        desktop cannot tell (default: asked over AT-SPI, desktop.caret); joining prefers it to
        what was delivered last, since the user may have typed or moved the cursor since."""
        env = os.environ if env is None else env
        self.desktop = detect_desktop(env)
        self._tools = {t for t in ("xdotool", "wtype", "ydotool") if shutil.which(t)}
        self.plan = plan_delivery(mode, self.desktop, self._tools)
        self._rules = dict(DEFAULT_WINDOW_RULES if window_rules is None else window_rules)
        self.terminal_classes = tuple(terminal_classes)
        self._notice = on_notice
        self._settle_s = settle_s
        self._modifier_timeout_s = modifier_timeout_s
        self._run = run
        self._copy = copy
        self._paste = paste
        self._copy_primary = copy_primary
        self._keep = keep_on_clipboard
        self._x11 = x11
        self._join = join_dictations
        self._replacer = Replacer(replacements)
        self._clock = clock
        self._before_caret = before_caret or (lambda: text_before_caret(env))
        self._last: tuple[int | None, str, float] | None = None  # window id, text, when
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
        text = self._replacer.apply(text)
        if not text:
            return  # only fillers the table drops
        text = self._joined(text, target)
        try:
            self._deliver(text, target)
        except Exception as exc:  # a failed injection must not end dictation; the log has it
            self._notice(self._rescued(text, _describe(exc)))
            return
        self._last = (target.id if target else None, text, self._clock())

    def _rescued(self, text: str, reason: str) -> str:
        """After a failed delivery: the text on the clipboard, and the sentence that says so."""
        try:
            self._copy(text)
        except Exception:
            return f"Could not deliver the text ({reason}); it is in the daily log."
        return (
            f"Could not deliver the text ({reason}); it is on the clipboard (press Ctrl+V to "
            "paste it) and in the daily log."
        )

    def _joined(self, text: str, target: Window | None) -> str:
        """``text`` joined to what precedes the cursor where the desktop tells it, otherwise to
        the previous turn if it went into the same window just now."""
        if not self._join or self.plan.how is DeliveryMode.CLIPBOARD:
            return text  # from the clipboard the user pastes where they like
        before = self._before_caret()
        if before is not None:  # the field itself says what precedes: typed by anyone
            return join(before, text)
        if self._last is None:
            return text
        window, previous, at = self._last
        same = window == (target.id if target else None)
        return join(previous, text) if same and self._clock() - at < JOIN_WINDOW_S else text

    def close(self) -> None:
        """Release the X connection."""
        if self._x11 is not None:
            self._x11.close()

    def _deliver(self, text: str, target: Window | None) -> None:
        rule = window_rule(target, self._rules)
        plan = self.plan if rule is None else plan_delivery(rule.mode, self.desktop, self._tools)
        if plan.how is DeliveryMode.CLIPBOARD:
            self._copy(text)
            if plan.tell_user:
                self._notice("The text is on the clipboard: press Ctrl+V to paste it.")
            return
        self._prepare(target)
        if plan.how is DeliveryMode.TYPE:
            self._type(text, plan.tool)
        elif plan.how is DeliveryMode.PRIMARY:
            self._copy_primary(text)
            self._chord(("shift", "Insert"), plan.tool)
        else:
            self._paste_text(text, target, plan.tool)
        if rule is not None and rule.then:
            self._chord((rule.then,), plan.tool)

    def _chord(self, keys: tuple[str, ...], tool: str | None) -> None:
        """Press ``keys`` together (a paste chord, or a rule's key after the text)."""
        if tool == "xdotool":
            self._run(["xdotool", "key", xdotool_keys(keys)])
        else:
            from tray_stt.desktop.keyboard import pynput_tap

            pynput_tap([key.lower() for key in keys])

    def _prepare(self, target: Window | None) -> None:
        """Wait for the hotkey's modifiers to be let go, then focus the key-down window."""
        if self._x11 is None:
            return
        if not self._x11.wait_modifiers_released(self._modifier_timeout_s):
            self._notice("Modifier keys are still held; injecting anyway.")
        if target is not None and self._x11.focused() != target:
            self._x11.focus(target)

    def _type(self, text: str, tool: str | None) -> None:
        if tool == "xdotool":
            self._run(["xdotool", "type", "--delay", "2", "--", text])
        elif tool == "wtype":
            self._run(["wtype", "--", text])
        elif tool == "ydotool":
            self._run(["ydotool", "type", "--", text])
        else:
            from tray_stt.desktop.keyboard import pynput_type

            pynput_type(text)

    def _paste_text(self, text: str, target: Window | None, tool: str | None) -> None:
        try:
            previous: str | None = self._paste()
        except Exception:
            previous = None  # nothing we can read back (empty, or not text): leave ours there
        self._copy(text)
        self._chord(paste_keys(self.desktop, is_terminal(target, self.terminal_classes)), tool)
        time.sleep(self._settle_s)  # the target reads the clipboard when it handles the chord
        try:
            now: str | None = self._paste()
        except Exception:
            now = None
        if not self._keep and should_restore(previous, now, text):
            assert previous is not None
            self._copy(previous)


def _describe(exc: Exception) -> str:
    if isinstance(exc, subprocess.CalledProcessError):
        stderr = exc.stderr.decode(errors="replace").strip() if exc.stderr else ""
        return f"{exc.cmd[0]} failed: {stderr or exc.returncode}"
    if isinstance(exc, FileNotFoundError):
        return f"{exc.filename} is not installed"
    return str(exc) or type(exc).__name__
