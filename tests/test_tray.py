"""The tray's real menu model and state display, driven through a fake pystray Icon (no display).

``FakeIcon`` is a ``pystray._base.Icon`` (platform-notes §1): its loop runs on the thread that calls
``run`` (the "tray thread") and executes whatever the view hands it there, and it records every
change to the icon, title and menu with the thread it happened on. Clicks go through
``Icon._handler``, the wrapper the real backends use, on the tray thread.
"""

from __future__ import annotations

import queue
import threading
import tomllib
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.controller_fakes import Dictations, FakeAutostart, FakeListening, FakeNotifier

with pytest.MonkeyPatch.context() as _patch:
    # pystray picks its backend at import; without a display only "dummy" imports.
    _patch.setenv("PYSTRAY_BACKEND", "dummy")
    from pystray import _base

from tray_stt import __version__
from tray_stt.app.control import send_command
from tray_stt.app.controller import (
    AppState,
    Controller,
    DictationFactory,
    Quit,
    Snapshot,
    Talk,
    TalkAction,
)
from tray_stt.app.service import WAYLAND_HOTKEY, TrayApp, open_dictation
from tray_stt.autostart.common import XdgAutostart
from tray_stt.config import Config, load_config, save_settings
from tray_stt.desktop.keyboard import HotkeyUnavailable
from tray_stt.errors import AudioInputError, AuthenticationError
from tray_stt.pushtotalk.dictation import DICTATION_STOPPED, DictationState
from tray_stt.pushtotalk.hotkey import Action
from tray_stt.realtime.events import (
    Event,
    Notice,
    SessionReady,
    SpeechStarted,
    SpeechStopped,
    TranscriptCompleted,
    TranscriptDelta,
)
from tray_stt.realtime.models import MODELS, Dialect
from tray_stt.tray.icons import IconState, load_icon
from tray_stt.tray.view import (
    LANGUAGES,
    TITLE_LIMIT,
    TrayActions,
    TrayView,
    choose_linux_backend,
    fit_icon,
    icon_state,
    title_for,
)

CONFIG_TEXT = '# my settings, keep this comment\nmodel = "gpt-transcribe"  # chosen by hand\n'
TOP_LEVEL = [
    "Start listening",
    "Copy transcripts to clipboard",
    "Language",
    "Model",
    "----",
    "Open today's log",
    "Open log folder",
    "Start at login",
    "Set API key…",
    "Settings",
    f"About tray-stt {__version__}",
    "----",
    "Quit",
]


