"""The tray's test harness: a real Controller and TrayView on a fake pystray Icon (no display).

``FakeIcon`` is a ``pystray._base.Icon`` (docs/testing.md, "Tray hosts"): its loop runs on the
thread that calls ``run`` (the "tray thread") and executes whatever the view hands it there, and it
records every change to the icon, title and menu with the thread it happened on. Clicks go through
``Icon._handler``, the wrapper the real backends use, on the tray thread.

``Tray`` puts a real Controller and TrayView on a FakeIcon (the ``tray`` fixture gives one per
test); ``RunningApp`` runs the whole TrayApp on a thread, with ``FakeHotkey`` as its key listener.
"""

from __future__ import annotations

import queue
import threading
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.controller_fakes import Dictations, FakeAutostart, FakeListening, FakeNotifier
from tray_stt.app.control import send_command
from tray_stt.app.controller import Controller
from tray_stt.app.ports import DictationFactory
from tray_stt.app.service import TrayApp
from tray_stt.app.state import Quit, Snapshot
from tray_stt.autostart.xdg import XdgAutostart
from tray_stt.config import Config, load_config, save_settings
from tray_stt.pushtotalk.talk import TalkAction
from tray_stt.realtime.events import Event
from tray_stt.tray.icons import IconState, load_icon
from tray_stt.tray.view import TrayActions, TrayView, title_for

with pytest.MonkeyPatch.context() as _patch:
    # pystray picks its backend at import; without a display only "dummy" imports.
    _patch.setenv("PYSTRAY_BACKEND", "dummy")
    from pystray import _base

CONFIG_TEXT = '# my settings, keep this comment\nmodel = "gpt-transcribe"  # chosen by hand\n'


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
    """What the menu shows: its visible items' labels, "----" for a separator."""
    return [
        "----" if item is _base.Menu.SEPARATOR else item.text for item in menu.items if item.visible
    ]


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
        logged: dict[str, str] | None = None,
    ) -> None:
        """``logged``: daily log files (name: text) there before the tray starts."""
        (tmp_path / "logs").mkdir(exist_ok=True)
        for name, text in (logged or {}).items():
            (tmp_path / "logs" / name).write_text(text, encoding="utf-8")
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
            open_usage=lambda: self.opened.append("usage"),
            copy_text=lambda text: self.opened.append(f"copy: {text}"),
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


class FakeHotkey:
    """Stands in for the pynput KeyboardHotkey that app.py starts on X11, macOS and Windows."""

    made: list[FakeHotkey] = []
    fail_with: Exception | None = None
    gate: threading.Event | None = None  # start() waits for it, like a portal dialog

    def __init__(
        self, config: Config, on_action: Callable[[TalkAction], None], desktop: Any
    ) -> None:
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
