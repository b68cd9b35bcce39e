"""Questions to the desktop that change nothing: who owns a D-Bus name or the X11 system tray
selection, and which version of the GlobalShortcuts portal answers. For ``tray-stt doctor``.

Each call opens its own short connection and is bounded by ``timeout``; a desktop that cannot
be asked (no session bus, no display) raises a TraySttError whose sentence says so.
"""

from __future__ import annotations

import os

from tray_stt.errors import TraySttError

STATUS_NOTIFIER_WATCHER = "org.kde.StatusNotifierWatcher"
NOTIFICATIONS = "org.freedesktop.Notifications"
PORTAL = "org.freedesktop.portal.Desktop"
GLOBAL_SHORTCUTS = "org.freedesktop.portal.GlobalShortcuts"


def bus_name_available(name: str, timeout: float) -> str | None:
    """How ``name`` is reached on the session bus: "running" (it has an owner), "activatable"
    (the bus starts it when called), or None (neither)."""
    if _call_bus("NameHasOwner", "s", (name,), timeout)[0]:
        return "running"
    names = _call_bus("ListActivatableNames", "", (), timeout)[0]
    return "activatable" if isinstance(names, list) and name in names else None


def portal_shortcuts_version(timeout: float) -> int | None:
    """The version of the portal's GlobalShortcuts interface; None when the portal runs
    without it or no portal answers."""
    import jeepney  # type: ignore[import-untyped, unused-ignore]

    address = jeepney.DBusAddress(
        "/org/freedesktop/portal/desktop",
        bus_name=PORTAL,
        interface="org.freedesktop.DBus.Properties",
    )
    message = jeepney.new_method_call(address, "Get", "ss", (GLOBAL_SHORTCUTS, "version"))
    try:
        reply = _send(message, timeout)
    except jeepney.wrappers.DBusErrorResponse:
        return None  # ServiceUnknown (no portal), UnknownInterface/Property (no GlobalShortcuts)
    variant = reply[0]
    assert isinstance(variant, tuple)  # (signature, value)
    return int(variant[1])


def xembed_tray_owned(display_name: str) -> bool:
    """Whether an XEmbed system tray owns ``_NET_SYSTEM_TRAY_S<screen>`` on ``display_name``."""
    try:
        from Xlib import X, display, error
    except ImportError as exc:
        raise TraySttError(
            "python-xlib is not installed, so the X11 tray cannot be asked."
        ) from exc
    try:
        connection = display.Display(display_name)
    except (error.DisplayError, OSError) as exc:
        raise TraySttError(f"The X display {display_name} cannot be opened ({exc}).") from exc
    try:
        atom = connection.intern_atom(f"_NET_SYSTEM_TRAY_S{connection.get_default_screen()}")
        return bool(connection.get_selection_owner(atom) != X.NONE)
    finally:
        connection.close()


def _call_bus(
    method: str, signature: str, args: tuple[object, ...], timeout: float
) -> tuple[object, ...]:
    import jeepney  # type: ignore[import-untyped, unused-ignore]

    address = jeepney.DBusAddress(
        "/org/freedesktop/DBus", bus_name="org.freedesktop.DBus", interface="org.freedesktop.DBus"
    )
    return _send(jeepney.new_method_call(address, method, signature, args), timeout)


def _send(message: object, timeout: float) -> tuple[object, ...]:
    """Send on a fresh session-bus connection; the reply's body. A failed call raises jeepney's
    DBusErrorResponse; no bus at all, a TraySttError."""
    try:
        import jeepney  # type: ignore[import-untyped, unused-ignore]
        import jeepney.io.blocking  # type: ignore[import-untyped, unused-ignore]
    except ImportError as exc:
        raise TraySttError("jeepney is not installed, so D-Bus cannot be asked.") from exc
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        raise TraySttError("No D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set.")
    try:
        connect = jeepney.io.blocking.open_dbus_connection
        with connect(bus="SESSION", auth_timeout=timeout) as connection:
            reply = connection.send_and_get_reply(message, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise TraySttError(f"The D-Bus session bus does not answer ({exc}).") from exc
    body: tuple[object, ...] = jeepney.wrappers.unwrap_msg(reply)
    return body
