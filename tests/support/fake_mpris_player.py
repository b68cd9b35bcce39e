"""A fake MPRIS media player (``org.mpris.MediaPlayer2.NAME``) on the session bus, with jeepney.

Run as a script, it owns its bus name, prints ``READY``, answers PlaybackStatus and the Player
methods (Play, Pause, PlayPause, Stop), announces each status change with PropertiesChanged as
real players do, and appends one JSON line per Player call to its log. The test plays the user
through ``org.tray_stt.Test.Press`` (logged as ``user``), so the log tells whose call it was.
``--hang`` never answers anything (a frozen player). ``FakeMprisPlayer`` starts it as a child.
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

PATH = "/org/mpris/MediaPlayer2"
PLAYER = "org.mpris.MediaPlayer2.Player"
PROPERTIES = "org.freedesktop.DBus.Properties"
TEST = "org.tray_stt.Test"
_AFTER = {"Play": "Playing", "Pause": "Paused", "Stop": "Stopped"}


class FakeMprisPlayer(ServiceProcess):
    """A running fake player (a child process) and the Player calls it received."""

    def __init__(
        self, bus_address: str, log_path: Path, name: str, status: str, *, hang: bool = False
    ) -> None:
        self.bus_name = f"org.mpris.MediaPlayer2.{name}"
        options = ["--name", self.bus_name, "--status", status, *(["--hang"] if hang else [])]
        super().__init__(__file__, options, bus_address, log_path, f"fake player {name}")

    def methods(self) -> list[str]:
        """The calls so far, oldest first: "Pause", "Play"... and "user:Playing" for the user's."""
        return [
            f"user:{c['status']}" if c["method"] == "Press" else c["method"] for c in self.calls()
        ]

    def status(self) -> str:
        """Its PlaybackStatus now, asked over the bus."""
        address = DBusAddress(PATH, bus_name=self.bus_name, interface=PROPERTIES)
        reply = self._ask(new_method_call(address, "Get", "ss", (PLAYER, "PlaybackStatus")))
        return str(reply[0][1])

    def press(self, status: str) -> None:
        """The user pressed play or pause in the player itself."""
        address = DBusAddress(PATH, bus_name=self.bus_name, interface=TEST)
        self._ask(new_method_call(address, "Press", "s", (status,)))

    def _ask(self, message: Any) -> Any:
        with open_dbus_connection(bus="SESSION") as connection:
            reply = connection.send_and_get_reply(message, timeout=5)
        assert reply.header.message_type == MessageType.method_return, reply.body
        return reply.body


def serve(name: str, status: str, log_path: Path, hang: bool) -> None:
    """Own the bus name and answer calls forever."""
    with open_dbus_connection(bus="SESSION") as connection:
        claim_name(connection, name)
        with log_path.open("a") as log:
            while True:
                message = connection.receive()
                if message.header.message_type != MessageType.method_call or hang:
                    continue
                fields = message.header.fields
                member = fields.get(HeaderFields.member)
                interface = fields.get(HeaderFields.interface)
                before = status
                if interface == PROPERTIES and member == "Get":
                    answer = new_method_return(message, "v", (("s", status),))
                elif interface == PROPERTIES and member == "GetAll":
                    everything = {"PlaybackStatus": ("s", status)}
                    answer = new_method_return(message, "a{sv}", (everything,))
                elif interface == PLAYER and member in ("Play", "Pause", "PlayPause", "Stop"):
                    if member == "PlayPause":
                        status = "Paused" if status == "Playing" else "Playing"
                    else:
                        status = _AFTER[member]
                    record = {"method": member, "sender": fields.get(HeaderFields.sender)}
                    log.write(json.dumps(record) + "\n")
                    answer = new_method_return(message)
                elif interface == TEST and member == "Press":
                    status = message.body[0]
                    log.write(json.dumps({"method": "Press", "status": status}) + "\n")
                    answer = new_method_return(message)
                else:
                    error = "org.freedesktop.DBus.Error.UnknownMethod"
                    answer = new_error(message, error, "s", (str(member),))
                log.flush()
                connection.send(answer)
                if status != before:
                    emitter = DBusAddress(PATH, interface=PROPERTIES)
                    changed = (PLAYER, {"PlaybackStatus": ("s", status)}, [])
                    connection.send(new_signal(emitter, "PropertiesChanged", "sa{sv}as", changed))


def main() -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--log", type=Path, required=True, help="append one JSON line per call")
    parser.add_argument("--name", required=True, help="the bus name to own")
    parser.add_argument("--status", default="Playing", choices=["Playing", "Paused", "Stopped"])
    parser.add_argument("--hang", action="store_true", help="never answer")
    args = parser.parse_args()
    serve(args.name, args.status, args.log, args.hang)


if __name__ == "__main__":
    main()
