"""X11 queries for delivery: which window has focus, its WM_CLASS, and whether modifiers are held.

Through python-xlib (installed with pynput on Linux), imported lazily: one round trip instead of an
``xdotool``/``xprop`` process each, and no x11-utils needed. The only module that imports Xlib.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Window:
    """A top-level window: its X id and WM_CLASS (instance and class names, lower case)."""

    id: int
    wm_class: tuple[str, ...] = ()


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
        hotkey's (anchors §3.15); False if they were still held after ``timeout_s``."""
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
