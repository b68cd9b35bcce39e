"""pystray's GTK and AppIndicator Icons, made to stop quietly without a notification daemon."""

from __future__ import annotations

import logging
import sys
from typing import Any

_log = logging.getLogger(__name__)


def gtk_icon_class(base: type[Any]) -> type[Any]:
    class GtkIcon(base):  # type: ignore[misc]
        """pystray's GTK or AppIndicator Icon, whose stop does not fail without a notification
        daemon: pystray closes its own notification at stop, even when it never showed one
        (tray-stt's go through tray_stt.desktop.notify), and that D-Bus call raises ServiceUnknown
        (docs/architecture.md §6.1), which ended every Quit in a traceback."""

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
