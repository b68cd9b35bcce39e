"""TrayApp (app/service.py) on a thread: FakeIcon, the real control socket, a fake hotkey."""

from __future__ import annotations

import threading
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.controller_fakes import FakeListening, FakeNotifier
from tests.support.tray_harness import FakeHotkey, FakeIcon, RunningApp, icon_is, labels
from tray_stt.app.control import send_command
from tray_stt.app.service import WAYLAND_HOTKEY, TrayApp
from tray_stt.autostart.xdg import XdgAutostart
from tray_stt.config import Config
from tray_stt.errors import HotkeyUnavailable
from tray_stt.pushtotalk.talk import DictationState, TalkAction
from tray_stt.realtime.events import SessionReady, TranscriptCompleted, TranscriptDelta
from tray_stt.realtime.models import Dialect
from tray_stt.tray.icons import IconState


def test_tray_app_reflects_control_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAY_STT_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")  # the app sets it for pystray; restored after
    icons: list[FakeIcon] = []

    def make_icon(*args: Any, **kwargs: Any) -> FakeIcon:
        icons.append(FakeIcon(*args, **kwargs))
        return icons[-1]

    workers: list[FakeListening] = []

    def listen(config: Config, on_event: Any, on_end: Any) -> FakeListening:
        workers.append(FakeListening(on_event, on_end))
        return workers[-1]

    app = TrayApp(
        tmp_path / "config.toml",
        quiet=True,
        environ={
            "PYSTRAY_BACKEND": "dummy",
            "OPENAI_API_KEY": "test-key",
            "TRAY_STT_LOG_DIR": str(tmp_path / "logs"),
        },
        listen=listen,
        notifier=FakeNotifier(),  # type: ignore[arg-type]
        autostart=XdgAutostart(tmp_path / "home", ["/bin/true"], environ={}),
        view_options={
            "icon_class": make_icon,
            "ui_call": lambda call: icons[0].call_soon(call),
        },
    )
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(app.run()), daemon=True)
    runner.start()
    directory = tmp_path / "run"
    while not (directory / "control.sock").exists() and runner.is_alive():
        threading.Event().wait(0.01)  # in-process, send_command cannot tell it is starting
    assert send_command("status", directory=directory)["state"] == "idle"
    while not icons or icons[0].loop_thread is None:
        threading.Event().wait(0.01)
    icon = icons[0]
    icon.wait(lambda: any(kind == "show" for kind, _, _ in icon.events))
    assert send_command("toggle", directory=directory) == {"ok": True}
    icon.wait(lambda: icon.title == "tray-stt: connecting")
    icon.on_loop(lambda: None)
    assert labels(icon.menu)[:3] == ["Connecting…", "----", "Stop listening"]
    assert icon_is(icon.icon, IconState.CONNECTING)
    workers[0].on_event(SessionReady(Dialect.GA, None))
    icon.wait(lambda: icon.title == "tray-stt: listening")
    status = send_command("status", directory=directory)
    assert status["state"] == "listening" and status["model"] == "gpt-transcribe"
    assert send_command("stop", directory=directory) == {"ok": True}
    icon.wait(lambda: icon.title == "tray-stt: idle")
    assert send_command("quit", directory=directory) == {"ok": True}
    runner.join(10)
    assert result == [0]


