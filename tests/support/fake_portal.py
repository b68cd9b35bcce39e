"""A fake ``org.freedesktop.portal.Desktop`` with the GlobalShortcuts interface, using jeepney.

Run as a script, it owns the bus name, prints ``READY``, and appends one JSON line per method call
to the log file it is given. It answers as xdg-desktop-portal does: Registry.Register, the
GlobalShortcuts ``version`` property, CreateSession and BindShortcuts (a Request object path as
the reply, then ``org.freedesktop.portal.Request.Response`` on that path, sent to the caller), and
Session.Close. ``--decline`` answers BindShortcuts with response 1 (the user cancelled);
``--no-shortcuts`` behaves like a portal whose desktop has no GlobalShortcuts backend.

The test drives the shortcut through a test-only method, ``org.traystt.Test.Emit(s member)``,
which sends ``Activated`` or ``Deactivated`` for the last bound shortcut, to its session's owner.
``FakePortal`` starts the script as a child process, reads the calls back and calls Emit.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from jeepney import (  # type: ignore[import-untyped, unused-ignore]
    DBusAddress,
    HeaderFields,
    MessageType,
    new_error,
    new_method_call,
    new_method_return,
    new_signal,
)
from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped, unused-ignore]

from tests.support.dbus_service import ServiceProcess, claim_name

BUS_NAME = "org.freedesktop.portal.Desktop"
OBJECT_PATH = "/org/freedesktop/portal/desktop"
SHORTCUTS = "org.freedesktop.portal.GlobalShortcuts"
REQUEST = "org.freedesktop.portal.Request"
SESSION = "org.freedesktop.portal.Session"
REGISTRY = "org.freedesktop.host.portal.Registry"
PROPERTIES = "org.freedesktop.DBus.Properties"
TEST_INTERFACE = "org.traystt.Test"
VERSION = 1
_UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod"


class FakePortal(ServiceProcess):
    """A running fake portal (a child process) and the calls it has received."""

    def __init__(
        self,
        bus_address: str,
        log_path: Path,
        *,
        decline: bool = False,
        no_shortcuts: bool = False,
    ) -> None:
        options = ["--decline"] * decline + ["--no-shortcuts"] * no_shortcuts
        super().__init__(__file__, options, bus_address, log_path, "fake portal")

    def emit(self, member: str) -> None:
        """Make the portal send ``Activated`` or ``Deactivated`` for the bound shortcut."""
        address = DBusAddress(OBJECT_PATH, bus_name=BUS_NAME, interface=TEST_INTERFACE)
        with open_dbus_connection(bus=self.bus_address) as connection:
            reply = connection.send_and_get_reply(
                new_method_call(address, "Emit", "s", (member,)), timeout=5
            )
        if reply.header.message_type == MessageType.error:
            raise AssertionError(f"Emit({member}) failed: {reply.body}")


def request_path(sender: str, token: str) -> str:
    """Written out here again, independently of tray_stt, as the portal documentation says."""
    return f"/org/freedesktop/portal/desktop/request/{sender[1:].replace('.', '_')}/{token}"


def session_path(sender: str, token: str) -> str:
    """The same rule for sessions."""
    return f"/org/freedesktop/portal/desktop/session/{sender[1:].replace('.', '_')}/{token}"


class Portal:
    """The state of the fake: sessions by path, and the last bound shortcut."""

    def __init__(self, decline: bool, no_shortcuts: bool) -> None:
        self.decline = decline
        self.no_shortcuts = no_shortcuts
        self.sessions: dict[str, str] = {}  # session path -> owner's unique name
        self.bound: tuple[str, str] | None = None  # (session path, shortcut id)

    def handle(self, message: Any, record: dict[str, Any]) -> list[Any]:
        """The messages to send in answer to one method call."""
        fields = message.header.fields
        interface = fields.get(HeaderFields.interface)
        member = fields.get(HeaderFields.member)
        sender = fields.get(HeaderFields.sender)
        if interface == REGISTRY and member == "Register":
            record["app_id"] = message.body[0]
            return [new_method_return(message)]
        if interface == PROPERTIES and member == "Get":
            if message.body[0] == SHORTCUTS and not self.no_shortcuts:
                return [new_method_return(message, "v", (("u", VERSION),))]
            error = "org.freedesktop.DBus.Error.InvalidArgs"
            return [new_error(message, error, "s", (f"No such interface {message.body[0]}",))]
        if interface == SHORTCUTS and self.no_shortcuts:
            return [new_error(message, _UNKNOWN_METHOD, "s", (f"No such interface {interface}",))]
        if interface == SHORTCUTS and member == "CreateSession":
            options = _unwrap(message.body[0])
            path = request_path(sender, options["handle_token"])
            session = session_path(sender, options["session_handle_token"])
            self.sessions[session] = sender
            record.update(options=options, request_path=path, session_handle=session)
            results = {"session_handle": ("s", session)}  # "s" in the portal's own spec
            return [new_method_return(message, "o", (path,)), _response(path, sender, 0, results)]
        if interface == SHORTCUTS and member == "BindShortcuts":
            session, shortcuts, parent_window, options = message.body
            options = _unwrap(options)
            path = request_path(sender, options["handle_token"])
            record.update(
                session_handle=session,
                shortcuts=[[sid, _unwrap(props)] for sid, props in shortcuts],
                parent_window=parent_window,
                options=options,
                request_path=path,
            )
            reply = new_method_return(message, "o", (path,))
            if self.decline:
                return [reply, _response(path, sender, 1, {})]
            bound = [
                (sid, {**props, "trigger_description": ("s", props["preferred_trigger"][1])})
                for sid, props in shortcuts
            ]
            self.bound = (session, shortcuts[0][0])
            return [reply, _response(path, sender, 0, {"shortcuts": ("a(sa{sv})", bound)})]
        if interface == SESSION and member == "Close":
            path = fields.get(HeaderFields.path)
            record["session_handle"] = path
            self.sessions.pop(path, None)
            return [new_method_return(message)]
        if interface == TEST_INTERFACE and member == "Emit":
            if self.bound is None:
                return [new_error(message, "org.traystt.Error", "s", ("nothing bound",))]
            session, shortcut_id = self.bound
            emitter = DBusAddress(OBJECT_PATH, interface=SHORTCUTS)
            signal = new_signal(
                emitter, message.body[0], "osta{sv}", (session, shortcut_id, 1234, {})
            )
            signal.header.fields[HeaderFields.destination] = self.sessions.get(session, sender)
            return [signal, new_method_return(message)]  # the signal first: then Emit returns
        return [new_error(message, _UNKNOWN_METHOD, "s", (f"{interface}.{member}",))]


def _unwrap(options: dict[str, tuple[str, Any]]) -> dict[str, Any]:
    return {key: value for key, (_signature, value) in options.items()}


def _response(path: str, destination: str, code: int, results: dict[str, Any]) -> Any:
    signal = new_signal(DBusAddress(path, interface=REQUEST), "Response", "ua{sv}", (code, results))
    signal.header.fields[HeaderFields.destination] = destination  # as the portal does: unicast
    return signal


def serve(log_path: Path, portal: Portal) -> None:
    """Own the bus name and answer calls forever."""
    with open_dbus_connection(bus="SESSION") as connection:
        claim_name(connection, BUS_NAME)
        with log_path.open("a") as log:
            while True:
                message = connection.receive()
                if message.header.message_type != MessageType.method_call:
                    continue
                fields = message.header.fields
                record: dict[str, Any] = {
                    "method": fields.get(HeaderFields.member),
                    "interface": fields.get(HeaderFields.interface),
                    "path": fields.get(HeaderFields.path),
                    "sender": fields.get(HeaderFields.sender),
                }
                answers = portal.handle(message, record)
                log.write(json.dumps(record, default=repr) + "\n")
                log.flush()
                for outgoing in answers:
                    connection.send(outgoing)


def main() -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--log", type=Path, required=True, help="append one JSON line per call")
    parser.add_argument("--decline", action="store_true", help="BindShortcuts: user cancelled")
    parser.add_argument("--no-shortcuts", action="store_true", help="no GlobalShortcuts backend")
    args = parser.parse_args()
    serve(args.log, Portal(args.decline, args.no_shortcuts))


if __name__ == "__main__":
    main()
