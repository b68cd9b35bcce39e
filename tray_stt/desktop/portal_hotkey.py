"""Push-to-talk on Wayland through the xdg-desktop-portal GlobalShortcuts interface (jeepney).

Wayland lets no client listen to the whole keyboard, but the portal (KDE Plasma 5.27+, GNOME 48+,
Hyprland) binds a shortcut for us and reports both its press (``Activated``) and its release
(``Deactivated``), so hold-to-talk works as it does on X11. The steps, from the portal docs:

1. ``org.freedesktop.host.portal.Registry.Register`` with our app id (xdg-desktop-portal 1.21+
   wants an app id for an unsandboxed app; older portals lack the interface, which is fine);
2. ``CreateSession`` and ``BindShortcuts``, each answered later by a
   ``org.freedesktop.portal.Request.Response`` signal on a request object whose path we compute
   beforehand (``request_path``) and subscribe to before calling, so the answer cannot be missed;
3. ``Activated`` / ``Deactivated`` signals, fed to the same HotkeyMachine as the keyboard hotkey.

What the portal cannot do: report other keys, so **Esc cannot cancel** a turn started with the
portal shortcut. The desktop may bind another trigger than the one we prefer, or none; its dialog
may ask the user first (``start`` waits for that answer, up to ``BIND_TIMEOUT_S``, and the tray
icon appears after it).
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import threading
from collections.abc import Callable, Mapping
from typing import Any

from tray_stt import APP_ID, APP_NAME
from tray_stt.errors import HotkeyUnavailable
from tray_stt.pushtotalk.hotkey import (
    MODIFIERS,
    Chord,
    HotkeyMachine,
    HotkeyMode,
    keysym_name,
)
from tray_stt.pushtotalk.talk import TalkAction

log = logging.getLogger(__name__)

BUS_NAME = "org.freedesktop.portal.Desktop"
OBJECT_PATH = "/org/freedesktop/portal/desktop"
SHORTCUTS_INTERFACE = "org.freedesktop.portal.GlobalShortcuts"
REQUEST_INTERFACE = "org.freedesktop.portal.Request"
SESSION_INTERFACE = "org.freedesktop.portal.Session"
REGISTRY_INTERFACE = "org.freedesktop.host.portal.Registry"
SHORTCUT_ID = "push-to-talk"
SHORTCUT_DESCRIPTION = f"{APP_NAME}: dictate (hold to talk)"
CALL_TIMEOUT_S = 5.0
RESPONSE_TIMEOUT_S = 10.0
BIND_TIMEOUT_S = 60.0  # the desktop may show a dialog and wait for the user
# Response codes (org.freedesktop.portal.Request): 0 success, 1 cancelled by the user, 2 other.
_CANCELLED = 1
_NO_PORTAL_ERRORS = (
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NoReply",
)

# XDG shortcuts spec: modifiers CTRL, ALT, SHIFT, NUM, LOGO; the key is an xkbcommon keysym name.
_PORTAL_MODIFIERS = {"ctrl": "CTRL", "alt": "ALT", "shift": "SHIFT", "cmd": "LOGO"}


def portal_trigger(chord: Chord) -> str:
    """The chord in the XDG shortcuts format: ``<ctrl>+<alt>+space`` -> ``CTRL+ALT+space``."""
    modifiers = [_PORTAL_MODIFIERS[m] for m in MODIFIERS if m in chord.modifiers]
    return "+".join([*modifiers, keysym_name(chord.key)])


def _sender_element(unique_name: str) -> str:
    """``:1.42`` -> ``1_42``: how the portal names a caller in object paths."""
    return unique_name.lstrip(":").replace(".", "_")


def request_path(unique_name: str, token: str) -> str:
    """The Request object the portal will answer on, for a call with ``handle_token=token``."""
    return f"{OBJECT_PATH}/request/{_sender_element(unique_name)}/{token}"


def session_path(unique_name: str, token: str) -> str:
    """The Session object CreateSession makes for ``session_handle_token=token``."""
    return f"{OBJECT_PATH}/session/{_sender_element(unique_name)}/{token}"


def _token() -> str:
    return f"tray_stt_{secrets.token_hex(6)}"  # letters, digits and underscores only


class PortalHotkey:
    """The chord as a GlobalShortcuts portal shortcut; the same interface as KeyboardHotkey.

    ``on_action`` runs on this object's reader thread; it must return quickly. ``environ`` gives
    the session bus address (default: this process's environment).
    """

    def __init__(
        self,
        chord: Chord,
        mode: HotkeyMode,
        on_action: Callable[[TalkAction], None],
        *,
        environ: Mapping[str, str] | None = None,
        bind_timeout: float = BIND_TIMEOUT_S,
    ) -> None:
        """Nothing is bound until ``start``."""
        self.machine = HotkeyMachine(chord, mode)
        self.trigger = portal_trigger(chord)
        self._on_action = on_action
        self._environ = os.environ if environ is None else environ
        self._bind_timeout = bind_timeout
        self._lock = threading.Lock()
        self._connection: Any = None
        self._router: Any = None
        self._signals: queue.Queue[Any] = queue.Queue()
        self._signal_filter: Any = None
        self._reader: threading.Thread | None = None
        self.session_handle: str | None = None
        self.request_paths: list[str] = []  # the Request paths we subscribed to, in call order
        self.bound_trigger: str | None = None  # what the desktop says it bound, if it says

    # -- starting ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Bind the shortcut; HotkeyUnavailable with a sentence if the desktop cannot or won't."""
        try:
            self._start()
        except HotkeyUnavailable:
            self.stop()
            raise
        except Exception as exc:  # a bus error we did not foresee: still only "unavailable"
            self.stop()
            raise HotkeyUnavailable(f"The desktop's GlobalShortcuts portal failed: {exc}") from exc

    def _start(self) -> None:
        try:
            import jeepney  # type: ignore[import-untyped, unused-ignore]  # noqa: F401
            from jeepney.io.threading import (  # type: ignore[import-untyped, unused-ignore]
                DBusRouter,
                open_dbus_connection,
            )
        except ImportError as exc:
            raise HotkeyUnavailable("The GlobalShortcuts portal needs jeepney.") from exc
        address = self._environ.get("DBUS_SESSION_BUS_ADDRESS")
        if not address:
            raise HotkeyUnavailable(
                "There is no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set), so no "
                "GlobalShortcuts portal."
            )
        try:
            self._connection = open_dbus_connection(bus=address, auth_timeout=CALL_TIMEOUT_S)
        except Exception as exc:
            raise HotkeyUnavailable(f"Cannot connect to the D-Bus session bus: {exc}") from exc
        self._router = DBusRouter(self._connection)
        self._register()
        self._check_interface()
        self._subscribe_to_shortcut_signals()
        self.session_handle = self._create_session()
        self._bind()
        self._reader = threading.Thread(target=self._read, name="tray-stt-portal", daemon=True)
        self._reader.start()

    def _register(self) -> None:
        """Tell the portal our app id; older portals have no Registry, which is fine."""
        try:
            self._call(REGISTRY_INTERFACE, "Register", "sa{sv}", (APP_ID, {}))
        except _CallFailed as exc:
            if exc.name in _NO_PORTAL_ERRORS:
                raise HotkeyUnavailable(
                    "No xdg-desktop-portal runs on the session bus, so no GlobalShortcuts portal."
                ) from exc
            log.debug("portal Registry.Register(%s) failed: %s", APP_ID, exc)

    def _check_interface(self) -> None:
        try:
            reply = self._call(
                "org.freedesktop.DBus.Properties",
                "Get",
                "ss",
                (SHORTCUTS_INTERFACE, "version"),
            )
        except _CallFailed as exc:
            if exc.name in _NO_PORTAL_ERRORS:
                raise HotkeyUnavailable(
                    "No xdg-desktop-portal runs on the session bus, so no GlobalShortcuts portal."
                ) from exc
            raise HotkeyUnavailable(
                "This desktop's xdg-desktop-portal has no GlobalShortcuts interface "
                "(KDE Plasma 5.27+ and GNOME 48+ have it)."
            ) from exc
        _signature, version = reply[0]
        log.debug("GlobalShortcuts portal version %s", version)

    def _subscribe_to_shortcut_signals(self) -> None:
        from jeepney import MatchRule, message_bus  # type: ignore[import-untyped, unused-ignore]

        for member in ("Activated", "Deactivated"):
            rule = MatchRule(
                type="signal", interface=SHORTCUTS_INTERFACE, member=member, path=OBJECT_PATH
            )
            self._router.send_and_get_reply(message_bus.AddMatch(rule), timeout=CALL_TIMEOUT_S)
        # One local filter for both (the sender is the portal's unique name, not BUS_NAME).
        local = MatchRule(type="signal", interface=SHORTCUTS_INTERFACE, path=OBJECT_PATH)
        self._signal_filter = self._router.filter(local, queue=self._signals)

    def _create_session(self) -> str:
        session_token = _token()
        code, results = self._request(
            "CreateSession", "", (), RESPONSE_TIMEOUT_S, {"session_handle_token": session_token}
        )
        if code != 0 or "session_handle" not in results:
            raise HotkeyUnavailable(
                f"The GlobalShortcuts portal made no session (response {code})."
            )
        _signature, handle = results["session_handle"]  # "s" in the spec; "o" also accepted
        expected = session_path(self._router.unique_name, session_token)
        if handle != expected:
            log.debug("portal session %s, not %s as computed", handle, expected)
        return str(handle)

    def _bind(self) -> None:
        shortcut = {
            "description": ("s", SHORTCUT_DESCRIPTION),
            "preferred_trigger": ("s", self.trigger),
        }
        code, results = self._request(
            "BindShortcuts",
            "oa(sa{sv})s",
            (self.session_handle, [(SHORTCUT_ID, shortcut)], ""),
            self._bind_timeout,
        )
        if code == _CANCELLED:
            raise HotkeyUnavailable(
                "The push-to-talk shortcut was declined in the desktop's dialog."
            )
        if code != 0:
            raise HotkeyUnavailable(
                f"The desktop did not bind the push-to-talk shortcut (response {code})."
            )
        _signature, shortcuts = results.get("shortcuts", ("a(sa{sv})", []))
        bound = {shortcut_id: properties for shortcut_id, properties in shortcuts}
        if SHORTCUT_ID not in bound:
            raise HotkeyUnavailable("The desktop bound no push-to-talk shortcut.")
        described = bound[SHORTCUT_ID].get("trigger_description")
        self.bound_trigger = str(described[1]) if described else None
        log.info(
            "Push-to-talk through the GlobalShortcuts portal: %s (asked for %s)",
            self.bound_trigger or "trigger not reported",
            self.trigger,
        )

    def _request(
        self,
        method: str,
        signature: str,
        args: tuple[Any, ...],
        timeout: float,
        options: Mapping[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """Call a method that answers with a Request; wait for its Response signal."""
        from jeepney import MatchRule, message_bus  # type: ignore[import-untyped, unused-ignore]

        token = _token()
        path = request_path(self._router.unique_name, token)
        self.request_paths.append(path)
        rule = MatchRule(type="signal", interface=REQUEST_INTERFACE, member="Response", path=path)
        # Subscribe before calling: the Response may come before the call's own reply is read.
        self._router.send_and_get_reply(message_bus.AddMatch(rule), timeout=CALL_TIMEOUT_S)
        # Every portal method ends in an options dict; string options only, here.
        variants = {
            name: ("s", value) for name, value in {**(options or {}), "handle_token": token}.items()
        }
        body = (*args, variants)
        answers: queue.Queue[Any] = queue.Queue()
        try:
            with self._router.filter(rule, queue=answers):
                try:
                    (handle,) = self._call(SHORTCUTS_INTERFACE, method, signature + "a{sv}", body)
                except _CallFailed as exc:
                    raise HotkeyUnavailable(
                        f"The GlobalShortcuts portal refused {method}: {exc}"
                    ) from exc
                if handle != path:
                    log.debug("portal request %s, not %s as computed", handle, path)
                try:
                    response = answers.get(timeout=timeout)
                except queue.Empty:
                    raise HotkeyUnavailable(
                        f"The GlobalShortcuts portal did not answer {method} within "
                        f"{timeout:.0f} s."
                    ) from None
        finally:
            self._router.send(message_bus.RemoveMatch(rule))
        code, results = response.body
        return int(code), dict(results)

    def _call(self, interface: str, method: str, signature: str, body: tuple[Any, ...]) -> Any:
        """A method call on the portal object; its reply body, or _CallFailed."""
        from jeepney import DBusAddress, MessageType, new_method_call  # type: ignore[import-untyped, unused-ignore]
        from jeepney.wrappers import HeaderFields  # type: ignore[import-untyped, unused-ignore]

        address = DBusAddress(OBJECT_PATH, bus_name=BUS_NAME, interface=interface)
        message = new_method_call(address, method, signature, body)
        reply = self._router.send_and_get_reply(message, timeout=CALL_TIMEOUT_S)
        if reply.header.message_type == MessageType.error:
            name = str(reply.header.fields.get(HeaderFields.error_name, ""))
            detail = reply.body[0] if reply.body else ""
            raise _CallFailed(name, f"{name}: {detail}" if detail else name)
        return reply.body

    # -- running ----------------------------------------------------------------------------------

    def _read(self) -> None:
        """On the reader thread: Activated presses the whole chord, Deactivated lets it go."""
        while True:
            message = self._signals.get()
            if message is None:
                return
            self._handle(message)

    def _handle(self, message: Any) -> None:
        from jeepney.wrappers import HeaderFields  # type: ignore[import-untyped, unused-ignore]

        member = message.header.fields.get(HeaderFields.member)
        session, shortcut_id = message.body[0], message.body[1]
        if session != self.session_handle or shortcut_id != SHORTCUT_ID:
            return
        # The machine wants key names: the portal's press is the whole chord going down at once,
        # so a repeated Activated (no key up between) changes nothing, as auto-repeat does not.
        chord = self.machine.chord
        keys = [*(m for m in MODIFIERS if m in chord.modifiers), chord.key]
        actions: list[TalkAction] = []
        with self._lock:
            for key in keys:
                if member == "Activated":
                    action = self.machine.press(key)
                elif member == "Deactivated":
                    action = self.machine.release(key)
                else:
                    return
                if action is not None:
                    actions.append(action)
        for action in actions:
            self._on_action(action)

    # -- stopping ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Close the portal session (the desktop drops the shortcut) and the connection."""
        router, self._router = self._router, None
        if router is not None and self.session_handle is not None:
            from jeepney import DBusAddress, new_method_call  # type: ignore[import-untyped, unused-ignore]

            session = DBusAddress(
                self.session_handle, bus_name=BUS_NAME, interface=SESSION_INTERFACE
            )
            try:
                router.send_and_get_reply(new_method_call(session, "Close"), timeout=CALL_TIMEOUT_S)
            except Exception as exc:  # the portal went away: the session went with it
                log.debug("closing the portal session failed: %s", exc)
        self.session_handle = None
        if self._signal_filter is not None:
            self._signal_filter.close()
            self._signal_filter = None
        if self._reader is not None:
            self._signals.put(None)
            self._reader.join(timeout=5)
            self._reader = None
        if router is not None:
            router.close()
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class _CallFailed(Exception):
    """A D-Bus error reply; ``name`` is the error name."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
