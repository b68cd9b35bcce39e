"""The tray icon: a pystray view of the controller's snapshots. The only module importing pystray.

Menu callbacks only post commands. Every change to the icon comes through ``show``, which may be
called from any thread and hands the work to the tray's own thread where the platform needs it
(platform-notes §1: AppKit must only be touched from the main thread).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from tray_stt import __version__
from tray_stt.app.controller import (
    AppState,
    ChangeSettings,
    Command,
    Quit,
    SetAutostart,
    Snapshot,
    Toggle,
)
from tray_stt.pushtotalk.talk import DictationState
from tray_stt.realtime.models import MODELS
from tray_stt.tray.icons import IconState, load_icon

_log = logging.getLogger(__name__)

LANGUAGES = (
    (None, "Detect automatically"),
    ("en", "English"),
    ("ko", "한국어"),
    ("ja", "日本語"),
    ("zh", "中文"),
    ("de", "Deutsch"),
    ("fr", "Français"),
    ("es", "Español"),
    ("it", "Italiano"),
    ("pt", "Português"),
    ("nl", "Nederlands"),
    ("pl", "Polski"),
    ("ru", "Русский"),
    ("uk", "Українська"),
    ("hi", "हिन्दी"),
)
STATE_WORDS = {
    AppState.IDLE: "idle",
    AppState.CONNECTING: "connecting",
    AppState.LISTENING: "listening",
    AppState.SPEECH: "hearing speech",
    AppState.ERROR: "error",
}
DICTATION_WORDS = {
    DictationState.RECORDING: "dictating",
    DictationState.TRANSCRIBING: "transcribing",
}
TITLE_LIMIT = 127  # Windows keeps the tooltip in a WCHAR[128]


@dataclass(frozen=True)
class TrayActions:
    """What menu items do besides posting commands (opening files, asking for the key)."""

    open_log: Callable[[], None]
    open_log_folder: Callable[[], None]
    open_settings: Callable[[], None]
    ask_api_key: Callable[[], None]
    about: Callable[[], None]


def title_for(snapshot: Snapshot) -> str:
    """The tooltip: the state, then the start of the partial or last transcript.

    A push-to-talk turn comes first: while it is said, its live text is what the user watches.
    """
    talking = DICTATION_WORDS.get(snapshot.dictation)
    state = talking or STATE_WORDS[snapshot.state]
    if snapshot.state is AppState.ERROR and not talking:
        text = snapshot.detail
    else:
        text = snapshot.partial or snapshot.last_transcript
    title = f"tray-stt: {state}" + (f" · {' '.join(text.split())}" if text else "")
    return title if len(title) <= TITLE_LIMIT else title[: TITLE_LIMIT - 1] + "…"


def icon_state(snapshot: Snapshot) -> IconState:
    """Which picture the state gets; a push-to-talk turn being recorded shows as speech."""
    if snapshot.dictation is DictationState.RECORDING:
        return IconState.SPEECH
    return IconState[snapshot.state.name]


class TrayView:
    """Shows snapshots in the tray and turns menu clicks into commands."""

    def __init__(
        self,
        post: Callable[[Command], None],
        snapshot: Callable[[], Snapshot],
        actions: TrayActions,
        *,
        icon_class: Any = None,
        ui_call: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        self._post = post
        self._snapshot = snapshot
        self._actions = actions
        self._icon_class = icon_class
        self._ui_call = ui_call or _on_ui_thread
        self._icon: Any = None
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._apply_lock = threading.Lock()
        self._shown: tuple[IconState, str] | None = None
        self._menu_shown: tuple[object, ...] | None = None

    def build_menu(self) -> Any:
        """The menu; items read the latest snapshot whenever the platform draws them."""
        import pystray

        item, menu = pystray.MenuItem, pystray.Menu
        now = self._snapshot
        return menu(
            item(
                lambda _: "Stop listening" if now().listening else "Start listening",
                self._do(lambda: self._post(Toggle())),
                default=True,
            ),
            item(
                "Copy transcripts to clipboard",
                self._do(lambda: self._change(clipboard=not now().config.clipboard)),
                checked=lambda _: now().config.clipboard,
            ),
            item("Language", menu(*self._language_items())),
            item("Model", menu(*self._model_items())),
            menu.SEPARATOR,
            item("Open today's log", self._do(self._actions.open_log)),
            item("Open log folder", self._do(self._actions.open_log_folder)),
            item(
                "Start at login",
                self._do(lambda: self._post(SetAutostart(not now().autostart))),
                checked=lambda _: now().autostart,
            ),
            item(
                "Set API key…",
                self._do(self._actions.ask_api_key),
            ),
            item("Settings", self._do(self._actions.open_settings)),
            item(f"About tray-stt {__version__}", self._do(self._actions.about)),
            menu.SEPARATOR,
            item("Quit", self._do(self._quit)),
        )

    def _language_items(self) -> list[Any]:
        import pystray

        return [
            pystray.MenuItem(
                label,
                self._do(partial(self._change, language=code)),
                checked=self._setting_is("language", code),
                radio=True,
            )
            for code, label in LANGUAGES
        ]

    def _model_items(self) -> list[Any]:
        import pystray

        names = [name for name, info in MODELS.items() if info.shutdown is None]
        names += [name for name, info in MODELS.items() if info.shutdown is not None]
        configured = self._snapshot().config.transcription.model
        if configured not in names:
            names.insert(0, configured)
        return [
            pystray.MenuItem(
                name,
                self._do(partial(self._change, model=name, turn=None)),
                checked=self._setting_is("model", name),
                radio=True,
            )
            for name in names
        ]

    def _setting_is(self, field: str, value: object) -> Callable[[Any], bool]:
        """A radio item's `checked` callback: is this transcription setting chosen now?"""
        return lambda _item: getattr(self._snapshot().config.transcription, field) == value

    def _change(self, **changes: object) -> None:
        self._post(ChangeSettings(dict(changes)))

    def _do(self, action: Callable[[], None]) -> Callable[[Any, Any], None]:
        """A pystray callback that never lets an exception escape into the toolkit."""

        def callback(icon: Any, item: Any) -> None:
            try:
                action()
            except Exception:
                _log.exception("menu action failed")

        return callback

    def _quit(self) -> None:
        self._post(Quit())
        self.stop()

    # -- the icon ------------------------------------------------------------------------------

    def run(self) -> None:
        """Run the tray loop on this (the main) thread until Quit."""
        import pystray

        icon_class = self._icon_class or _native_icon_class(pystray)
        snapshot = self._snapshot()
        self._icon = icon_class(
            "tray-stt",
            icon=load_icon(icon_state(snapshot)),
            title=title_for(snapshot),
            menu=self.build_menu(),
        )
        self._shown = (icon_state(snapshot), title_for(snapshot))
        self._menu_shown = menu_key(snapshot)
        try:
            self._icon.run(setup=self._setup)
        except Exception:  # GTK raises at stop when no notification daemon exists (§1)
            _log.warning("the tray loop ended with an error", exc_info=True)

    def stop(self) -> None:
        """End the tray loop (from any thread, even before it started)."""
        self._stopping.set()
        if self._icon is not None:
            self._icon.stop()  # no effect before the loop runs: _first_show then stops it

    def _setup(self, icon: Any) -> None:
        """pystray calls this on a thread of its own once the loop runs."""
        self._ui_call(lambda: self._first_show(icon))

    def _first_show(self, icon: Any) -> None:
        icon.visible = True
        self._ready.set()
        snapshot = self._snapshot()
        self._apply(icon, (icon_state(snapshot), title_for(snapshot)), menu_key(snapshot))
        if self._stopping.is_set():  # Quit came while the loop was starting
            icon.stop()

    def wait_ready(self, timeout: float) -> bool:
        """Whether the icon came up within ``timeout`` seconds."""
        return self._ready.wait(timeout)

    def show(self, snapshot: Snapshot) -> None:
        """Reflect a snapshot (from any thread)."""
        icon = self._icon
        if icon is None or not self._ready.is_set():
            return
        wanted = (icon_state(snapshot), title_for(snapshot))
        self._ui_call(lambda: self._apply(icon, wanted, menu_key(snapshot)))

    def _apply(self, icon: Any, wanted: tuple[IconState, str], menu: tuple[object, ...]) -> None:
        with self._apply_lock:  # the setup thread and the controller may both get here
            if wanted != self._shown:
                if self._shown is None or wanted[0] != self._shown[0]:
                    icon.icon = load_icon(wanted[0])
                icon.title = wanted[1]
                self._shown = wanted
            if menu != self._menu_shown:
                # Changed from outside the menu (control socket, errors): redraw it (§1). Not
                # on every partial transcript: appindicator rebuilds the whole GTK menu.
                self._menu_shown = menu
                icon.update_menu()

    def notify(self, body: str, title: str) -> None:
        """Windows notifications go through the icon (pystray owns the balloon).

        In pystray's argument order; the Notifier has already cut both to the balloon's limits.
        """
        icon = self._icon
        if icon is not None:
            self._ui_call(lambda: icon.notify(body, title))