class FakeIcon(_base.Icon):  # type: ignore[misc]
    """A pystray Icon whose loop drains a queue of calls on the thread that runs it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.events: list[tuple[str, Any, int]] = []
        self.calls: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self.loop_thread: int | None = None
        self.changed = threading.Condition()
        super().__init__(*args, **kwargs)

    # -- what the view sees as the platform ------------------------------------------------------

    def call_soon(self, call: Callable[[], None]) -> None:
        """The view's ``ui_call``: run ``call`` on the tray thread, like a native main loop."""
        self.calls.put(call)

    def _record(self, kind: str, value: Any) -> None:
        with self.changed:
            self.events.append((kind, value, threading.get_ident()))
            self.changed.notify_all()

    def _show(self) -> None:
        self._record("show", None)

    def _hide(self) -> None:
        self._record("hide", None)

    def _update_icon(self) -> None:
        self._record("icon", self.icon)
        self._icon_valid = True

    def _update_title(self) -> None:
        self._record("title", self.title)

    def _update_menu(self) -> None:
        self._record("menu", None)

    def _notify(self, message: str, title: str | None = None) -> None:
        self._record("notify", (title, message))

    def _run(self) -> None:
        self.loop_thread = threading.get_ident()
        self._mark_ready()
        while (call := self.calls.get()) is not None:
            call()

    def _stop(self) -> None:
        self.calls.put(None)

    # -- what the tests do ---------------------------------------------------------------------

    def on_loop(self, call: Callable[[], Any]) -> Any:
        """Run ``call`` on the tray thread and return its result."""
        result: queue.Queue[Any] = queue.Queue()
        self.calls.put(lambda: result.put(call()))
        return result.get(timeout=5)

    def click(self) -> None:
        """A left click: the default item, through the backends' handler."""
        self.on_loop(lambda: self._handler(lambda icon: icon())())

    def choose(self, *path: str) -> None:
        """Activate the item reached by following ``path`` (labels) through the menu."""
        item = find(self.menu, *path)
        self.on_loop(lambda: self._handler(item)())

    def wait(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        with self.changed:
            assert self.changed.wait_for(predicate, timeout), self.events[-5:]

    def last(self, kind: str) -> Any:
        return [value for k, value, _ in self.events if k == kind][-1]

    def count(self, kind: str) -> int:
        return sum(1 for k, _, _ in self.events if k == kind)


def labels(menu: Any) -> list[str]:
    return ["----" if item is _base.Menu.SEPARATOR else item.text for item in menu.items]


def find(menu: Any, *path: str) -> Any:
    for label in path[:-1]:
        menu = next(item for item in menu.items if item.text == label).submenu
    return next(item for item in menu.items if item.text == path[-1])


def checked_items(menu: Any, label: str) -> list[str]:
    return [item.text for item in find(menu, label).submenu.items if item.checked]


class Tray:
    """A real Controller and a real TrayView on a FakeIcon, the tray loop on its own thread."""

    def __init__(
        self,
        tmp_path: Path,
        env: dict[str, str] | None = None,
        dictate: DictationFactory | None = None,
    ) -> None:
        self.config_file = tmp_path / "config.toml"
        self.config_file.write_text(CONFIG_TEXT)
        self.env = {"OPENAI_API_KEY": "test-key", **(env or {})}
        self.env["TRAY_STT_LOG_DIR"] = str(tmp_path / "logs")
        self.workers: list[FakeListening] = []
        self.opened: list[str] = []
        self.autostart = FakeAutostart()
        self.notifier = FakeNotifier()
        self.controller = Controller(
            self.load(),
            listen=self.listen,
            notifier=self.notifier,
            save=lambda changes: save_settings(self.config_file, changes),
            reload=self.load,
            autostart=self.autostart,
            on_change=lambda snapshot: self.view.show(snapshot),
            dictate=dictate,
        )
        actions = TrayActions(
            open_log=lambda: self.opened.append("log"),
            open_log_folder=lambda: self.opened.append("folder"),
            open_settings=lambda: self.opened.append("settings"),
            ask_api_key=lambda: self.opened.append("key"),
            about=lambda: self.opened.append("about"),
        )
        self.icons: list[FakeIcon] = []
        self.view = TrayView(
            self.controller.post,
            lambda: self.controller.snapshot,
            actions,
            icon_class=self.make_icon,
            ui_call=lambda call: self.icons[0].call_soon(call),
        )
        self.worker = threading.Thread(target=self.controller.run, daemon=True)
        self.worker.start()
        self.tray_thread = threading.Thread(target=self.view.run, name="tray", daemon=True)
        self.tray_thread.start()
        assert self.view.wait_ready(5)

    def load(self) -> Config:
        return load_config(self.config_file, must_exist=True, env=self.env, overrides={})

    def make_icon(self, *args: Any, **kwargs: Any) -> FakeIcon:
        self.icons.append(FakeIcon(*args, **kwargs))
        return self.icons[-1]

    @property
    def icon(self) -> FakeIcon:
        return self.icons[0]

    def listen(
        self, config: Config, on_event: Callable[[Event], None], on_end: Callable[[Any], None]
    ) -> FakeListening:
        self.workers.append(FakeListening(on_event, on_end))
        return self.workers[-1]

    def wait(self, predicate: Callable[[Snapshot], bool]) -> Snapshot:
        """Wait until the controller's state matches and the icon has shown it."""
        self.icon.wait(lambda: predicate(self.controller.snapshot))
        wanted = title_for(self.controller.snapshot)
        self.icon.wait(lambda: self.icon.title == wanted)
        self.icon.on_loop(lambda: None)  # what the view queued before now has run
        return self.controller.snapshot

    def file(self) -> dict[str, Any]:
        return tomllib.loads(self.config_file.read_text())

    def close(self) -> None:
        self.controller.post(Quit())
        self.view.stop()
        self.worker.join(5)
        self.tray_thread.join(5)


@pytest.fixture
def tray(tmp_path: Path) -> Iterator[Tray]:
    t = Tray(tmp_path)
    yield t
    t.close()


def icon_is(image: Any, state: IconState) -> bool:
    return bool(image.tobytes() == load_icon(state).tobytes())


# -- the menu model ------------------------------------------------------------------------------


def test_tray_menu_items_in_order(tray: Tray) -> None:
    menu = tray.icon.menu
    assert labels(menu) == TOP_LEVEL
    defaults = [item.text for item in menu.items if item.default]
    assert defaults == ["Start listening"]
    assert labels(find(menu, "Language").submenu) == [label for _, label in LANGUAGES]
    models = labels(find(menu, "Model").submenu)
    assert set(models) == set(MODELS)
    current = [MODELS[name].shutdown is None for name in models]
    assert current == sorted(current, reverse=True)  # models being retired come last
    for submenu in ("Language", "Model"):
        assert all(item.radio for item in find(menu, submenu).submenu.items)
    assert checked_items(menu, "Language") == ["Detect automatically"]
    assert checked_items(menu, "Model") == ["gpt-transcribe"]
    assert find(menu, "Copy transcripts to clipboard").checked is False
    assert find(menu, "Start at login").checked is False


def test_tray_left_click_toggles_listening(tray: Tray) -> None:
    assert icon_is(tray.icon.icon, IconState.IDLE)
    tray.icon.click()
    snapshot = tray.wait(lambda s: s.listening)
    assert snapshot.state is AppState.CONNECTING
    assert icon_is(tray.icon.icon, IconState.CONNECTING)
    assert tray.icon.title == "tray-stt: connecting"
    assert labels(tray.icon.menu)[0] == "Stop listening"
    tray.icon.click()
    tray.wait(lambda s: not s.listening and s.state is AppState.IDLE)
    assert icon_is(tray.icon.icon, IconState.IDLE)
    assert labels(tray.icon.menu)[0] == "Start listening"


def test_tray_clipboard_check_item_persists_and_keeps_comments(tray: Tray) -> None:
    tray.icon.choose("Copy transcripts to clipboard")
    tray.wait(lambda s: s.config.clipboard)
    assert find(tray.icon.menu, "Copy transcripts to clipboard").checked is True
    text = tray.config_file.read_text()
    assert text.startswith("# my settings, keep this comment\n")
    assert "# chosen by hand" in text
    assert tray.file()["clipboard"] is True
    tray.icon.choose("Copy transcripts to clipboard")
    tray.wait(lambda s: not s.config.clipboard)
    assert tray.file()["clipboard"] is False


def test_tray_language_radio_persists_and_auto_removes_the_key(tray: Tray) -> None:
    tray.icon.choose("Language", "Deutsch")
    tray.wait(lambda s: s.config.transcription.language == "de")
    assert tray.file()["language"] == "de"
    assert checked_items(tray.icon.menu, "Language") == ["Deutsch"]
    tray.icon.choose("Language", "Detect automatically")
    tray.wait(lambda s: s.config.transcription.language is None)
    assert "language" not in tray.file()
    assert checked_items(tray.icon.menu, "Language") == ["Detect automatically"]


def test_tray_model_radio_persists_and_restarts_a_running_session(tray: Tray) -> None:
    tray.icon.click()
    tray.wait(lambda s: s.listening)
    other = next(name for name in labels(find(tray.icon.menu, "Model").submenu) if "mini" in name)
    tray.icon.choose("Model", other)
    tray.wait(lambda s: s.config.transcription.model == other and len(tray.workers) == 2)
    assert tray.file()["model"] == other
    assert "# my settings, keep this comment" in tray.config_file.read_text()
    assert checked_items(tray.icon.menu, "Model") == [other]


def test_tray_start_at_login_check_item(tray: Tray) -> None:
    tray.icon.choose("Start at login")
    tray.wait(lambda s: s.autostart)
    assert tray.autostart.on
    assert find(tray.icon.menu, "Start at login").checked is True
    tray.icon.choose("Start at login")
    tray.wait(lambda s: not s.autostart)
    assert not tray.autostart.on


def test_tray_action_items_call_their_actions(tray: Tray) -> None:
    for label in ("Open today's log", "Open log folder", "Set API key…", "Settings"):
        tray.icon.choose(label)
    tray.icon.choose(f"About tray-stt {__version__}")
    assert tray.opened == ["log", "folder", "key", "settings", "about"]


def test_tray_failing_action_does_not_reach_the_toolkit(tmp_path: Path) -> None:
    t = Tray(tmp_path)
    try:
        t.view._actions = TrayActions(*([lambda: 1 / 0] * 5))  # type: ignore[arg-type]
        t.icon.choose("Settings")  # raises inside: logged, and the loop keeps running
        t.icon.click()
        t.wait(lambda s: s.listening)
    finally:
        t.close()


def test_tray_quit_item_ends_loop_and_controller(tmp_path: Path) -> None:
    t = Tray(tmp_path)
    t.icon.choose("Quit")
    t.tray_thread.join(5)
    t.worker.join(5)
    assert not t.tray_thread.is_alive() and not t.worker.is_alive()


# -- state shown in the icon and the title -------------------------------------------------------


def test_tray_session_events_change_icon_and_title(tray: Tray) -> None:
    tray.icon.click()
    tray.wait(lambda s: s.listening)
    worker = tray.workers[0]
    worker.on_event(SessionReady(Dialect.GA, "sess"))
    tray.wait(lambda s: s.state is AppState.LISTENING)
    assert icon_is(tray.icon.icon, IconState.LISTENING)
    worker.on_event(SpeechStarted("i1"))
    tray.wait(lambda s: s.state is AppState.SPEECH)
    assert icon_is(tray.icon.icon, IconState.SPEECH)
    worker.on_event(TranscriptDelta("i1", "Hello", "Hello"))
    tray.wait(lambda s: s.partial == "Hello")
    assert tray.icon.title == "tray-stt: hearing speech · Hello"
    worker.on_event(SpeechStopped("i1"))
    text = "Hello there, this is a long dictated sentence " * 5
    worker.on_event(TranscriptCompleted(text, datetime.now().astimezone(), "i1"))
    tray.wait(lambda s: s.last_transcript == text)
    assert tray.icon.title.startswith("tray-stt: listening · Hello there, this is")
    assert len(tray.icon.title) == TITLE_LIMIT and tray.icon.title.endswith("…")


def test_tray_error_shows_error_icon_and_sentence(tray: Tray) -> None:
    tray.icon.click()
    tray.wait(lambda s: s.listening)
    tray.workers[0].on_end(AuthenticationError("OpenAI rejected the API key (401)."))
    tray.wait(lambda s: s.state is AppState.ERROR)
    assert icon_is(tray.icon.icon, IconState.ERROR)
    assert tray.icon.title == "tray-stt: error · OpenAI rejected the API key (401)."
    assert tray.notifier.shown[-1] == ("tray-stt", "OpenAI rejected the API key (401).", True)


def test_tray_without_api_key_starts_in_error_and_recovers_when_one_is_set(
    tmp_path: Path,
) -> None:
    t = Tray(tmp_path, env={"OPENAI_API_KEY": ""})
    try:
        t.wait(lambda s: s.state is AppState.ERROR)
        assert "No API key" in t.icon.title
        assert icon_is(t.icon.icon, IconState.ERROR)
        assert t.notifier.shown and "No API key" in t.notifier.shown[0][1]
        t.icon.choose("Set API key…")
        assert t.opened == ["key"]
        t.env["OPENAI_API_KEY"] = "sk-now-set"  # what KeyStore.save makes load() find
        t.icon.choose("Copy transcripts to clipboard")  # any reload re-checks
        t.wait(lambda s: s.state is AppState.IDLE)
        assert icon_is(t.icon.icon, IconState.IDLE)
    finally:
        t.close()


def test_tray_every_ui_change_runs_on_the_tray_thread(tray: Tray) -> None:
    tray.icon.click()
    tray.wait(lambda s: s.listening)
    worker = tray.workers[0]
    for event in (SessionReady(Dialect.GA, None), SpeechStarted("a"), SpeechStopped("a")):
        sender = threading.Thread(target=worker.on_event, args=(event,))  # a session thread
        sender.start()
        sender.join()
    tray.wait(lambda s: s.state is AppState.LISTENING and s.detail == "listening")
    changes = [(kind, thread) for kind, _, thread in tray.icon.events if kind != "menu"]
    assert {kind for kind, _ in changes} >= {"show", "icon", "title"}
    assert {thread for _, thread in changes} == {tray.icon.loop_thread}
    assert tray.icon.loop_thread == tray.tray_thread.ident


def test_tray_menu_redrawn_only_when_what_it_shows_changed(tray: Tray) -> None:
    tray.icon.click()
    tray.wait(lambda s: s.listening)
    worker = tray.workers[0]
    worker.on_event(SessionReady(Dialect.GA, None))
    tray.wait(lambda s: s.state is AppState.LISTENING)
    before = tray.icon.count("menu")
    for n in range(1, 6):
        worker.on_event(TranscriptDelta("i", "x", "x" * n))
    tray.wait(lambda s: s.partial == "xxxxx")
    assert tray.icon.count("menu") == before  # partial text: title only


def test_title_for_each_state() -> None:
    base = Snapshot(AppState.IDLE, "not listening", False, "", "", Config(), False, 0)
    assert title_for(base) == "tray-stt: idle"
    last = Snapshot(
        AppState.LISTENING, "listening", True, "Last\nline  here", "", Config(), False, 1
    )
    assert title_for(last) == "tray-stt: listening · Last line here"
    partial = Snapshot(AppState.SPEECH, "", True, "old", "new words", Config(), False, 1)
    assert title_for(partial) == "tray-stt: hearing speech · new words"
    error = Snapshot(AppState.ERROR, "No microphone.", True, "old", "", Config(), False, 1)
    assert title_for(error) == "tray-stt: error · No microphone."


@pytest.mark.parametrize("state", list(AppState))
def test_icon_state_for_every_app_state(state: AppState) -> None:
    snapshot = Snapshot(state, "", False, "", "", Config(), False, 0)
    assert icon_state(snapshot).value == state.value
    assert load_icon(icon_state(snapshot)).size == (64, 64)


def test_fit_icon_keeps_the_picture_square_on_the_tray_background() -> None:
    from PIL import Image

    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (16, 16, 48, 48))
    background = Image.new("RGB", (24, 30), (200, 210, 220))
    fitted = fit_icon(image, (24, 30), background)
    assert fitted.size == (24, 30) and fitted.mode == "RGB"
    assert fitted.getpixel((0, 0)) == (200, 210, 220)  # transparent: the tray shows through
    assert fitted.getpixel((12, 15)) == (255, 0, 0)
    red_rows = [y for y in range(30) if fitted.getpixel((12, y)) == (255, 0, 0)]
    red_cols = [x for x in range(24) if fitted.getpixel((x, 15)) == (255, 0, 0)]
    assert len(red_rows) == len(red_cols)  # not stretched to the 24x30 slot
    assert fit_icon(image, (24, 30)).getpixel((0, 0)) != (0, 0, 0)  # no black square


