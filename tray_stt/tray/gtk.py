"""pystray's GTK and AppIndicator Icons, made to stop quietly without a notification daemon and
to start without GTK's one known false alarm."""

from __future__ import annotations

import logging
import sys
from typing import Any

_log = logging.getLogger(__name__)

# The one GDK complaint that every start on an XEmbed tray printed, and nothing else.
_FALSE_ALARM = "gdk_window_thaw_toplevel_updates"


def gtk_icon_class(base: type[Any]) -> type[Any]:
    quiet_false_alarm()

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
            # pystray's own decorator: GTK is touched on its main loop only.
            on_loop = sys.modules[base.__module__].mainloop
            on_loop(lambda _icon: status_icon.set_tooltip_text(self.title))(self)

    return GtkIcon


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
