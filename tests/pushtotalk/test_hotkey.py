"""The chord parser and the hotkey state machine: pure, no display needed."""

from __future__ import annotations

import pytest

from tray_stt.errors import ConfigError
from tray_stt.pushtotalk.hotkey import Chord, HotkeyMachine, HotkeyMode, key_name, parse_chord
from tray_stt.pushtotalk.talk import TalkAction


@pytest.mark.parametrize(
    ("text", "modifiers", "key"),
    [
        ("<ctrl>+<alt>+space", {"ctrl", "alt"}, "space"),
        ("ctrl+alt+space", {"ctrl", "alt"}, "space"),
        ("F9", set(), "f9"),
        ("<cmd>+;", {"cmd"}, ";"),
        ("Control_L+Shift+D", {"ctrl", "shift"}, "d"),
        ("<ctrl>++", {"ctrl"}, "+"),
        ("super+escape", {"cmd"}, "esc"),
        ("<ctrl>+<shift>", {"ctrl"}, "shift"),
    ],
)
def test_parse_chord_accepts_common_spellings(text: str, modifiers: set[str], key: str) -> None:
    assert parse_chord(text) == Chord(frozenset(modifiers), key)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("<ctrl>+<hyper>", "unknown key"),
        ("ctrl+ctrl+a", "twice"),
        ("ctrl+a+b", "more than one non-modifier"),
    ],
)
def test_parse_chord_refuses_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        parse_chord(text)


def test_chord_prints_back_in_a_canonical_order() -> None:
    assert str(parse_chord("space+alt+CTRL")) == "<ctrl>+<alt>+<space>"
    assert parse_chord(str(parse_chord("shift+f9"))) == parse_chord("shift+f9")


def test_key_name_folds_sides_and_aliases() -> None:
    assert [key_name(k) for k in ("ctrl_r", "Alt_L", "alt_gr", "Escape", "A")] == [
        "ctrl",
        "alt",
        "alt",
        "esc",
        "a",
    ]


def hold(machine: HotkeyMachine, keys: list[tuple[str, str]]) -> list[TalkAction]:
    """Feed ("down"|"up", key) steps; the actions that came out."""
    actions = []
    for step, key in keys:
        action = machine.press(key) if step == "down" else machine.release(key)
        if action is not None:
            actions.append(action)
    return actions


def test_hold_starts_on_the_full_chord_and_stops_on_its_release() -> None:
    machine = HotkeyMachine(parse_chord("<ctrl>+<alt>+space"))
    steps = [("down", "ctrl"), ("down", "alt"), ("down", "space")]
    steps += [("up", "space"), ("up", "alt"), ("up", "ctrl")]
    assert hold(machine, steps) == [TalkAction.PRESS, TalkAction.RELEASE]


def test_hold_auto_repeat_gives_one_turn() -> None:
    machine = HotkeyMachine(parse_chord("f9"))
    steps = [("down", "f9")] * 15 + [("up", "f9")]  # what Xvfb sends for a 1.2 s hold
    assert hold(machine, steps) == [TalkAction.PRESS, TalkAction.RELEASE]


def test_hold_other_keys_neither_start_nor_stop() -> None:
    machine = HotkeyMachine(parse_chord("<ctrl>+space"))
    steps = [("down", "space"), ("up", "space"), ("down", "ctrl"), ("down", "a"), ("up", "a")]
    assert hold(machine, steps) == []


def test_escape_cancels_and_the_release_then_does_nothing() -> None:
    machine = HotkeyMachine(parse_chord("f9"))
    steps = [("down", "f9"), ("down", "esc"), ("up", "esc"), ("up", "f9")]
    assert hold(machine, steps) == [TalkAction.PRESS, TalkAction.CANCEL]
    assert not machine.active


def test_escape_when_idle_is_ignored() -> None:
    machine = HotkeyMachine(parse_chord("f9"))
    assert hold(machine, [("down", "esc"), ("up", "esc")]) == []


def test_toggle_starts_on_one_press_and_stops_on_the_next() -> None:
    machine = HotkeyMachine(parse_chord("<ctrl>+<alt>+d"), HotkeyMode.TOGGLE)
    press = [("down", "ctrl"), ("down", "alt"), ("down", "d"), ("down", "d"), ("up", "d")]
    release = [("up", "alt"), ("up", "ctrl")]
    assert hold(machine, press + release) == [TalkAction.PRESS]
    assert machine.active
    assert hold(machine, press + release) == [TalkAction.RELEASE]
    assert not machine.active


def test_toggle_escape_cancels() -> None:
    machine = HotkeyMachine(parse_chord("f8"), HotkeyMode.TOGGLE)
    steps = [("down", "f8"), ("up", "f8"), ("down", "esc"), ("up", "esc")]
    assert hold(machine, steps) == [TalkAction.PRESS, TalkAction.CANCEL]


def test_held_reports_keys_down() -> None:
    machine = HotkeyMachine(parse_chord("<ctrl>+space"))
    hold(machine, [("down", "ctrl"), ("down", "space"), ("up", "space")])
    assert machine.held == {"ctrl"}