# -- the backend choice --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "backend"),
    [
        ({}, None),  # no display at all: headless
        ({"DISPLAY": ":0"}, "xorg"),
        ({"WAYLAND_DISPLAY": "wayland-0"}, None),  # XEmbed does not exist on Wayland
        ({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "xorg"),  # XWayland
        ({"PYSTRAY_BACKEND": "gtk"}, "gtk"),
    ],
)
def test_choose_linux_backend_without_gi(
    env: dict[str, str], backend: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "gi", None)  # as in a venv without python3-gi
    assert choose_linux_backend(env) == backend


# -- the whole app: a control command changes what the tray shows ---------------------------------


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
    assert labels(icon.menu)[0] == "Stop listening"
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


# -- push-to-talk in the tray --------------------------------------------------------------------


class FakeHotkey:
    """Stands in for the pynput KeyboardHotkey that app.py starts on X11, macOS and Windows."""

    made: list[FakeHotkey] = []
    fail_with: Exception | None = None
    gate: threading.Event | None = None  # start() waits for it, like a portal dialog

    def __init__(self, config: Config, on_action: Callable[[Action], None], desktop: Any) -> None:
        self.on_action = on_action
        self.desktop = desktop
        self.running = False
        FakeHotkey.made.append(self)

    def start(self) -> None:
        if FakeHotkey.gate is not None:
            assert FakeHotkey.gate.wait(10)
        if FakeHotkey.fail_with is not None:
            raise FakeHotkey.fail_with
        self.running = True

    def stop(self) -> None:
        self.running = False


