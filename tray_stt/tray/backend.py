"""Which pystray backend runs, and the repaired Icon class of the one that does.

pystray keeps one private module per backend; so do we: tray.gtk and tray.xorg patch theirs.
"""

from __future__ import annotations

import logging
import os
from typing import Any

_log = logging.getLogger(__name__)


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


def gi_typelibs() -> tuple[bool, bool, bool]:
    """(PyGObject importable, GTK 3 typelib, an AppIndicator typelib): what the GTK backends
    need, for ``tray-stt doctor``."""
    try:
        import gi  # type: ignore[import-not-found, unused-ignore]  # noqa: F401
    except ImportError:
        return False, False, False
    indicator = _has_typelib("AyatanaAppIndicator3", "0.1") or _has_typelib("AppIndicator3", "0.1")
    return True, _has_typelib("Gtk", "3.0"), indicator


def _has_typelib(namespace: str, version: str) -> bool:
    """Whether PyGObject is importable and has ``namespace`` at ``version``."""
    try:
        import gi  # type: ignore[import-not-found, unused-ignore]

        gi.require_version(namespace, version)
    except (ImportError, ValueError):
        return False
    return True


def native_icon_class(pystray: Any) -> Any:
    """pystray's Icon for this platform; on xorg with its click and transparency repaired, on
    GTK and AppIndicator quiet at stop when no notification daemon runs."""
    if pystray.Icon.__module__ == "pystray._xorg":
        from tray_stt.tray.xorg import xorg_icon_class

        return xorg_icon_class(pystray.Icon)
    if pystray.Icon.__module__ in ("pystray._gtk", "pystray._appindicator"):
        from tray_stt.tray.gtk import gtk_icon_class

        return gtk_icon_class(pystray.Icon)
    return pystray.Icon
