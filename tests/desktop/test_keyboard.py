"""The in-process hotkey listener under Xvfb, with xdotool pressing keys."""

from __future__ import annotations

import queue
import subprocess
import time
from typing import Any

import pytest

from tests.support.dictation_desktop import require
from tray_stt.desktop.keyboard import KeyboardHotkey
from tray_stt.pushtotalk.hotkey import HotkeyMode, parse_chord
from tray_stt.pushtotalk.talk import TalkAction

_ACTION_TIMEOUT_S = 15.0  # how long to wait for an action that must come; not a measurement


@pytest.mark.desktop
def test_a_key_pressed_as_soon_as_start_returns_is_heard(
    own_xvfb: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``start`` returns only once keys are recorded. pynput says it is ready before it enables
    its XRecord context; a loaded machine can stretch that gap, here made 0.5 s on purpose."""
    require("xdotool")
    monkeypatch.setenv("DISPLAY", own_xvfb)
    import Xlib.ext.record

    enable = Xlib.ext.record.enable_context

    def late_enable(display: Any, context: Any, callback: Any) -> None:
        time.sleep(0.5)
        enable(display, context, callback)

    monkeypatch.setattr(Xlib.ext.record, "enable_context", late_enable)
    actions: queue.Queue[TalkAction] = queue.Queue()
    hotkey = KeyboardHotkey(parse_chord("f9"), HotkeyMode.HOLD, actions.put)
    hotkey.start()
    try:
        subprocess.run(["xdotool", "key", "F9"], check=True, timeout=10)
        assert [actions.get(timeout=_ACTION_TIMEOUT_S) for _ in range(2)] == [
            TalkAction.PRESS,
            TalkAction.RELEASE,
        ]
    finally:
        listener = hotkey._listener
        hotkey.stop()
        # pynput's X listener notices the stop at its next event: give it one, so it closes
        # its connections before this test's X server goes away.
        subprocess.run(["xdotool", "key", "shift"], check=True, timeout=10)
        listener.join(_ACTION_TIMEOUT_S)
