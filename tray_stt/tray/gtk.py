"""pystray's GTK and AppIndicator Icons, made to stop quietly without a notification daemon, to
start without GTK's one known false alarm, and to relabel their menu instead of rebuilding it."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

_log = logging.getLogger(__name__)

# The one GDK complaint that every start on an XEmbed tray printed, and nothing else.
_FALSE_ALARM = "gdk_window_thaw_toplevel_updates"


def gtk_icon_class(base: type[Any]) -> type[Any]:
    quiet_false_alarm()
    # pystray's decorator: the call runs later, on GTK's loop, the only thread that touches GTK.
    on_loop: Callable[[Callable[..., None]], Callable[..., None]]
    on_loop = sys.modules[base.__module__].mainloop
    # pystray's rebuild itself, run in the same turn of the loop: through its decorator it would
    # run a turn later, and the first _show() would find no menu yet.
    rebuild: Callable[[Any], None] = base._update_menu.__wrapped__

    class GtkIcon(base):  # type: ignore[misc]
        """pystray's GTK or AppIndicator Icon, whose stop does not fail without a notification
        daemon: pystray closes its own notification at stop, even when it never showed one
        (tray-stt's go through tray_stt.desktop.notify), and that D-Bus call raises ServiceUnknown
        (docs/architecture.md, "Tray (pystray)"), which ended every Quit in a traceback."""

        def _initialize(self) -> None:
            super()._initialize()
            close = self._notifier.hide

            def close_quietly() -> None:
                try:
                    close()
                except Exception as exc:
                    _log.debug("closing pystray's notification failed: %s", exc)

            self._notifier.hide = close_quietly

        def _update_title(self) -> None:
            """A GTK status icon shows its title nowhere: its tooltip is the text to set
            (pystray sets only the title; appindicator has no tooltip, its menu's status rows
            say the same)."""
            super()._update_title()
            status_icon = getattr(self, "_status_icon", None)
            if status_icon is None:
                return
            on_loop(lambda _icon: status_icon.set_tooltip_text(self.title))(self)

        _built: list[tuple[Any, Any]] | None = None  # (Gtk item, pystray item) as built

        def _create_menu(self, descriptors: Any) -> Any:
            if descriptors is self.menu:  # the whole menu, not a submenu: a new record
                self._built = []
            return super()._create_menu(descriptors)

        def _create_menu_item(self, descriptor: Any) -> Any:
            widget = super()._create_menu_item(descriptor)
            if self._built is not None:
                self._built.append((widget, descriptor))
            return widget

        @on_loop
        def _update_menu(self) -> None:
            """Relabel the menu GTK has when only texts and greying changed (the status rows,
            Recent, Start/Stop): a rebuild on every transcript cost a third of the tray's CPU
            while listening to speech (benchmarks/bench_tray.py), and closed a menu the user had
            open. An item shown or hidden, or a check mark changed, rebuilds it as pystray does."""
            if not relabel(self._built, self.menu):
                rebuild(self)

    return GtkIcon


def relabel(built: list[tuple[Any, Any]] | None, menu: Any) -> bool:
    """Bring the Gtk menu items ``built`` from pystray ``menu`` up to date in place; False, with
    nothing changed, unless the same items are shown with the same check marks.

    Every item's action stays right only because it is the same pystray item as when built: a
    submenu made anew on each reading (``Menu(callable)``) is rebuilt every time."""
    if built is None:
        return False
    shown = list(_build_order(menu))
    if len(shown) != len(built):
        return False
    if any(new is not old for new, (_, old) in zip(shown, built, strict=True)):
        return False
    items = [(widget, item) for widget, item in built if item is not menu.SEPARATOR]
    if any(
        item.checked is not None and widget.get_active() != item.checked for widget, item in items
    ):
        return False  # set_active() would also activate the item, that is run its action
    for widget, item in items:
        text = item.text
        # pystray draws the default item bold, through its label's markup
        label = f"<b>{_escaped(text)}</b>" if item.default else text
        if widget.get_label() != label:
            widget.set_label(text)
            if item.default:
                widget.get_children()[0].set_markup(label)
        if widget.get_sensitive() != item.enabled:
            widget.set_sensitive(item.enabled)
    return True


def _escaped(text: str) -> str:
    from gi.repository import GLib  # type: ignore[import-not-found, unused-ignore]

    return str(GLib.markup_escape_text(text))


def _build_order(menu: Iterable[Any]) -> Iterator[Any]:
    """The shown items of ``menu`` in the order pystray's GTK backends create their widgets: a
    submenu's items before the item that opens it."""
    for item in menu:
        submenu = getattr(item, "submenu", None)
        if submenu:
            yield from _build_order(submenu)
        yield item


def quiet_false_alarm() -> None:
    """Keep GDK's "gdk_window_thaw_toplevel_updates: assertion … failed" off stderr.

    Where no StatusNotifierWatcher runs, libayatana-appindicator falls back to a Gtk.StatusIcon
    and names it (gtk_status_icon_set_name) right after creating it: GTK then unrealizes and
    re-shows the icon's window before the tray has embedded it, and the tray's MapNotify thaws
    a window that was never frozen. Nothing is wrong (the icon docks, draws and works), but the
    Gdk-CRITICAL line on every start reads like a crash. The order is inside libayatana, out of
    our reach, so only that message is dropped (logged at debug); every other GDK message
    reaches stderr as GLib prints it.
    """
    from gi.repository import GLib  # type: ignore[import-not-found, unused-ignore]

    def handler(domain: str, level: Any, message: str, data: Any) -> None:
        if _FALSE_ALARM in message:
            _log.debug("GDK (harmless, XEmbed fallback): %s", message)
            return
        GLib.log_default_handler(domain, level, message, data)

    levels = GLib.LogLevelFlags.LEVEL_CRITICAL | GLib.LogLevelFlags.LEVEL_WARNING
    GLib.log_set_handler("Gdk", levels, handler, None)