def test_tray_app_press_and_release_commands_dictate_with_live_text_in_the_title(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = RunningApp(tmp_path, monkeypatch)  # no display: no hotkey, the commands drive it
    assert app.command("status")["dictation"] == "idle"
    assert app.dictations.opened == []  # nothing opened before the first press
    assert app.command("press") == {"ok": True}
    app.wait_title("tray-stt: dictating")
    assert icon_is(app.icon.icon, IconState.SPEECH)
    [talk] = app.dictations.opened
    talk.on_event(TranscriptDelta("i1", "Hello wor", "Hello wor"))
    app.wait_title("tray-stt: dictating · Hello wor")
    assert app.command("release") == {"ok": True}
    app.wait_title("tray-stt: transcribing · Hello wor")
    talk.on_event(TranscriptCompleted("Hello world.", datetime.now().astimezone(), "i1"))
    talk.dictation.on_state(DictationState.IDLE)
    app.wait_title("tray-stt: idle · Hello world.")
    assert icon_is(app.icon.icon, IconState.IDLE)
    status = app.command("status")
    assert (status["dictation"], status["today"], status["listening"]) == ("idle", 1, False)
    # The dictation logged its transcript; the tray added none.
    assert app.log_dir.joinpath(f"{date.today():%Y-%m-%d}.txt").read_text().count("\n") == 1
    assert app.command("talk") == {"ok": True}  # a shortcut that fires on press only
    app.icon.wait(lambda: talk.dictation.calls == ["press", "release", "toggle"])
    assert app.app.hotkey is None and FakeHotkey.made == []  # headless: no key listener
    changes = [thread for kind, _, thread in app.icon.events if kind != "menu"]
    assert set(changes) == {app.icon.loop_thread}
    app.quit()
    assert talk.closed.is_set()


def test_tray_app_hotkey_on_x11_drives_the_dictation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = RunningApp(tmp_path, monkeypatch, environ={"DISPLAY": ":42"})
    [hotkey] = FakeHotkey.made
    assert hotkey.running and hotkey.desktop.value == "x11"
    hotkey.on_action(TalkAction.PRESS)  # as pynput's listener thread calls it
    app.wait_title("tray-stt: dictating")
    hotkey.on_action(TalkAction.CANCEL)
    app.wait_title("tray-stt: idle")
    hotkey.on_action(TalkAction.PRESS)
    hotkey.on_action(TalkAction.RELEASE)
    app.wait_title("tray-stt: transcribing")
    [talk] = app.dictations.opened  # still warm: the same microphone and connection
    assert talk.dictation.calls == ["press", "cancel", "press", "release"]
    app.quit()
    assert not hotkey.running


def test_tray_app_hotkey_unavailable_notifies_and_the_commands_still_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    problem = HotkeyUnavailable("macOS does not let tray-stt see the keyboard.")
    app = RunningApp(tmp_path, monkeypatch, environ={"DISPLAY": ":42"}, hotkey_fails=problem)
    [note] = [n for n in app.notifier.shown if "hotkey" in n[1]]
    assert note[2] is True  # urgent
    assert "see the keyboard" in note[1] and "`tray-stt press`" in note[1]
    assert app.app.hotkey is None
    assert app.command("press") == {"ok": True}
    app.wait_title("tray-stt: dictating")
    app.quit()


def test_tray_app_on_wayland_says_to_bind_desktop_shortcuts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = RunningApp(tmp_path, monkeypatch, environ={"WAYLAND_DISPLAY": "wayland-0"}, quiet=False)
    assert FakeHotkey.made == []  # pynput there would hear only XWayland windows
    assert ("tray-stt", WAYLAND_HOTKEY, False) in app.notifier.shown
    assert "`tray-stt press`" in WAYLAND_HOTKEY and "`tray-stt release`" in WAYLAND_HOTKEY
    assert app.command("press") == {"ok": True}
    app.wait_title("tray-stt: dictating")
    app.quit()


def test_tray_app_hotkey_off_listens_to_no_key_and_the_commands_still_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = RunningApp(tmp_path, monkeypatch, environ={"DISPLAY": ":42", "TRAY_STT_HOTKEY": "OFF"})
    assert FakeHotkey.made == [] and app.app.hotkey is None
    assert not any("hotkey" in body for _, body, _ in app.notifier.shown)  # off is not an error
    assert app.command("press") == {"ok": True}
    app.wait_title("tray-stt: dictating")
    app.quit()


def test_tray_app_shows_the_icon_and_serves_while_the_hotkey_is_still_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A portal dialog or the macOS helper process may take a while: the tray does not wait."""
    gate = threading.Event()
    app = RunningApp(tmp_path, monkeypatch, environ={"DISPLAY": ":42"}, hotkey_gate=gate)
    assert app.command("status")["ok"] is True  # icon shown, socket serving, hotkey not yet
    assert app.app.hotkey is None and not app.app.hotkey_settled.is_set()
    gate.set()
    assert app.app.hotkey_settled.wait(10)
    [hotkey] = FakeHotkey.made
    assert hotkey.running and app.app.hotkey is hotkey
    app.quit()
    assert not hotkey.running


def test_tray_app_quit_while_the_hotkey_is_starting_stops_it_once_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()
    app = RunningApp(tmp_path, monkeypatch, environ={"DISPLAY": ":42"}, hotkey_gate=gate)
    app.quit()
    gate.set()
    assert app.app.hotkey_settled.wait(10)
    [hotkey] = FakeHotkey.made
    assert not hotkey.running and app.app.hotkey is None


def test_tray_app_key_dialog_does_not_freeze_the_tray(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the API-key dialog was open the tray did nothing (its menu thread waited)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    t = RunningApp(tmp_path, monkeypatch)
    typed = threading.Event()
    t.app.ask_secret = lambda title, prompt: "sk-new" if typed.wait(10) else ""
    try:
        t.app.ask_api_key()  # what the menu item calls, on the tray's thread
        t.app.ask_api_key()  # a second click while the dialog is open opens no second one
        assert t.command("status")["ok"]  # the tray answers while the dialog is open
        typed.set()
        note = "the API key is stored in"
        assert wait_for(lambda: any(note in body for _, body, _ in t.notifier.shown))
        assert sum(note in body for _, body, _ in t.notifier.shown) == 1
    finally:
        t.quit()


def test_tray_app_open_log_without_xdg_open_is_a_notification(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    t = RunningApp(tmp_path, monkeypatch)
    try:
        t.app.open(tmp_path / "logs" / "today.txt")
        [(_, body, urgent)] = [n for n in t.notifier.shown if "xdg-open" in n[1]]
        assert "today.txt" in body and "xdg-utils" in body and urgent
    finally:
        t.quit()


def wait_for(condition: Any, timeout: float = 10.0) -> bool:
    waiter = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if condition():
            return True
        waiter.wait(0.02)
    return False


def test_tray_app_first_run_without_a_key_says_what_to_do_once_and_not_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A critical "No API key is set" arrived together with "Ready: click the icon"."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    t = RunningApp(tmp_path, monkeypatch, environ={"OPENAI_API_KEY": ""}, quiet=False)
    try:
        assert wait_for(lambda: any("No API key" in body for _, body, _ in t.notifier.shown))
        t.icon.on_loop(lambda: None)  # whatever the start-up said, it has said by now
        bodies = [body for _, body, _ in t.notifier.shown]
        assert sum("No API key" in body for body in bodies) == 1
        assert "set-key" in next(b for b in bodies if "No API key" in b)
        assert not any(body.startswith("Ready") for body in bodies), bodies
    finally:
        t.quit()
