"""A fake ``org.freedesktop.Notifications`` daemon on the session bus, written with jeepney.

Run as a script, it owns the bus name, prints ``READY``, and appends one JSON line per method call
to the log file it is given; ``--error NAME`` makes Notify answer with that D-Bus error instead.
``FakeNotificationDaemon`` starts it as a child process and reads the calls back.
"""

from __future__ import annotations

import argparse
import json
import threading
from pathlib import Path
from typing import Any

from jeepney import (  # type: ignore[import-untyped, unused-ignore]
    DBusAddress,
    HeaderFields,
    MessageType,
    new_error,
    new_method_return,
    new_signal,
)
from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped, unused-ignore]

from tests.support.dbus_service import ServiceProcess, claim_name

BUS_NAME = "org.freedesktop.Notifications"
OBJECT_PATH = "/org/freedesktop/Notifications"
NOTIFY_ARGS = (
    "app_name",
    "replaces_id",
    "app_icon",
    "summary",
    "body",
    "actions",
    "hints",
    "expire_timeout",
)
SERVER_INFO = ("fake-notifyd", "tray-stt tests", "1.0", "1.2")
CAPABILITIES = ["body", "icon-static"]


class FakeNotificationDaemon(ServiceProcess):
    """A running fake daemon (a child process) and the calls it has received."""

    def __init__(self, bus_address: str, log_path: Path, *, error: str | None = None) -> None:
        options = ["--error", error] if error else []
        super().__init__(__file__, options, bus_address, log_path, "fake notification daemon")

    def notifications(self) -> list[dict[str, Any]]:
        """The Notify calls received so far, with their arguments by name."""
        return self.calls("Notify")

    def wait_for_notifications(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until ``count`` notifications have arrived; returns them all."""
        waiter = threading.Event()
        for _ in range(int(timeout / 0.02)):
            if len(found := self.notifications()) >= count:
                return found
            waiter.wait(0.02)
        raise AssertionError(f"expected {count} notifications, got {self.notifications()}")


def serve(log_path: Path, error: str | None) -> None:
    """Own the bus name and answer calls forever."""
    with open_dbus_connection(bus="SESSION") as connection:
        claim_name(connection, BUS_NAME)
        next_id = 1
        with log_path.open("a") as log:
            while True:
                message = connection.receive()
                if message.header.message_type != MessageType.method_call:
                    continue
                answer, record, next_id = _handle(message, next_id, error)
                log.write(json.dumps(record, default=repr) + "\n")
                log.flush()
                for outgoing in answer:
                    connection.send(outgoing)


def _handle(message: Any, next_id: int, error: str | None) -> tuple[list[Any], dict[str, Any], int]:
    fields = message.header.fields
    member = fields.get(HeaderFields.member)
    record: dict[str, Any] = {"method": member, "sender": fields.get(HeaderFields.sender)}
    if member == "Notify":
        record.update(zip(NOTIFY_ARGS, message.body, strict=True))
        record["hints"] = {key: value for key, (_sig, value) in record["hints"].items()}
        if error:
            return [new_error(message, error, "s", ("refused by the test",))], record, next_id
        return [new_method_return(message, "u", (next_id,))], record, next_id + 1
    if member == "GetCapabilities":
        return [new_method_return(message, "as", (CAPABILITIES,))], record, next_id
    if member == "GetServerInformation":
        return [new_method_return(message, "ssss", SERVER_INFO)], record, next_id
    if member == "CloseNotification":
        record["id"] = message.body[0]
        # Reason 3: closed by a call to CloseNotification.
        emitter = DBusAddress(OBJECT_PATH, interface=BUS_NAME)
        closed = new_signal(emitter, "NotificationClosed", "uu", (message.body[0], 3))
        return [new_method_return(message), closed], record, next_id
    unknown = new_error(message, "org.freedesktop.DBus.Error.UnknownMethod", "s", (str(member),))
    return [unknown], record, next_id


def main() -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--log", type=Path, required=True, help="append one JSON line per call")
    parser.add_argument("--error", help="answer Notify with this D-Bus error name")
    args = parser.parse_args()
    serve(args.log, args.error)


if __name__ == "__main__":
    main()
