"""What is before the text cursor in the focused field, asked of the desktop's accessibility bus.

Joining a dictation to what precedes it (pushtotalk.joining) reads best from the field itself:
the user may have typed there, or moved the cursor, since tray-stt last delivered. On Linux the
field's toolkit publishes it over AT-SPI, a D-Bus bus of its own whose address the session bus
hands out (org.a11y.Bus). GTK applications always publish; Qt, Chromium and Electron ones only
when accessibility is switched on; xterm and Tk never do. Whatever cannot be asked within the
time budget is "unknown" (None), and the caller falls back to what tray-stt delivered last.

Pure D-Bus with jeepney (no PyGObject: ``tray-stt dictate`` runs in any Python). Nothing is
started: where no accessibility bus runs, the answer is None without activating one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

_log = logging.getLogger(__name__)

CONTEXT_CHARS = 200  # as much of the field as joining could ever look at, and then some
TIMEOUT_S = 0.15  # the whole question, every bus and application included

_A11Y_BUS = ("org.a11y.Bus", "/org/a11y/bus", "org.a11y.Bus")
_REGISTRY_ROOT = ("org.a11y.atspi.Registry", "/org/a11y/atspi/accessible/root")
_ACCESSIBLE = "org.a11y.atspi.Accessible"
_COLLECTION = "org.a11y.atspi.Collection"
_TEXT = "org.a11y.atspi.Text"
# AtspiStateType bits, and the roles whose text must not be read.
_ACTIVE, _EDITABLE, _FOCUSED = 1, 7, 12
_ROLE_PASSWORD_TEXT = 40
# A MatchRule (states, attributes, roles, interfaces, each with a match type; invert): objects
# that are focused and editable. MATCH_ALL (1) of an empty set matches everything.
_MATCH_ALL = 1
_FOCUSED_EDITABLE_RULE: tuple[object, ...] = (
    [(1 << _EDITABLE) | (1 << _FOCUSED), 0],
    _MATCH_ALL,
    {},
    _MATCH_ALL,
    [0, 0, 0, 0],
    _MATCH_ALL,
    [],
    _MATCH_ALL,
    False,
)
_SORT_CANONICAL = 1


class _Unknown(Exception):
    """The question has no answer here: no bus, no focused field, no time left."""


def text_before_caret(
    environ: Mapping[str, str], *, timeout_s: float = TIMEOUT_S, limit: int = CONTEXT_CHARS
) -> str | None:
    """Up to ``limit`` characters before the cursor of the focused editable text, "" at its
    start or in a password field, or None when the desktop cannot tell within ``timeout_s``.
    Never raises."""
    address = environ.get("DBUS_SESSION_BUS_ADDRESS")
    if not address:
        return None
    deadline = time.monotonic() + timeout_s
    try:
        return _Question(deadline).ask(address, limit)
    except _Unknown as why:
        _log.debug("no text before the cursor from AT-SPI: %s", why)
    except Exception as exc:  # a desktop program's bus is foreign input: never a traceback
        _log.debug("asking AT-SPI for the text before the cursor failed: %r", exc)
    return None


class _Question:
    """One question, on connections that last only for it, against one deadline."""

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline

    def _left(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise _Unknown("out of time")
        return left

    def ask(self, session_address: str, limit: int) -> str:
        from jeepney.io.blocking import (  # type: ignore[import-untyped, unused-ignore]
            open_dbus_connection,
        )

        with open_dbus_connection(bus=session_address, auth_timeout=self._left()) as session:
            a11y_address = self._a11y_bus(session)
        with open_dbus_connection(bus=a11y_address, auth_timeout=self._left()) as a11y:
            bus_name, path, app = self._focused_field(a11y)
            if not self._in_active_window(a11y, bus_name, path, app):
                raise _Unknown("the focused field's window is not the active one")
            role = self._call(a11y, bus_name, path, _ACCESSIBLE, "GetRole")[0]
            if role == _ROLE_PASSWORD_TEXT:
                return ""
            caret = self._property(a11y, bus_name, path, _TEXT, "CaretOffset")
            if not isinstance(caret, int) or caret < 0:
                raise _Unknown(f"no caret ({caret!r})")
            start = max(0, caret - limit)
            text = self._call(a11y, bus_name, path, _TEXT, "GetText", "ii", (start, caret))[0]
            if not isinstance(text, str):
                raise _Unknown(f"GetText returned {text!r}")
            return text[-limit:] if limit else ""

    def _a11y_bus(self, session: Any) -> str:
        """The accessibility bus's address; _Unknown when none runs (it is never started)."""
        from jeepney import message_bus  # type: ignore[import-untyped, unused-ignore]

        owned = session.send_and_get_reply(
            message_bus.NameHasOwner(_A11Y_BUS[0]), timeout=self._left()
        )
        if not owned.body or not owned.body[0]:
            raise _Unknown("no accessibility bus on this session")
        address = self._call(session, *_A11Y_BUS, "GetAddress")[0]
        if not isinstance(address, str) or not address:
            raise _Unknown("the accessibility bus has no address")
        return address

    def _focused_field(self, a11y: Any) -> tuple[str, str, str]:
        """The one focused editable object among every application's, asked of all at once."""
        from jeepney import DBusAddress, MessageType, new_method_call
        from jeepney.wrappers import HeaderFields  # type: ignore[import-untyped, unused-ignore]

        apps = self._call(a11y, *_REGISTRY_ROOT, _ACCESSIBLE, "GetChildren")[0]
        asked: dict[int, str] = {}  # serial: the application's root object
        for bus_name, path in apps:
            app = DBusAddress(path, bus_name=bus_name, interface=_COLLECTION)
            rule = (_FOCUSED_EDITABLE_RULE, _SORT_CANONICAL, 1, True)
            serial = next(a11y.outgoing_serial)  # the connection's own numbering
            a11y.send(new_method_call(app, "GetMatches", "(aiia{ss}iaiiasib)uib", rule), serial)
            asked[serial] = str(path)
        found: list[tuple[str, str, str]] = []
        while asked:
            reply = a11y.receive(timeout=self._left())
            serial = reply.header.fields.get(HeaderFields.reply_serial)
            if serial not in asked:
                continue
            app_root = asked.pop(serial)
            if reply.header.message_type is MessageType.method_return:
                found.extend((str(name), str(path), app_root) for name, path in reply.body[0])
        if len(found) != 1:  # none, or a toolkit that keeps focus in windows that lost it
            raise _Unknown(f"{len(found)} focused editable objects")
        return found[0]

    def _in_active_window(self, a11y: Any, bus_name: str, path: str, app_root: str) -> bool:
        """Whether the window holding ``path`` (its ancestor just below the application) is the
        active one: a toolkit that leaves a field marked focused after its window lost the focus
        must not answer for the window that has it."""
        for _ in range(64):  # deeper than any real widget tree
            parent = self._property(a11y, bus_name, path, _ACCESSIBLE, "Parent")
            if not isinstance(parent, tuple) or len(parent) != 2 or parent[1] == path:
                return False
            if parent[1] == app_root:
                states = self._call(a11y, bus_name, path, _ACCESSIBLE, "GetState")[0]
                return bool(states and states[0] & (1 << _ACTIVE))
            path = str(parent[1])
        return False

    def _call(
        self,
        connection: Any,
        bus_name: str,
        path: str,
        interface: str,
        method: str,
        signature: str | None = None,
        body: tuple[Any, ...] = (),
    ) -> tuple[Any, ...]:
        from jeepney import DBusAddress, MessageType, new_method_call

        address = DBusAddress(path, bus_name=bus_name, interface=interface)
        message = new_method_call(address, method, signature, body)
        reply = connection.send_and_get_reply(message, timeout=self._left())
        if reply.header.message_type is not MessageType.method_return:
            raise _Unknown(f"{interface}.{method} of {bus_name}: {reply.body!r}")
        body_out: tuple[Any, ...] = reply.body
        return body_out

    def _property(
        self, connection: Any, bus_name: str, path: str, interface: str, name: str
    ) -> object:
        value = self._call(
            connection,
            bus_name,
            path,
            "org.freedesktop.DBus.Properties",
            "Get",
            "ss",
            (interface, name),
        )[0]
        return value[1] if isinstance(value, tuple) and len(value) == 2 else None
