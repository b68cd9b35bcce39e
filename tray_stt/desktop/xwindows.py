"""X11 queries for delivery: which window has focus, its WM_CLASS, and whether modifiers are held.

Through python-xlib (installed with pynput on Linux), imported lazily: one round trip instead of an
``xdotool``/``xprop`` process each, and no x11-utils needed. The one module that imports Xlib
besides tray.xorg, which extends pystray's own Xlib icon.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from tray_stt.pushtotalk.delivery import Window
from tray_stt.pushtotalk.hotkey import keysym_name


class X11:
    """One connection to the X server, shared by the calls below (which are thread-safe)."""

    def __init__(self, display: str | None = None) -> None:
        """Connect; raises whatever Xlib raises when there is no X server."""
        from Xlib import display as xdisplay

        self._display: Any = xdisplay.Display(display)
        self._lock = threading.Lock()
        self._active_atom = self._display.intern_atom("_NET_ACTIVE_WINDOW")
        self._modifier_codes = self._modifier_keycodes()

    def close(self) -> None:
        """Disconnect."""
        with self._lock:
            self._display.close()

    def focused(self) -> Window | None:
        """The top-level window that has the keyboard focus (None if only the root has it)."""
        with self._lock:
            window = self._active_window() or self._display.get_input_focus().focus
            return self._top_level(window)

    def focus(self, target: Window) -> None:
        """Give ``target`` the keyboard focus (as a pager would, when a window manager runs)."""
        from Xlib import X, protocol

        with self._lock:
            root = self._display.screen().root
            window = self._display.create_resource_object("window", target.id)
            if self._wm_supports_active():
                event = protocol.event.ClientMessage(
                    window=window,
                    client_type=self._active_atom,
                    data=(32, [2, X.CurrentTime, 0, 0, 0]),
                )
                mask = X.SubstructureRedirectMask | X.SubstructureNotifyMask
                root.send_event(event, event_mask=mask)
            else:
                window.set_input_focus(X.RevertToParent, X.CurrentTime)
            self._display.sync()

    def modifiers_held(self) -> bool:
        """Whether any modifier key (Shift, Ctrl, Alt, Super...) is physically down now."""
        with self._lock:
            keymap = self._display.query_keymap()
        return any(keymap[code // 8] & (1 << (code % 8)) for code in self._modifier_codes)

    def wait_modifiers_released(self, timeout_s: float, poll_s: float = 0.01) -> bool:
        """Wait until no modifier is held, so an injected chord is not combined with the
        hotkey's (docs/architecture.md, "Delivering text into a window"); False if they were still
        held after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while self.modifiers_held():
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll_s)
        return True

    def _modifier_keycodes(self) -> list[int]:
        # Caps Lock and Num Lock (slots 1 and 4 on most layouts) are latched states, not held keys.
        mapping = self._display.get_modifier_mapping()
        held = [codes for slot, codes in enumerate(mapping) if slot not in (1, 4)]
        return [code for codes in held for code in codes if code]

    def _wm_supports_active(self) -> bool:
        from Xlib import X

        root = self._display.screen().root
        atom = self._display.intern_atom("_NET_SUPPORTED")
        supported = root.get_full_property(atom, X.AnyPropertyType)
        return supported is not None and self._active_atom in supported.value

    def _active_window(self) -> Any:
        from Xlib import X

        root = self._display.screen().root
        prop = root.get_full_property(self._active_atom, X.AnyPropertyType)
        if prop is None or not prop.value or not prop.value[0]:
            return None
        return self._display.create_resource_object("window", prop.value[0])

    def _top_level(self, window: Any) -> Window | None:
        """Walk up from the focus (often a child widget) to the window that has WM_CLASS."""
        root = self._display.screen().root
        if not hasattr(window, "id"):
            return None  # PointerRoot or None
        first = window
        while window is not None and window.id != root.id:
            wm_class = window.get_wm_class()
            if wm_class:
                return Window(window.id, tuple(name.lower() for name in wm_class))
            window = window.query_tree().parent
        return None if first.id == root.id else Window(first.id)


_UNICODE_KEYSYM = 0x01000000  # X11: keysym of any Unicode character U+XXXX, or'd with it
_MASKS = {"shift": 1, "ctrl": 4, "alt": 8, "cmd": 64}  # ShiftMask, ControlMask, Mod1, Mod4
_LATCHES = (0, 2, 16, 2 | 16)  # with Caps Lock (LockMask) and Num Lock (Mod2) in any state


class KeyGrab:
    """A passive grab of the hotkey on the root window: the focused window never receives it.

    Without it a chord such as Ctrl+Alt+Space, and its auto-repeat, reaches the application too
    (a terminal prints it). pynput's RECORD listener still sees the grabbed keys.
    """

    def __init__(self, key: str, modifiers: frozenset[str], display: str | None = None) -> None:
        """Grab ``modifiers`` + ``key``; raises when another client holds the same grab."""
        from Xlib import XK, X
        from Xlib import display as xdisplay

        keysym = XK.string_to_keysym(keysym_name(key))
        if not keysym and len(key) == 1:
            keysym = _UNICODE_KEYSYM | ord(key)
        self._display: Any = xdisplay.Display(display)
        self._keycode = self._display.keysym_to_keycode(keysym)
        if not self._keycode:
            self._display.close()
            raise ValueError(f"no key {key!r} on this keyboard layout")
        self._mask = sum(_MASKS[m] for m in modifiers)
        self._root = self._display.screen().root
        # close() writes to this pipe to wake the drain thread, which otherwise sleeps in select()
        # with no timeout: an idle tray must not wake up just to check whether it should stop.
        self._wake_read, self._wake_write = os.pipe()
        for latch in _LATCHES:
            self._root.grab_key(
                self._keycode, self._mask | latch, False, X.GrabModeAsync, X.GrabModeAsync
            )
        self._display.sync()
        self._thread = threading.Thread(target=self._drain, name="tray-stt-keygrab", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Let the key go."""
        os.write(self._wake_write, b"x")
        self._thread.join(1.0)
        for latch in _LATCHES:
            self._root.ungrab_key(self._keycode, self._mask | latch)
        self._display.close()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _drain(self) -> None:
        """Read (and drop) the grabbed key events, which are queued on this connection."""
        import select

        while True:
            readable, _, _ = select.select([self._display, self._wake_read], [], [])
            if self._wake_read in readable:
                return
            while self._display.pending_events():
                self._display.next_event()
