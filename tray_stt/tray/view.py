"""The tray icon: a pystray view of the controller's snapshots. The only module importing pystray.

Menu callbacks only post commands. Every change to the icon comes through ``show``, which may be
called from any thread and hands the work to the tray's own thread where the platform needs it
(docs/architecture.md, "Tray (pystray)": AppKit must only be touched from the main thread).
"""

from __future__ import annotations

import logging
import sys
import textwrap
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from tray_stt import APP_ID, APP_NAME, __version__
from tray_stt.app.state import (
    RECENT_COUNT,
    AppState,
    ChangeSettings,
    Command,
    Quit,
    RetryPending,
    SetAutostart,
    Snapshot,
    Toggle,
)
from tray_stt.pushtotalk.talk import DictationState
from tray_stt.realtime.models import DEFAULT_MODEL, MODELS
from tray_stt.transcripts import LogLine
from tray_stt.tray.backend import native_icon_class
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
STATUS_WIDTH = 48  # characters per status row: keeps the menu narrow
STATUS_ROWS = 3  # an error sentence longer than this many rows ends in "…"
RECENT_WIDTH = 48  # characters of a transcript in the Recent submenu
# What the menu's status line says of a state. Speech and silence read alike there: the menu
# is redrawn when its status changes (relabelled in place on GTK, tray.gtk).
MENU_STATE_WORDS = {
    AppState.IDLE: "Idle",
    AppState.CONNECTING: "Connecting…",
    AppState.LISTENING: "Listening",
    AppState.SPEECH: "Listening",
    AppState.ERROR: "Error",
}
MENU_DICTATION_WORDS = {
    DictationState.RECORDING: "Dictating…",
    DictationState.TRANSCRIBING: "Transcribing…",
}


@dataclass(frozen=True)
class TrayActions:
    """What menu items do besides posting commands (opening files, asking for the key)."""

    open_log: Callable[[], None]
    open_log_folder: Callable[[], None]
    open_settings: Callable[[], None]
    ask_api_key: Callable[[], None]
    about: Callable[[], None]
    open_usage: Callable[[], None] = lambda: None  # the month's usage chart
    copy_text: Callable[[str], None] = lambda text: None  # a Recent transcript, chosen


def title_for(snapshot: Snapshot) -> str:
    """The tooltip: the state, then the start of the partial or last transcript.

    A push-to-talk turn comes first: while it is said, its live text is what the user watches.
    """
    talking = DICTATION_WORDS.get(snapshot.dictation)
    state = talking or STATE_WORDS[snapshot.state]
    if snapshot.state is AppState.ERROR and not talking:
        text = snapshot.detail
    elif talking:
        text = snapshot.partial  # this turn's words, never the previous turn's
    else:
        text = snapshot.partial or snapshot.last_transcript
    title = f"{APP_NAME}: {state}" + (f" · {' '.join(text.split())}" if text else "")
    return title if len(title) <= TITLE_LIMIT else title[: TITLE_LIMIT - 1] + "…"


def status_lines(snapshot: Snapshot) -> tuple[str, ...]:
    """The menu's first, disabled rows: the state, then the error sentence or the last
    transcript (docs/architecture.md, "Tray (pystray)": not every tray shows a tooltip).

    While a push-to-talk turn runs it says so and nothing of the previous transcript; its live
    words stay in the tooltip, since the menu is not redrawn for each partial transcript.
    """
    talking = MENU_DICTATION_WORDS.get(snapshot.dictation)
    if talking:
        return (talking,)
    state = MENU_STATE_WORDS[snapshot.state]
    text = snapshot.detail if snapshot.state is AppState.ERROR else snapshot.last_transcript
    text = " ".join(text.split())
    if not text:
        return (state,)
    rows = textwrap.wrap(f"{state}: {text}", STATUS_WIDTH, break_on_hyphens=False)
    if len(rows) > STATUS_ROWS:
        rows = rows[: STATUS_ROWS - 1] + [_shorten(" ".join(rows[STATUS_ROWS - 1 :]), STATUS_WIDTH)]
    return tuple(rows)