class RunningApp:
    """The whole TrayApp on a thread: FakeIcon, the real control socket, fake dictations."""

    def __init__(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        *,
        environ: dict[str, str] | None = None,
        quiet: bool = True,
        hotkey_fails: Exception | None = None,
        hotkey_gate: threading.Event | None = None,
    ) -> None:
        import tray_stt.app.pushtotalk

        FakeHotkey.made = []
        FakeHotkey.fail_with = hotkey_fails
        FakeHotkey.gate = hotkey_gate
        monkeypatch.setattr(tray_stt.app.pushtotalk, "global_hotkey", FakeHotkey)
        self.directory = tmp_path / "run"
        monkeypatch.setenv("TRAY_STT_RUNTIME_DIR", str(self.directory))
        monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")
        self.icons: list[FakeIcon] = []
        self.dictations = Dictations()
        self.notifier = FakeNotifier()
        self.log_dir = tmp_path / "logs"
        self.app = TrayApp(
            tmp_path / "config.toml",
            quiet=quiet,
            environ={
                "PYSTRAY_BACKEND": "dummy",
                "OPENAI_API_KEY": "test-key",
                "TRAY_STT_LOG_DIR": str(self.log_dir),
                **(environ or {}),
            },
            listen=lambda config, on_event, on_end: FakeListening(on_event, on_end),
            notifier=self.notifier,  # type: ignore[arg-type]
            autostart=XdgAutostart(tmp_path / "home", ["/bin/true"], environ={}),
            view_options={"icon_class": self.make_icon, "ui_call": self.call_soon},
            dictate=self.dictations,
        )
        self.result: list[int] = []
        self.runner = threading.Thread(target=lambda: self.result.append(self.app.run()))
        self.runner.daemon = True
        self.runner.start()
        while not (self.directory / "control.sock").exists() and self.runner.is_alive():
            threading.Event().wait(0.01)
        while not self.icons or self.icons[0].loop_thread is None:
            threading.Event().wait(0.01)
        self.icon.wait(lambda: any(kind == "show" for kind, _, _ in self.icon.events))
        if hotkey_gate is None:
            assert self.app.hotkey_settled.wait(10)  # it starts beside the icon, not before it

    def make_icon(self, *args: Any, **kwargs: Any) -> FakeIcon:
        self.icons.append(FakeIcon(*args, **kwargs))
        return self.icons[-1]

    def call_soon(self, call: Callable[[], None]) -> None:
        self.icons[0].call_soon(call)

    @property
    def icon(self) -> FakeIcon:
        return self.icons[0]

    def command(self, name: str) -> dict[str, Any]:
        return send_command(name, directory=self.directory)

    def wait_title(self, title: str) -> None:
        self.icon.wait(lambda: self.icon.title == title)
        self.icon.on_loop(lambda: None)

    def quit(self) -> None:
        assert self.command("quit") == {"ok": True}
        self.runner.join(10)
        assert self.result == [0]


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
    assert not app.log_dir.exists()  # the dictation logs its transcripts; the tray adds none
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
    hotkey.on_action(Action.START)  # as pynput's listener thread calls it
    app.wait_title("tray-stt: dictating")
    hotkey.on_action(Action.CANCEL)
    app.wait_title("tray-stt: idle")
    hotkey.on_action(Action.START)
    hotkey.on_action(Action.STOP)
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