def menu_key(snapshot: Snapshot) -> tuple[object, ...]:
    """What the menu shows of a snapshot: when it changes, the native menu is rebuilt."""
    settings = snapshot.config.transcription
    api_key = bool(snapshot.config.api_key)
    return (
        snapshot.listening,
        snapshot.config.clipboard,
        settings.language,
        settings.model,
        snapshot.autostart,
        api_key,
    )


def _native_icon_class(pystray: Any) -> Any:
    """pystray's Icon for this platform; on xorg with its click and transparency repaired, on
    GTK and AppIndicator quiet at stop when no notification daemon runs."""
    if pystray.Icon.__module__ == "pystray._xorg":
        return _xorg_icon_class(pystray.Icon)
    if pystray.Icon.__module__ in ("pystray._gtk", "pystray._appindicator"):
        return _gtk_icon_class(pystray.Icon)
    return pystray.Icon


def _gtk_icon_class(base: type[Any]) -> type[Any]:
    class GtkIcon(base):  # type: ignore[misc]
        """pystray's GTK or AppIndicator Icon, whose stop does not fail without a notification
        daemon: pystray closes its own notification at stop, even when it never showed one
        (tray-stt's go through tray_stt.desktop.notify), and that D-Bus call raises ServiceUnknown
        (platform-notes §1), which ended every Quit in a traceback."""

        def _initialize(self) -> None:
            super()._initialize()
            close = self._notifier.hide

            def close_quietly() -> None:
                try:
                    close()
                except Exception as exc:
                    _log.debug("closing pystray's notification failed: %s", exc)

            self._notifier.hide = close_quietly

    return GtkIcon


