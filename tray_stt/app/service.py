"""The tray service's composition root: one instance, a controller thread, the tray on main.

``tray-stt`` with no arguments lands here. Without a tray host (a bare Wayland compositor, GNOME
without the AppIndicator extension, no display at all) it runs headless: the control socket and
notifications still work, so a desktop shortcut bound to ``tray-stt toggle`` drives it.

Push-to-talk: on X11, macOS and Windows the configured hotkey is listened to for as long as the
service runs (the listener alone costs nothing at idle; the controller opens the microphone only
for dictation, see controller.py). On Wayland and without a display no global listener can work
(pynput would see only XWayland windows, or fail to import), so ``tray-stt press|release|talk``
bound to desktop shortcuts drive it instead.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tray_stt import APP_NAME, __version__
from tray_stt.app.control import COMMANDS, ControlServer, InstanceLock
from tray_stt.app.controller import Controller
from tray_stt.app.listening import MicrophoneListener
from tray_stt.app.ports import Dictating, DictationFactory, ListenerFactory
from tray_stt.app.retry import Retrier
from tray_stt.app.signals import signals_handled
from tray_stt.app.state import Quit, Reload, Snapshot, Talk
from tray_stt.audio.capture import MicrophoneState, MicrophoneStatus
from tray_stt.autostart.choose import platform_autostart
from tray_stt.autostart.common import Autostart
from tray_stt.config import Config, config_path, load_config, save_settings, write_config_template
from tray_stt.credentials import KeyStore
from tray_stt.desktop.clipboard import ClipboardSink
from tray_stt.desktop.dialogs import ask_secret, open_path
from tray_stt.desktop.notify import Notifier
from tray_stt.errors import ExitCode, HotkeyUnavailable, TraySttError
from tray_stt.metering.budget import budget_watch
from tray_stt.pushtotalk.delivery import Desktop, detect_desktop
from tray_stt.pushtotalk.hotkey import HOTKEY_OFF, parse_chord
from tray_stt.pushtotalk.talk import DictationEvent, DictationState, TalkAction
from tray_stt.realtime.events import Event

_log = logging.getLogger(__name__)


class AutostartSwitch:
    """The controller's view of start-at-login."""

    def __init__(self, autostart: Autostart) -> None:
        self._autostart = autostart

    def enabled(self) -> bool:
        """Whether an entry is in place and enabled."""
        return self._autostart.status().enabled

    def set(self, enabled: bool) -> str:
        """Enable or disable."""
        return self._autostart.enable() if enabled else self._autostart.disable()