def test_tray_push_to_talk_without_a_microphone_says_so_and_recovers(tmp_path: Path) -> None:
    dictations = Dictations()
    dictations.fail_with = AudioInputError("No input device found: plug in a microphone.")
    t = Tray(tmp_path, dictate=dictations)
    try:
        t.controller.post(Talk(TalkAction.PRESS))
        snapshot = t.wait(lambda s: s.state is AppState.ERROR)
        assert snapshot.dictation is DictationState.IDLE
        assert t.icon.title == "tray-stt: error · No input device found: plug in a microphone."
        assert icon_is(t.icon.icon, IconState.ERROR)
        assert t.notifier.shown[-1] == (
            "tray-stt",
            "Push-to-talk: No input device found: plug in a microphone.",
            True,
        )
        t.controller.post(Talk(TalkAction.RELEASE))  # the key comes up: nothing to end
        dictations.fail_with = None  # plugged in
        t.controller.post(Talk(TalkAction.PRESS))
        t.wait(lambda s: s.dictation is DictationState.RECORDING)
        assert t.icon.title == "tray-stt: dictating"
        t.controller.post(Talk(TalkAction.CANCEL))
        t.wait(lambda s: s.state is AppState.IDLE and s.dictation is DictationState.IDLE)
        assert icon_is(t.icon.icon, IconState.IDLE)
    finally:
        t.close()


