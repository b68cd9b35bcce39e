"""The pynput shell: a global key listener feeding the hotkey machine, and key injection.

The only module that imports pynput, lazily: importing it with no display raises (not always an
ImportError), and on Wayland its X listener sees only XWayland windows (docs/architecture.md,
"Hotkeys").
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from tray_stt.errors import HotkeyUnavailable
from tray_stt.pushtotalk.hotkey import Chord, HotkeyMachine, HotkeyMode, key_name
from tray_stt.pushtotalk.talk import TalkAction


def _pynput_keyboard() -> Any:
    try:
        import pynput.keyboard
    except Exception as exc:  # no display raises ImportError or Xlib errors, depending on why
        raise HotkeyUnavailable(
            "Global hotkeys are not available here "
            f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}): on Wayland, "
            "bind `tray-stt press` / `tray-stt release` (or `tray-stt toggle`) to a shortcut in "
            "the desktop settings instead."
        ) from exc
    return pynput.keyboard


MACOS_UNTRUSTED = (
    "macOS does not let tray-stt see the keyboard: allow it (or the terminal running it) in "
    "System Settings > Privacy & Security > Input Monitoring and Accessibility, then restart it."
)


def require_macos_trust() -> None:
    """HotkeyUnavailable (which privacy settings to enable) unless macOS lets this process watch
    the keyboard; nothing elsewhere.

    pynput's ``Listener.IS_TRUSTED`` is set on a listener only once its thread runs (on the class
    it is always False), so this asks what pynput asks, ``AXIsProcessTrusted``, before listening.
    """
    if sys.platform != "darwin":
        return
    try:  # pyobjc, which pynput's darwin backend needs anyway
        trusted = bool(importlib.import_module("HIServices").AXIsProcessTrusted())
    except Exception:
        return  # cannot tell: let the listener try
    if not trusted:
        raise HotkeyUnavailable(MACOS_UNTRUSTED)


def pynput_key_name(key: Any) -> str:
    """The hotkey name of a pynput Key or KeyCode (``Key.ctrl_r`` -> ``ctrl``)."""
    name = getattr(key, "name", None)
    if isinstance(name, str):  # a Key enum member
        return key_name(name)
    char = getattr(key, "char", None)
    if isinstance(char, str) and char:
        return key_name(char)
    return f"vk{getattr(key, 'vk', None)}"


def hotkey_listener(machine: HotkeyMachine, on_action: Callable[[TalkAction], None]) -> Any:
    """A pynput keyboard Listener, not yet started, that feeds every key to ``machine`` and
    reports its actions; HotkeyUnavailable with what to do instead if that cannot work here.

    ``on_action`` runs on pynput's listener thread; it must return quickly.
    """
    keyboard = _pynput_keyboard()
    require_macos_trust()
    lock = threading.Lock()  # pynput may call press and release from different threads

    def feed(step: Callable[[str], TalkAction | None], key: Any) -> None:
        with lock:
            action = step(pynput_key_name(key))
        if action is not None:
            on_action(action)

    listener = keyboard.Listener(
        on_press=lambda key: feed(machine.press, key),
        on_release=lambda key: feed(machine.release, key),
    )
    _watch_for_recording(listener)
    return listener


_RECORDING_TIMEOUT_S = 5.0  # the X server answers at once; a bound, not a measurement


def _watch_for_recording(listener: Any) -> None:
    """On X11, note when the listener really starts hearing keys.

    pynput's ``wait()`` returns once its thread is set up but *before* it enables its XRecord
    context, so a key pressed in between (a loaded machine can stretch that to tens of
    milliseconds) is never seen. The server's first reply to the enable request, StartOfData,
    comes through the listener's ``_handler`` and marks the moment recording begins; every key
    after it is delivered.
    """
    handler = getattr(listener, "_handler", None)
    if handler is None or not type(listener).__module__.endswith("._xorg"):
        return  # the other backends install their hook before they say they are ready
    recording = threading.Event()

    def first_reply_marks_recording(reply: Any) -> Any:
        recording.set()
        return handler(reply)

    listener._handler = first_reply_marks_recording
    listener.tray_stt_recording = recording


def wait_until_listening(listener: Any) -> None:
    """Block until a started ``hotkey_listener`` hears keys (on X11, a bounded wait for its
    recording to begin; see ``_watch_for_recording``)."""
    listener.wait()
    recording = getattr(listener, "tray_stt_recording", None)
    if recording is not None:
        recording.wait(_RECORDING_TIMEOUT_S)


class KeyboardHotkey:
    """Listens to the whole keyboard (pynput) and reports the chord's start/stop/cancel.

    ``on_action`` runs on pynput's listener thread; it must return quickly.
    """

    def __init__(
        self,
        chord: Chord,
        mode: HotkeyMode,
        on_action: Callable[[TalkAction], None],
        *,
        grab: Callable[[Chord], Callable[[], None]] | None = None,
    ) -> None:
        """Nothing listens until ``start``. ``grab`` keeps the chord from the focused window
        (X11: xwindows.KeyGrab) and returns how to let it go."""
        self.machine = HotkeyMachine(chord, mode)
        self._grab = grab
        self._ungrab: Callable[[], None] | None = None
        self._on_action = on_action
        self._listener: Any = None

    def start(self) -> None:
        """Start listening; HotkeyUnavailable with what to do instead if that cannot work."""
        self._listener = hotkey_listener(self.machine, self._on_action)
        self._listener.start()
        wait_until_listening(self._listener)
        if self._grab is not None:
            self._ungrab = self._grab(self.machine.chord)

    def stop(self) -> None:
        """Stop listening."""
        if self._ungrab is not None:
            self._ungrab()
            self._ungrab = None
        if self._listener is not None:
            self._listener.stop()
            self._listener = None


def pynput_tap(keys: Sequence[str]) -> None:
    """Press ``keys`` in order and release them in reverse (a chord such as ctrl+v)."""
    keyboard = _pynput_keyboard()
    controller = keyboard.Controller()
    resolved = [_resolve(keyboard, k) for k in keys]
    for key in resolved:
        controller.press(key)
    for key in reversed(resolved):
        controller.release(key)


def pynput_type(text: str) -> None:
    """Type ``text`` (Windows and macOS; on X11 only ASCII comes out right, pynput#642)."""
    _pynput_keyboard().Controller().type(text)


def _resolve(keyboard: Any, name: str) -> Any:
    member = getattr(keyboard.Key, name, None)
    return member if member is not None else keyboard.KeyCode.from_char(name)