PANEL_GREY = (64, 64, 64)  # behind the icon when the tray's own background cannot be read


def fit_icon(image: Any, size: tuple[int, int], background: Any = None) -> Any:
    """The RGBA ``image`` as an opaque RGB picture of ``size``: square, centred, alpha blended.

    pystray's xorg backend pastes the RGBA picture into a black RGB one stretched to the slot (a
    24x30 slot makes a black, squashed icon); XEmbed windows have no alpha channel.
    """
    from PIL import Image

    width, height = size
    side = max(1, min(width, height))
    if background is None or background.size != size:
        background = Image.new("RGB", size, PANEL_GREY)
    picture = background.convert("RGBA")
    scaled = image.convert("RGBA").resize((side, side), Image.Resampling.LANCZOS)
    picture.alpha_composite(scaled, ((width - side) // 2, (height - side) // 2))
    return picture.convert("RGB")


def _xorg_icon_class(base: type[Any]) -> type[Any]:
    import Xlib.error  # type: ignore[import-untyped, unused-ignore]
    import Xlib.X  # type: ignore[import-untyped, unused-ignore]
    from PIL import Image

    class XorgIcon(base):  # type: ignore[misc]
        """pystray's xorg Icon: hears clicks (pystray#151), draws on the tray's background,
        docks once per tray manager, and docks again when a tray manager (re)starts."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # A tray manager announces itself with a MANAGER client message on the root window
            # (System Tray spec): at a login the panel often starts after us, or restarts.
            manager_atom = self._display.intern_atom("MANAGER")
            pystray_messages = self._message_handlers[Xlib.X.ClientMessage]

            def on_client_message(event: Any) -> None:
                if event.client_type != manager_atom:
                    pystray_messages(event)
                elif event.data[1][1] == self._net_system_tray_sx and self._wanted:
                    self._show()

            self._message_handlers[Xlib.X.ClientMessage] = on_client_message

        def _create_window(self) -> Any:
            window = super()._create_window()
            mask = Xlib.X.ExposureMask | Xlib.X.StructureNotifyMask | Xlib.X.ButtonPressMask
            # ParentRelative: clearing the window paints the tray's background, which _draw
            # then reads back to blend the icon's transparent pixels with it.
            window.change_attributes(event_mask=mask, background_pixmap=Xlib.X.ParentRelative)
            # Before the first look for a tray manager, so none can appear unnoticed after it.
            self._display.screen().root.change_attributes(event_mask=Xlib.X.StructureNotifyMask)
            return window

        _systray_manager: Any  # pystray's: the tray manager's window we asked to dock in
        _wanted = False  # shown (docked, or waiting for a tray); only the loop thread sets it

        def _assert_docked(self) -> None:
            # pystray sends a dock request on every icon change and again in _show; trayer
            # then moves the window into a second socket and drops it from both, leaving the
            # icon undocked on the root window. Ask each tray manager once.
            owner = self._get_systray_manager()
            docked = self._systray_manager
            if owner is not None and (docked is None or docked.id != owner.id):
                self._dock_window()
            assert self._systray_manager

        def _show(self) -> None:
            self._wanted = True
            try:
                self._assert_docked()
            except AssertionError:
                _log.info("no system tray yet: the icon docks when one starts")

        def _hide(self) -> None:
            self._wanted = False
            super()._hide()

        def _update_icon(self) -> None:
            # Only redraw: docking is _show's and the MANAGER message's business.
            self._draw()
            self._icon_valid = True

        def _on_destroy_notify(self, event: Any) -> None:
            manager = self._systray_manager
            if manager is None or event.window.id != manager.id:
                return
            # The tray is gone; its save-set put our window on the root window. Hide it there
            # until a tray manager docks it again (now, if one already took over, or on MANAGER).
            self._systray_manager = None
            self._window.unmap()
            self._show()

        _quitting = False

        def _stop(self) -> None:
            # Runs on the loop thread (pystray dispatches it there). Its own DestroyNotify is
            # sometimes never seen (python-xlib, one in a few dozen stops here), which left the
            # process hanging after Quit: end the event loop on a flag instead.
            self._quitting = True
            super()._stop()

        def _events(self) -> Any:
            while not self._quitting:
                yield self._display.next_event()

        def _draw(self) -> None:
            try:
                geometry = self._window.get_geometry()
                size = (geometry.width, geometry.height)
                self._icon_data = fit_icon(self._icon, size, self._background(size))
                self._icon_data.tostring = self._icon_data.tobytes
                self._window.put_pil_image(self._gc, 0, 0, self._icon_data)
            except Xlib.error.XError:
                pass  # destroyed or not yet mapped: the next Expose draws it

        def _background(self, size: tuple[int, int]) -> Any:
            try:
                self._window.clear_area(0, 0, 0, 0)
                raw = self._window.get_image(0, 0, size[0], size[1], Xlib.X.ZPixmap, 0xFFFFFFFF)
            except Xlib.error.XError:
                return None
            if len(raw.data) != size[0] * size[1] * 4:
                return None  # not a 24-bit visual in 32-bit pixels: fall back to grey
            return Image.frombytes("RGB", size, raw.data, "raw", "BGRX")

    return XorgIcon


def _on_ui_thread(call: Callable[[], None]) -> None:
    """Run a UI change where the platform allows it (macOS: the main thread only)."""
    if sys.platform == "darwin" and threading.current_thread() is not threading.main_thread():
        from PyObjCTools import AppHelper  # type: ignore[import-not-found]

        AppHelper.callAfter(call)
        return
    try:
        call()  # GTK/appindicator queue it with idle_add themselves; xorg and win32 marshal
    except Exception:
        _log.warning("updating the tray icon failed", exc_info=True)


def choose_linux_backend(environ: dict[str, str] | os._Environ[str]) -> str | None:
    """The pystray backend for this Linux desktop, or None to run without a tray.

    AppIndicator (StatusNotifierItem) when PyGObject and its typelib are there: it works on KDE,
    GNOME with the extension and Wayland panels, and where no StatusNotifierWatcher runs (an
    XEmbed panel such as trayer, XFCE's or MATE's) libayatana shows an XEmbed icon instead and
    switches to StatusNotifier when a watcher starts later (at a login the panel often starts
    after us), so it is not second-guessed here. Without the typelib: a Gtk.StatusIcon, which
    has the menu; without PyGObject: pystray's xorg icon, which has none. Both are XEmbed only.
    """
    if environ.get("PYSTRAY_BACKEND"):
        return environ["PYSTRAY_BACKEND"]
    if not environ.get("DISPLAY") and not environ.get("WAYLAND_DISPLAY"):
        return None
    gtk = _has_typelib("Gtk", "3.0")
    indicator = _has_typelib("AyatanaAppIndicator3", "0.1") or _has_typelib("AppIndicator3", "0.1")
    if gtk and indicator:
        return "appindicator"
    if environ.get("WAYLAND_DISPLAY") and not environ.get("DISPLAY"):
        return None  # XEmbed trays do not exist on Wayland
    if gtk:
        _log.warning(
            "No AppIndicator typelib (apt install gir1.2-ayatanaappindicator3-0.1): the icon is a "
            "GTK status icon, which only XEmbed system trays show."
        )
        return "gtk"
    _log.warning(
        "No PyGObject (python3-gi) in this Python: the tray icon has no menu and only XEmbed "
        'system trays show it; the README\'s "Linux tray backends" says how to get AppIndicator.'
    )
    return "xorg"


def _has_typelib(namespace: str, version: str) -> bool:
    """Whether PyGObject is importable and has ``namespace`` at ``version``."""
    try:
        import gi  # type: ignore[import-not-found, unused-ignore]

        gi.require_version(namespace, version)
    except (ImportError, ValueError):
        return False
    return True