def test_tray_push_to_talk_without_api_key_says_what_to_do(tmp_path: Path) -> None:
    t = Tray(tmp_path, env={"OPENAI_API_KEY": ""}, dictate=open_dictation)  # the real one
    try:
        t.wait(lambda s: s.state is AppState.ERROR)
        t.controller.post(Talk(TalkAction.PRESS))
        t.icon.wait(
            lambda: any(n[1].startswith("Push-to-talk: No API key") for n in t.notifier.shown)
        )
        snapshot = t.wait(lambda s: s.dictation is DictationState.IDLE)
        assert snapshot.state is AppState.ERROR and "No API key" in t.icon.title
    finally:
        t.close()


def test_tray_push_to_talk_session_that_ended_is_replaced_at_the_next_press(
    tmp_path: Path,
) -> None:
    dictations = Dictations()
    t = Tray(tmp_path, dictate=dictations)
    try:
        t.controller.post(Talk(TalkAction.PRESS))
        t.wait(lambda s: s.dictation is DictationState.RECORDING)
        first = dictations.opened[0]
        first.dictation.running = False
        first.on_event(Notice(f"{DICTATION_STOPPED} The server refused the credentials."))
        snapshot = t.wait(lambda s: s.state is AppState.ERROR)
        assert snapshot.dictation is DictationState.IDLE
        assert (
            t.icon.title
            == f"tray-stt: error · {DICTATION_STOPPED} The server refused the credentials."
        )
        assert t.notifier.shown[-1][2] is True
        t.controller.post(Talk(TalkAction.PRESS))
        t.wait(lambda s: s.dictation is DictationState.RECORDING and len(dictations.opened) == 2)
        assert first.closed.wait(5)
    finally:
        t.close()


