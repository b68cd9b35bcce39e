"""Delivery decisions (pure) and the Deliverer's steps with fake tools and clipboard."""

from __future__ import annotations

import pytest

from tray_stt.desktop.inject import Deliverer
from tray_stt.pushtotalk.delivery import (
    DEFAULT_TERMINALS,
    DEFAULT_WINDOW_RULES,
    DeliveryMode,
    Desktop,
    Plan,
    Window,
    WindowRule,
    detect_desktop,
    is_terminal,
    parse_window_rule,
    paste_keys,
    plan_delivery,
    should_restore,
    window_rule,
    xdotool_keys,
)

PASTE = DeliveryMode.PASTE
XTERM = Window(1, ("xterm", "xterm"))
KITTY = Window(3, ("kitty", "kitty"))
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
        (DeliveryMode.PRIMARY, Desktop.X11, {"xdotool"}, Plan(DeliveryMode.PRIMARY, "xdotool")),
        (DeliveryMode.PRIMARY, Desktop.X11, set(), Plan(DeliveryMode.PRIMARY, "pynput")),
        (DeliveryMode.PRIMARY, Desktop.MACOS, set(), Plan(DeliveryMode.PASTE, "pynput")),
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
    deliverer(DeliveryMode.PASTE, x11, clip, commands).deliver("안녕 — é", KITTY)
    assert x11.focused_calls == [KITTY]
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

    copied: list[str] = []
    d = Deliverer(DeliveryMode.TYPE, env={}, run=fail, on_notice=notices.append, copy=copied.append)
    d.plan = Plan(DeliveryMode.TYPE, "wtype")
    d.deliver("text", None)
    assert notices == [
        "Could not deliver the text (wtype is not installed); it is on the clipboard (press "
        "Ctrl+V to paste it) and in the daily log."
    ]
    assert copied == ["text"]


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
    d.deliver("In the terminal.", KITTY)  # another window: its own start
    now[0] = 500.0
    d.deliver("Much later.", KITTY)  # minutes later: the cursor may be anywhere
    d._join = False
    d.deliver("Glued.", KITTY)
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


def test_stock_xterm_gets_the_primary_selection_and_shift_insert() -> None:
    """Ctrl+Shift+V reached a stock xterm as a literal ^V, which swallowed the next key, and
    xdotool type garbles non-ASCII there: Shift+Insert pastes PRIMARY in every xterm."""
    x11, clip, commands = FakeX11(XTERM), Clipboard("PREVIOUS"), []
    primary: list[str] = []
    d = deliverer(DeliveryMode.PASTE, x11, clip, commands)
    d._copy_primary = primary.append
    d._tools = {"xdotool"}
    d.deliver("안녕 — é", XTERM)
    assert primary == ["안녕 — é"]
    assert commands == [["xdotool", "key", "shift+Insert"]]
    assert clip.history == []  # the CLIPBOARD is left alone


def test_window_rules_choose_the_mode_and_a_key_after_the_text() -> None:
    x11, clip, commands = FakeX11(GEDIT), Clipboard(""), []
    d = Deliverer(
        DeliveryMode.PASTE,
        env={"DISPLAY": ":0"},
        run=commands.append,
        copy=clip.copy,
        paste=clip.paste,
        x11=x11,  # type: ignore[arg-type]
        settle_s=0,
        window_rules={"Slack": parse_window_rule("type+Return"), "xterm": WindowRule(PASTE)},
    )
    d._tools = {"xdotool"}
    d.plan = Plan(DeliveryMode.PASTE, "xdotool")
    d.deliver("Sent.", Window(4, ("slack", "Slack")))
    d.deliver("Pasted.", XTERM)  # the user's rule replaces the default for xterm
    assert commands == [
        ["xdotool", "type", "--delay", "2", "--", "Sent."],
        ["xdotool", "key", "Return"],
        ["xdotool", "key", "ctrl+shift+v"],
    ]


def test_parse_window_rule() -> None:
    assert parse_window_rule("type") == WindowRule(DeliveryMode.TYPE)
    assert parse_window_rule("paste+Return") == WindowRule(PASTE, "Return")
    for bad in ("teleport", "paste+", ""):
        with pytest.raises(ValueError):
            parse_window_rule(bad)
    assert window_rule(None, {"xterm": WindowRule(PASTE)}) is None
    assert window_rule(GEDIT, dict(DEFAULT_WINDOW_RULES)) is None
    urxvt = Window(3, ("rxvt", "urxvt"))  # `rxvt` runs rxvt-unicode: the class still matches
    assert window_rule(urxvt, dict(DEFAULT_WINDOW_RULES)) == WindowRule(DeliveryMode.PRIMARY)


def test_copy_transcripts_to_clipboard_keeps_the_pasted_text_there() -> None:
    """With "Copy transcripts to clipboard" on, the old clipboard was restored over the text."""
    x11, clip, commands = FakeX11(GEDIT), Clipboard("PREVIOUS"), []
    d = deliverer(DeliveryMode.PASTE, x11, clip, commands)
    d._keep = True
    d.deliver("Dictated.", GEDIT)
    assert clip.history == ["Dictated."] and clip.text == "Dictated."