class TrayApp:
    """Wires the controller to its inputs (tray menu, control socket) and outputs."""

    def __init__(
        self,
        config_file: Path,
        *,
        quiet: bool,
        environ: dict[str, str],
        lock: InstanceLock | None = None,
        listen: ListenerFactory | None = None,
        notifier: Notifier | None = None,
        keys: KeyStore | None = None,
        autostart: Autostart | None = None,
        view_options: dict[str, Any] | None = None,
        dictate: DictationFactory | None = None,
    ) -> None:
        """Everything but the config file and environment has a real default; tests inject."""
        self.config_file = config_file
        self.quiet = quiet
        self.environ = environ
        self.lock = lock
        self.view_options = view_options or {}
        self.notifier = notifier or Notifier()
        self.keys = keys or KeyStore()
        config = self.reload()
        self.clipboard = ClipboardSink(lambda message: self.notifier.notify(APP_NAME, message))
        self.controller = Controller(
            config,
            listen=listen or self._listen,
            notifier=self.notifier,
            save=lambda changes: save_settings(self.config_file, changes),
            reload=self.reload,
            autostart=AutostartSwitch(autostart or platform_autostart()),
            on_change=self._changed,
            deliver=self._deliver,
            dictate=dictate or open_dictation,
            retrier=Retrier(),
            usage=budget_watch(config),
        )
        self.view: Any = None
        self.hotkey: Any = None
        # Starting a hotkey can wait: the portal shows the user a dialog, the macOS helper
        # process starts Python. The icon must not wait for it, so it starts on its own thread.
        self.hotkey_settled = threading.Event()
        self._hotkey_lock = threading.Lock()
        self._quitting = False
        self._asking = threading.Lock()  # held while the API-key dialog is open
        self.ask_secret = ask_secret  # a dialog blocks: tests replace it

    def _listen(
        self,
        config: Config,
        on_event: Callable[[Event], None],
        on_end: Callable[[BaseException | None], None],
    ) -> MicrophoneListener:
        """The real listening: a microphone whose lost device the controller shows."""
        return MicrophoneListener(config, on_event, on_end, on_microphone=self._on_microphone)

    def _on_microphone(self, state: MicrophoneState) -> None:
        if state.status in (MicrophoneStatus.LOST, MicrophoneStatus.CAPTURING):
            capturing = state.status is MicrophoneStatus.CAPTURING
            self.controller.microphone_changed(capturing, state.reason)

    def reload(self) -> Config:
        """The configuration as the files and environment say now."""
        return load_config(
            self.config_file,
            must_exist=False,
            env=self.environ,
            overrides={},
            stored_key=self.keys.load,
        )

    def _deliver(self, text: str) -> None:
        if self.controller.snapshot.config.clipboard:
            self.clipboard.submit(text)

    def _changed(self, snapshot: Snapshot) -> None:
        if self.view is not None:
            self.view.show(snapshot)

    # -- the control socket ----------------------------------------------------------------------

    def handle(self, command: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Answer one control command (on the control server's thread)."""
        known = COMMANDS.get(command)
        if known is None:
            return {"ok": False, "error": f"Unknown command {command!r}."}
        if known.post is None:  # status
            return {"ok": True, **status_fields(self.controller.snapshot)}
        self.controller.post(known.post())
        return {"ok": True}

    # -- running ----------------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until Quit; returns the exit code."""
        # SIGTERM (logout, kill) quits cleanly, so transcripts in flight still reach the log. It
        # is handled before the control socket answers: whoever sees the service ready may stop
        # it at once, and a Quit posted before the controller runs waits for it.
        with signals_handled(lambda _signum, _frame: self.controller.post(Quit()), signal.SIGTERM):
            # The lock is the caller's: a second flock on the same file, even from this
            # process, would be refused.
            server = ControlServer(self.handle, lock=self.lock)
            server.start()
            worker = threading.Thread(target=self.controller.run, name="tray-stt-controller")
            worker.start()
            starter = threading.Thread(
                target=self._settle_hotkey, name="tray-stt-hotkey", daemon=True
            )
            starter.start()
            try:
                self._run_view(worker)
            finally:
                self._stop_hotkey()
                self.controller.post(Quit())
                worker.join(timeout=30)
                server.stop()
                self.clipboard.close()
        return ExitCode.OK

    def _settle_hotkey(self) -> None:
        hotkey = self._start_hotkey()
        with self._hotkey_lock:
            if not self._quitting:
                self.hotkey, hotkey = hotkey, None
        if hotkey is not None:  # Quit came while it was starting
            hotkey.stop()
        self.hotkey_settled.set()

    def _stop_hotkey(self) -> None:
        with self._hotkey_lock:
            self._quitting = True
            hotkey, self.hotkey = self.hotkey, None
        if hotkey is not None:
            hotkey.stop()

    def _start_hotkey(self) -> Any:
        """The push-to-talk hotkey, listening until Quit; None where none can work (said why)."""
        desktop = detect_desktop(self.environ)
        if self.controller.snapshot.config.hotkey == HOTKEY_OFF:
            return None  # the user binds `tray-stt press` / `release` themselves, or has no use
        if desktop is Desktop.NONE:
            return None  # no display (a server, the tests): the control commands still work
        if desktop is Desktop.WAYLAND:
            from tray_stt.desktop.portal_hotkey import (
                PortalHotkey,  # press and release where the desktop has it
            )

            config = self.controller.snapshot.config
            chord = parse_chord(config.hotkey)
            portal = PortalHotkey(chord, config.hotkey_mode, self._on_hotkey, environ=self.environ)
            try:
                portal.start()
                return portal
            except HotkeyUnavailable as exc:  # no portal, no GlobalShortcuts, or declined
                _log.info("No portal push-to-talk shortcut: %s", exc)
            _log.info("%s", WAYLAND_HOTKEY)
            if not self.quiet:  # a login start stays silent; the README says the same
                self.notifier.notify(APP_NAME, WAYLAND_HOTKEY)
            return None
        from tray_stt.app.pushtotalk import global_hotkey

        try:
            hotkey = global_hotkey(self.controller.snapshot.config, self._on_hotkey, desktop)
            hotkey.start()
        except Exception as exc:  # no permission (macOS), another program grabbed it, no X
            sentence = str(exc) if isinstance(exc, TraySttError) else repr(exc)
            message = (
                f"The push-to-talk hotkey is not available ({sentence}); bind "
                "`tray-stt press` / `tray-stt release` to a desktop shortcut instead."
            )
            _log.warning("%s", message)
            self.notifier.notify(APP_NAME, message, urgent=True)
            return None
        return hotkey

    def _on_hotkey(self, action: TalkAction) -> None:
        """On the key listener's thread: only post, so no key event waits for the microphone."""
        self.controller.post(Talk(action))

    def _run_view(self, worker: threading.Thread) -> None:
        backend = _tray_backend(self.environ)
        if backend is None:
            message = (
                "No system tray found: tray-stt runs in the background; "
                "bind `tray-stt toggle` to a keyboard shortcut."
            )
            _log.warning("%s", message)
            if not self.quiet:
                self.notifier.notify(APP_NAME, message)
            worker.join()
            return
        from tray_stt.tray.view import TrayActions, TrayView

        actions = TrayActions(
            open_log=lambda: self.open(self.controller.snapshot.log_path),
            open_log_folder=lambda: self.open(self.controller.snapshot.config.log_dir),
            open_settings=self.open_settings,
            ask_api_key=self.ask_api_key,
            about=lambda: self.notifier.notify(APP_NAME, f"{APP_NAME} {__version__}"),
            open_usage=self.open_usage,
            copy_text=self.clipboard.submit,  # a Recent transcript; trouble is a notification
        )
        self.view = TrayView(
            self.controller.post,
            lambda: self.controller.snapshot,
            actions,
            **self.view_options,
        )
        # Windows notifications are balloons of the icon: only pystray can show them.
        self.notifier.set_hook(self.view.notify)
        threading.Thread(target=self._stop_view_after, args=(worker,), daemon=True).start()
        if not self.quiet and self._can_start():
            self.notifier.notify(APP_NAME, READY.get(backend, READY_CLICK))
        self.view.run()

    def _can_start(self) -> bool:
        """Whether listening can start as configured; if not, the controller already said why
        (one notification that says what to do, and no \"Ready\" beside it)."""
        try:
            self.controller.snapshot.config.endpoint.check()
        except TraySttError:
            return False
        return True

    def _stop_view_after(self, worker: threading.Thread) -> None:
        """Quit from the control socket ends the controller; then the tray must go too."""
        worker.join()
        self.view.stop()

    def open_usage(self) -> None:
        """Render this month's usage chart and open it in the image viewer."""
        from tray_stt.app.usage import usage_chart

        try:
            path = usage_chart(self.controller.snapshot.config)
        except TraySttError as exc:
            self.notifier.notify(APP_NAME, str(exc))
            return
        self.open(path)

    def open(self, path: Path) -> None:
        """Open a file or folder from the menu; a failure is a notification, not a traceback."""
        try:
            open_path(path)
        except TraySttError as exc:
            self.notifier.notify(APP_NAME, str(exc), urgent=True)

    def open_settings(self) -> None:
        """Open the config file in the user's editor, creating a commented one first."""
        try:
            if not self.config_file.exists():
                write_config_template(self.config_file)
        except TraySttError as exc:
            self.notifier.notify(APP_NAME, str(exc), urgent=True)
            return
        self.open(self.config_file)

    def ask_api_key(self) -> None:
        """Ask for the key in a dialog on its own thread: the tray answers meanwhile."""
        if self._asking.acquire(blocking=False):  # one dialog at a time
            threading.Thread(target=self._ask_api_key, name="tray-stt-key", daemon=True).start()

    def _ask_api_key(self) -> None:
        try:
            key = self.ask_secret(APP_NAME, "OpenAI API key (from platform.openai.com):")
            if key is None:
                self.notifier.notify(
                    APP_NAME,
                    "No dialog program (zenity or kdialog) is installed: set the key from a "
                    "terminal with `tray-stt set-key`, or export OPENAI_API_KEY=sk-...",
                    urgent=True,
                )
            elif key:  # "" is a cancelled dialog: nothing to say
                self.notifier.notify(APP_NAME, self.keys.save(key))
                self.controller.post(Reload())  # the key is read from the store
        except TraySttError as exc:
            self.notifier.notify(APP_NAME, str(exc), urgent=True)
        finally:
            self._asking.release()


READY_CLICK = "Ready: click the icon to start listening."
READY = {  # where a click opens the menu, the ready sentence says so
    "appindicator": "Ready: open the tray icon's menu and choose Start listening.",
}

WAYLAND_HOTKEY = (
    "Global hotkeys do not work on Wayland: for push-to-talk, bind `tray-stt press` (and "
    "`tray-stt release` on key release) or `tray-stt talk` to a shortcut in the desktop settings."
)


def open_dictation(
    config: Config,
    on_event: Callable[[DictationEvent], None],
    on_state: Callable[[DictationState], None],
) -> Dictating:
    """A push-to-talk dictation without a key listener of its own (the tray has one)."""
    from tray_stt.app.pushtotalk import PushToTalk  # its X and audio modules only when first used

    return PushToTalk(config, on_event, on_state=on_state, hotkey=False)


def status_fields(snapshot: Snapshot) -> dict[str, Any]:
    """What ``tray-stt status`` reports."""
    return {
        "state": snapshot.state.value,
        "dictation": snapshot.dictation.value,
        "listening": snapshot.listening,
        "detail": snapshot.detail,
        "endpoint": snapshot.config.url,
        "model": snapshot.config.transcription.model,
        "log": str(snapshot.log_path),
        "today": snapshot.today_count,
    }


def _tray_backend(environ: dict[str, str]) -> str | None:
    if sys.platform in ("darwin", "win32"):
        return sys.platform
    from tray_stt.tray.backend import choose_linux_backend

    backend = choose_linux_backend(environ)
    if backend is not None:
        os.environ["PYSTRAY_BACKEND"] = backend
    return backend


def run_tray_service(config_option: str | None, *, quiet: bool) -> int:
    """``tray-stt``: start the tray service unless one is already running."""
    lock = InstanceLock()
    if not lock.acquire():
        # Not an error: the user (or the login session) asked for a tray, and one is there.
        if not quiet:
            print(
                "tray-stt is already running: use `tray-stt toggle`, `status` or `quit`.",
                file=sys.stderr,
            )
        return ExitCode.OK
    try:
        path, _ = config_path(config_option, os.environ)
        app = TrayApp(path, quiet=quiet, environ=dict(os.environ), lock=lock)
        return app.run()
    except TraySttError as exc:
        Notifier().notify(APP_NAME, str(exc), urgent=True)
        raise
    finally:
        lock.release()