def test_tray_push_to_talk_while_listening_leaves_the_listening_alone(tmp_path: Path) -> None:
    dictations = Dictations()
    t = Tray(tmp_path, dictate=dictations)
    try:
        t.icon.click()
        t.wait(lambda s: s.listening)
        t.workers[0].on_event(SessionReady(Dialect.GA, None))
        t.wait(lambda s: s.state is AppState.LISTENING)
        t.controller.post(Talk(TalkAction.PRESS))
        t.wait(lambda s: s.dictation is DictationState.RECORDING)
        assert icon_is(t.icon.icon, IconState.SPEECH)
        assert t.icon.title == "tray-stt: dictating"
        dictations.opened[0].dictation.on_state(DictationState.IDLE)
        snapshot = t.wait(lambda s: s.dictation is DictationState.IDLE)
        assert snapshot.listening and snapshot.state is AppState.LISTENING
        assert icon_is(t.icon.icon, IconState.LISTENING)
        assert len(t.workers) == 1  # the listening session was never restarted
        assert labels(t.icon.menu)[0] == "Stop listening"
    finally:
        t.close()


@pytest.mark.parametrize(
    ("dictation", "title", "icon"),
    [
        (DictationState.RECORDING, "tray-stt: dictating · new words", IconState.SPEECH),
        (DictationState.TRANSCRIBING, "tray-stt: transcribing · new words", IconState.ERROR),
    ],
)
def test_title_and_icon_while_dictating_over_an_error(
    dictation: DictationState, title: str, icon: IconState
) -> None:
    snapshot = Snapshot(
        AppState.ERROR, "No microphone.", False, "old", "new words", Config(), False, 1, dictation
    )
    assert title_for(snapshot) == title
    assert icon_state(snapshot) is icon


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