def recent_label(line: LogLine) -> str:
    """A transcript as the Recent submenu shows it: its time and the start of its text."""
    return f"{line.when:%H:%M}  {_shorten(line.text, RECENT_WIDTH)}"


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


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
            *self._status_items(),
            menu.SEPARATOR,
            item(
                lambda _: "Stop listening" if now().listening else "Start listening",
                self._do(lambda: self._post(Toggle())),
                default=True,
            ),
            item("Recent", menu(*self._recent_items())),
            item(
                "Copy transcripts to clipboard",
                self._do(lambda: self._change(clipboard=not now().config.clipboard)),
                checked=lambda _: now().config.clipboard,
            ),
            item(
                lambda _: _pending_label(now().pending),
                self._do(lambda: self._post(RetryPending())),
                visible=lambda _: now().pending > 0,
            ),
            item("Language", menu(*self._language_items())),
            item("Model", menu(*self._model_items())),
            menu.SEPARATOR,
            item("Open today's log", self._do(self._actions.open_log)),
            item("Open log folder", self._do(self._actions.open_log_folder)),
            item(
                lambda _: f"Usage: {now().usage_today}…" if now().usage_today else "Usage…",
                self._do(self._actions.open_usage),
            ),
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
            item(f"About {APP_NAME} {__version__}", self._do(self._actions.about)),
            menu.SEPARATOR,
            item("Quit", self._do(self._quit)),
        )

    def _status_items(self) -> list[Any]:
        """The status rows: disabled items, as many shown as the status needs."""
        import pystray

        def row(index: int) -> Any:
            def text(_: Any) -> str:
                rows = status_lines(self._snapshot())
                return rows[index] if index < len(rows) else ""

            return pystray.MenuItem(
                text,
                None,
                enabled=False,
                visible=lambda _: index < len(status_lines(self._snapshot())),
            )

        return [row(index) for index in range(STATUS_ROWS)]

    def _recent_items(self) -> list[Any]:
        """The Recent submenu, newest first; choosing one copies its text to the clipboard.

        Fixed items that each read their place in the snapshot, as the status rows do: a new
        transcript then only relabels the menu GTK shows (tray.gtk) instead of rebuilding it."""
        import pystray

        def row(index: int) -> Any:
            def line() -> LogLine | None:
                recent = self._snapshot().recent
                return recent[-1 - index] if index < len(recent) else None

            def copy() -> None:
                chosen = line()
                if chosen is not None:
                    self._actions.copy_text(chosen.text)

            return pystray.MenuItem(
                lambda _: recent_label(chosen) if (chosen := line()) else "",
                self._do(copy),
                visible=lambda _: line() is not None,
            )

        nothing = pystray.MenuItem(
            "No transcripts yet", None, enabled=False, visible=lambda _: not self._snapshot().recent
        )
        return [nothing, *(row(index) for index in range(RECENT_COUNT))]

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
                model_label(name),
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

        icon_class = self._icon_class or native_icon_class(pystray)
        snapshot = self._snapshot()
        self._icon = icon_class(
            APP_ID,
            icon=load_icon(icon_state(snapshot)),
            title=title_for(snapshot),
            menu=self.build_menu(),
        )
        # The title is set again once the loop runs: the GTK backends show it only when set.
        self._shown = (icon_state(snapshot), "")
        self._menu_shown = menu_key(snapshot)
        try:
            self._icon.run(setup=self._setup)
        except (
            Exception
            # GTK raises at stop when no notification daemon exists (docs/architecture.md, "Tray
            # (pystray)")
        ):
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
                # Changed from outside the menu (control socket, errors): redraw it
                # (docs/architecture.md, "Tray (pystray)"). Not on every partial transcript.
                self._menu_shown = menu
                icon.update_menu()

    def notify(self, body: str, title: str) -> None:
        """Windows notifications go through the icon (pystray owns the balloon).

        In pystray's argument order; the Notifier has already cut both to the balloon's limits.
        """
        icon = self._icon
        if icon is not None:
            self._ui_call(lambda: icon.notify(body, title))


def model_label(name: str) -> str:
    """A model as the Model menu shows it: the default and the ones being shut down marked."""
    info = MODELS.get(name)
    if name == DEFAULT_MODEL:
        return f"{name} (default)"
    if info is not None and info.shutdown is not None:
        return f"{name} (shuts down {info.shutdown:%Y-%m-%d})"
    return name


def menu_key(snapshot: Snapshot) -> tuple[object, ...]:
    """What the menu shows of a snapshot: when it changes, the native menu is redrawn."""
    settings = snapshot.config.transcription
    api_key = bool(snapshot.config.api_key)
    return (
        status_lines(snapshot),
        snapshot.recent,
        snapshot.listening,
        snapshot.config.clipboard,
        settings.language,
        settings.model,
        snapshot.autostart,
        api_key,
        snapshot.pending,
    )


def _pending_label(count: int) -> str:
    return f"Transcribe {count} pending recording{'' if count == 1 else 's'}"


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
