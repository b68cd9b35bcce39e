"""The GlobalShortcuts portal hotkey against a fake portal on a private session bus."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_portal import FakePortal
from tray_stt.desktop.portal_hotkey import (
    SHORTCUT_ID,
    PortalHotkey,
    portal_trigger,
    request_path,
    session_path,
)
from tray_stt.errors import HotkeyUnavailable
from tray_stt.pushtotalk.hotkey import HotkeyMode, parse_chord
from tray_stt.pushtotalk.talk import TalkAction

WAIT_S = 5.0  # a bound on waiting for a signal to arrive, not a timing assertion


@pytest.fixture
def portal(private_session_bus: str, tmp_path: Path) -> Iterator[FakePortal]:
    fake = FakePortal(private_session_bus, tmp_path / "portal.jsonl")
    try:
        yield fake
    finally:
        fake.stop()


class Recorder:
    """The on_action callback: the actions in the order the reader thread reported them."""

    def __init__(self) -> None:
        self.actions: queue.Queue[TalkAction] = queue.Queue()

    def __call__(self, action: TalkAction) -> None:
        self.actions.put(action)

    def next(self) -> TalkAction:
        return self.actions.get(timeout=WAIT_S)

    def nothing_more(self) -> None:
        """Nothing else reported so far (an extra action between two expected ones would have
        broken the order the tests check already)."""
        assert self.actions.empty()


def started(
    portal: FakePortal, mode: HotkeyMode = HotkeyMode.HOLD, chord: str = "<ctrl>+<alt>+space"
) -> tuple[PortalHotkey, Recorder]:
    recorder = Recorder()
    hotkey = PortalHotkey(
        parse_chord(chord),
        mode,
        recorder,
        environ={"DBUS_SESSION_BUS_ADDRESS": portal.bus_address},
    )
    hotkey.start()
    return hotkey, recorder


# -- the trigger format and the object paths, without a bus -----------------------------------


@pytest.mark.parametrize(
    ("chord", "trigger"),
    [
        ("<ctrl>+<alt>+space", "CTRL+ALT+space"),
        ("alt+ctrl+space", "CTRL+ALT+space"),  # one order, whatever the config's
        ("F9", "F9"),
        ("<cmd>+<shift>+a", "SHIFT+LOGO+a"),
        ("ctrl+;", "CTRL+semicolon"),
        ("ctrl++", "CTRL+plus"),
        ("<ctrl>+enter", "CTRL+Return"),
        ("<alt>+page_up", "ALT+Page_Up"),
        ("ctrl+esc", "CTRL+Escape"),
        ("ctrl+7", "CTRL+7"),
        ("ctrl+é", "CTRL+U00E9"),
        ("<ctrl>", "Control_L"),
    ],
)
def test_trigger_in_the_xdg_shortcuts_format(chord: str, trigger: str) -> None:
    assert portal_trigger(parse_chord(chord)) == trigger


def test_request_and_session_paths_follow_the_portal_rule() -> None:
    assert request_path(":1.42", "tok_1") == "/org/freedesktop/portal/desktop/request/1_42/tok_1"
    assert session_path(":1.42", "s_2") == "/org/freedesktop/portal/desktop/session/1_42/s_2"


# -- against the fake portal ------------------------------------------------------------------


def test_bind_sends_the_trigger_and_uses_the_paths_the_portal_computes(
    portal: FakePortal,
) -> None:
    hotkey, _ = started(portal)
    try:
        (register,) = portal.calls("Register")
        assert register["app_id"] == "tray-stt"  # xdg-desktop-portal 1.21+ wants an app id
        (create,) = portal.calls("CreateSession")
        (bind,) = portal.calls("BindShortcuts")
        # We subscribed to exactly the Request paths the portal answered on, before calling.
        assert hotkey.request_paths == [create["request_path"], bind["request_path"]]
        assert hotkey.session_handle == create["session_handle"] == bind["session_handle"]
        assert bind["shortcuts"] == [
            [
                SHORTCUT_ID,
                {
                    "description": "tray-stt: dictate (hold to talk)",
                    "preferred_trigger": "CTRL+ALT+space",
                },
            ]
        ]
        assert bind["parent_window"] == ""
        assert hotkey.bound_trigger == "CTRL+ALT+space"
        assert portal.calls("Close") == []
    finally:
        hotkey.stop()


def test_hold_mode_press_starts_and_release_stops(portal: FakePortal) -> None:
    hotkey, recorder = started(portal)
    try:
        portal.emit("Activated")
        assert recorder.next() is TalkAction.PRESS
        portal.emit("Deactivated")
        assert recorder.next() is TalkAction.RELEASE
        portal.emit("Activated")
        assert recorder.next() is TalkAction.PRESS
        portal.emit("Deactivated")
        assert recorder.next() is TalkAction.RELEASE
        recorder.nothing_more()
    finally:
        hotkey.stop()


def test_toggle_mode_press_starts_and_the_next_press_stops(portal: FakePortal) -> None:
    hotkey, recorder = started(portal, HotkeyMode.TOGGLE, chord="F9")
    try:
        portal.emit("Activated")
        assert recorder.next() is TalkAction.PRESS
        portal.emit("Deactivated")  # the release does nothing in toggle mode
        portal.emit("Activated")
        assert recorder.next() is TalkAction.RELEASE
        portal.emit("Deactivated")
        portal.emit("Activated")
        assert recorder.next() is TalkAction.PRESS
        recorder.nothing_more()
    finally:
        hotkey.stop()


def test_repeated_activated_without_deactivated_starts_one_turn(portal: FakePortal) -> None:
    hotkey, recorder = started(portal)
    try:
        for _ in range(4):  # what a desktop repeating the press would send
            portal.emit("Activated")
        portal.emit("Deactivated")
        assert recorder.next() is TalkAction.PRESS
        assert recorder.next() is TalkAction.RELEASE  # in order: no second START came between them
        recorder.nothing_more()
    finally:
        hotkey.stop()


def test_stop_closes_the_portal_session(portal: FakePortal) -> None:
    hotkey, _ = started(portal)
    session = hotkey.session_handle
    hotkey.stop()
    (close,) = portal.calls("Close")
    assert close["path"] == session
    assert close["interface"] == "org.freedesktop.portal.Session"
    hotkey.stop()  # a second stop does nothing
    assert len(portal.calls("Close")) == 1


def test_no_portal_on_the_bus_is_unavailable_with_a_sentence(
    private_session_bus: str,
) -> None:
    hotkey = PortalHotkey(
        parse_chord("F9"),
        HotkeyMode.HOLD,
        Recorder(),
        environ={"DBUS_SESSION_BUS_ADDRESS": private_session_bus},
    )
    with pytest.raises(HotkeyUnavailable, match=r"^No xdg-desktop-portal runs on .*\.$"):
        hotkey.start()


def test_no_session_bus_is_unavailable_with_a_sentence() -> None:
    hotkey = PortalHotkey(parse_chord("F9"), HotkeyMode.HOLD, Recorder(), environ={})
    with pytest.raises(HotkeyUnavailable, match=r"no D-Bus session bus.*\.$"):
        hotkey.start()


def test_a_portal_without_global_shortcuts_is_unavailable(
    private_session_bus: str,
    tmp_path: Path,
) -> None:
    fake = FakePortal(private_session_bus, tmp_path / "portal.jsonl", no_shortcuts=True)
    try:
        with pytest.raises(HotkeyUnavailable, match=r"has no GlobalShortcuts interface"):
            started(fake)
        assert fake.calls("CreateSession") == []
    finally:
        fake.stop()


def test_user_declining_the_binding_is_unavailable_and_closes_the_session(
    private_session_bus: str,
    tmp_path: Path,
) -> None:
    fake = FakePortal(private_session_bus, tmp_path / "portal.jsonl", decline=True)
    try:
        with pytest.raises(HotkeyUnavailable, match=r"^The push-to-talk shortcut was declined"):
            started(fake)
        (create,) = fake.calls("CreateSession")
        (close,) = fake.calls("Close")
        assert close["path"] == create["session_handle"]
    finally:
        fake.stop()


# -- the tray on Wayland ----------------------------------------------------------------------


def test_tray_on_wayland_dictates_through_the_portal_shortcut(
    portal: FakePortal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.tray_harness import RunningApp
    from tray_stt.app.service import WAYLAND_HOTKEY

    environ = {"WAYLAND_DISPLAY": "wayland-0", "DBUS_SESSION_BUS_ADDRESS": portal.bus_address}
    app = RunningApp(tmp_path, monkeypatch, environ=environ, quiet=False)
    (bind,) = portal.calls("BindShortcuts")
    assert bind["shortcuts"][0][1]["preferred_trigger"] == "CTRL+ALT+space"  # the default chord
    assert ("tray-stt", WAYLAND_HOTKEY, False) not in app.notifier.shown
    portal.emit("Activated")
    app.wait_title("tray-stt: dictating")
    portal.emit("Deactivated")  # the release ends the turn: what was said goes to be transcribed
    app.wait_title("tray-stt: transcribing")
    app.quit()
    (close,) = portal.calls("Close")
    assert close["path"] == bind["session_handle"]
