"""Delivery decisions (pure) and the Deliverer's steps with fake tools and clipboard."""

from __future__ import annotations

import pytest

from tray_stt.desktop.inject import Deliverer
from tray_stt.pushtotalk.delivery import (
    DEFAULT_TERMINALS,
    DeliveryMode,
    Desktop,
    Plan,
    Window,
    detect_desktop,
    is_terminal,
    paste_keys,
    plan_delivery,
    should_restore,
    xdotool_keys,
)

XTERM = Window(1, ("xterm", "xterm"))
GEDIT = Window(2, ("gedit", "gedit"))


def test_detect_desktop() -> None:
    assert detect_desktop({"DISPLAY": ":0"}, "linux") is Desktop.X11
    assert detect_desktop({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux") is (
        Desktop.WAYLAND
    )
    assert detect_desktop({}, "linux") is Desktop.NONE
    assert detect_desktop({}, "darwin") is Desktop.MACOS
    assert detect_desktop({}, "win32") is Desktop.WINDOWS


@pytest.mark.parametrize(
    ("mode", "desktop", "tools", "plan"),
    [
        (DeliveryMode.PASTE, Desktop.X11, {"xdotool"}, Plan(DeliveryMode.PASTE, "xdotool")),
        (DeliveryMode.TYPE, Desktop.X11, {"xdotool"}, Plan(DeliveryMode.TYPE, "xdotool")),
        # Never pynput's type() on X11: wrong non-ASCII characters, ignored by terminals.
        (DeliveryMode.TYPE, Desktop.X11, set(), Plan(DeliveryMode.PASTE, "pynput")),
        (
            DeliveryMode.PASTE,
            Desktop.WAYLAND,
            {"wtype", "ydotool"},
            Plan(DeliveryMode.TYPE, "wtype"),
        ),
        (DeliveryMode.PASTE, Desktop.WAYLAND, {"ydotool"}, Plan(DeliveryMode.TYPE, "ydotool")),
        (
            DeliveryMode.PASTE,
            Desktop.WAYLAND,
            {"xdotool"},
            Plan(DeliveryMode.CLIPBOARD, None, True),
        ),
        (DeliveryMode.TYPE, Desktop.MACOS, set(), Plan(DeliveryMode.TYPE, "pynput")),
        (DeliveryMode.PASTE, Desktop.WINDOWS, set(), Plan(DeliveryMode.PASTE, "pynput")),
        (DeliveryMode.CLIPBOARD, Desktop.X11, {"xdotool"}, Plan(DeliveryMode.CLIPBOARD)),
        (DeliveryMode.PASTE, Desktop.NONE, set(), Plan(DeliveryMode.CLIPBOARD, None, True)),
    ],
)
def test_plan_delivery(mode: DeliveryMode, desktop: Desktop, tools: set[str], plan: Plan) -> None:
    assert plan_delivery(mode, desktop, tools) == plan


def test_terminals_get_ctrl_shift_v_and_macos_cmd_v() -> None:
    assert is_terminal(XTERM, DEFAULT_TERMINALS)
    assert not is_terminal(GEDIT, DEFAULT_TERMINALS)
    assert not is_terminal(None, DEFAULT_TERMINALS)
    assert is_terminal(Window(3, ("myterm", "MyTerm".lower())), ["MyTerm"])
    assert paste_keys(Desktop.X11, terminal=True) == ("ctrl", "shift", "v")
    assert paste_keys(Desktop.X11, terminal=False) == ("ctrl", "v")
    assert paste_keys(Desktop.MACOS, terminal=True) == ("cmd", "v")
    assert xdotool_keys(("ctrl", "shift", "v")) == "ctrl+shift+v"


def test_should_restore_only_when_the_clipboard_still_holds_our_text() -> None:
    assert should_restore("old", "ours", "ours")
    assert not should_restore("old", "the user copied this meanwhile", "ours")
    assert not should_restore("", "ours", "ours")  # nothing (or no text) to bring back
    assert not should_restore(None, "ours", "ours")


class FakeX11:
    def __init__(self, focused: Window | None) -> None:
        self.now = focused
        self.focused_calls: list[Window] = []

    def focused(self) -> Window | None:
        return self.now

    def focus(self, target: Window) -> None:
        self.focused_calls.append(target)
        self.now = target

    def wait_modifiers_released(self, timeout_s: float) -> bool:
        return True

    def close(self) -> None:
        pass


class Clipboard:
    def __init__(self, text: str) -> None:
        self.text = text
        self.history: list[str] = []

    def copy(self, text: str) -> None:
        self.text = text
        self.history.append(text)

    def paste(self) -> str:
        return self.text


def deliverer(
    mode: DeliveryMode, x11: FakeX11, clipboard: Clipboard, commands: list[list[str]]
) -> Deliverer:
    result = Deliverer(
        mode,
        env={"DISPLAY": ":0"},
        run=commands.append,
        copy=clipboard.copy,
        paste=clipboard.paste,
        x11=x11,  # type: ignore[arg-type]
        settle_s=0,
    )
    result.plan = Plan(mode, "xdotool")
    return result


def test_paste_into_terminal_restores_clipboard_and_refocuses_target() -> None:
    x11, clip, commands = FakeX11(GEDIT), Clipboard("PREVIOUS"), []
    deliverer(DeliveryMode.PASTE, x11, clip, commands).deliver("안녕 — é", XTERM)
    assert x11.focused_calls == [XTERM]
    assert commands == [["xdotool", "key", "ctrl+shift+v"]]
    assert clip.history == ["안녕 — é", "PREVIOUS"]


def test_type_uses_xdotool_type_and_leaves_the_clipboard() -> None:
    x11, clip, commands = FakeX11(GEDIT), Clipboard("PREVIOUS"), []
    deliverer(DeliveryMode.TYPE, x11, clip, commands).deliver("héllo", GEDIT)
    assert commands == [["xdotool", "type", "--delay", "2", "--", "héllo"]]
    assert clip.history == [] and x11.focused_calls == []


def test_blank_text_is_not_delivered() -> None:
    x11, clip, commands = FakeX11(GEDIT), Clipboard("PREVIOUS"), []
    deliverer(DeliveryMode.PASTE, x11, clip, commands).deliver("  ", GEDIT)
    assert commands == [] and clip.history == []


def test_failed_injection_is_a_notice_not_an_exception() -> None:
    notices: list[str] = []

    def fail(command: list[str]) -> None:
        raise FileNotFoundError(2, "not found", command[0])

    d = Deliverer(
        DeliveryMode.TYPE, env={}, run=fail, on_notice=notices.append, copy=lambda t: None
    )
    d.plan = Plan(DeliveryMode.TYPE, "wtype")
    d.deliver("text", None)
    assert notices == [
        "Could not deliver the text (wtype is not installed); it is in the daily log."
    ]


def typed(commands: list[list[str]]) -> list[str]:
    return [command[-1] for command in commands if command[1] == "type"]


def test_consecutive_turns_into_one_window_are_joined_like_typing() -> None:
    """Three turns were "Hello there.How are you.Fine." in the same field."""
    x11, clip, commands = FakeX11(GEDIT), Clipboard(""), []
    d = deliverer(DeliveryMode.TYPE, x11, clip, commands)
    for text in ("Hello there.", "How are you.", "Fine"):
        d.deliver(text, GEDIT)
    assert typed(commands) == ["Hello there.", " How are you.", " Fine"]


def test_joining_starts_afresh_in_another_window_later_or_when_off() -> None:
    now = [0.0]
    x11, clip, commands = FakeX11(GEDIT), Clipboard(""), []
    d = deliverer(DeliveryMode.TYPE, x11, clip, commands)
    d._clock = lambda: now[0]  # type: ignore[method-assign]
    d.deliver("Hello there.", GEDIT)
    d.deliver("In the terminal.", XTERM)  # another window: its own start
    now[0] = 500.0
    d.deliver("Much later.", XTERM)  # minutes later: the cursor may be anywhere
    d._join = False
    d.deliver("Glued.", XTERM)
    assert typed(commands) == ["Hello there.", "In the terminal.", "Much later.", "Glued."]


def test_paste_carries_the_joined_text_and_clipboard_mode_never_joins() -> None:
    x11, clip, commands = FakeX11(GEDIT), Clipboard(""), []
    d = deliverer(DeliveryMode.PASTE, x11, clip, commands)
    d.deliver("One.", GEDIT)
    d.deliver("two", GEDIT)
    assert clip.history[:2] == ["One.", " Two"]  # then the clipboard before " Two" comes back
    d.plan = Plan(DeliveryMode.CLIPBOARD)
    d.deliver("Three.", GEDIT)
    assert clip.history[-1] == "Three."
