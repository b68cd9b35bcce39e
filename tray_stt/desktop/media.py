"""Media players paused while a dictation turn records, and exactly those resumed after.

Through MPRIS (``org.mpris.MediaPlayer2.*`` on the session bus, with jeepney): when a turn starts
recording, every player whose PlaybackStatus is "Playing" gets Pause; when the recording ends,
each of those gets Play only if it is still "Paused" and nobody played it meanwhile (a
PropertiesChanged to "Playing" during the turn means the user did: we do not fight them).
Players that were not playing are never touched.

Everything runs on one worker thread, so the hotkey and the audio never wait for a player; each
D-Bus call waits at most ``timeout``. Without a session bus (or jeepney) nothing happens and one
log line says why.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from tray_stt.pushtotalk.talk import DictationState

log = logging.getLogger(__name__)

PLAYER_PREFIX = "org.mpris.MediaPlayer2."
PLAYER_PATH = "/org/mpris/MediaPlayer2"
PLAYER_INTERFACE = "org.mpris.MediaPlayer2.Player"
CALL_TIMEOUT_S = 0.5  # a player that takes longer is left alone
_CHANGES_KEPT = 1000


class MediaPause:
    """Pauses the playing MPRIS players for a turn; ``on_state`` follows the dictation."""

    def __init__(self, *, timeout: float = CALL_TIMEOUT_S) -> None:
        self._timeout = timeout
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._recording = False
        self._told = False  # the "no session bus" line is logged once
        # Owned by the worker thread: the turn's connection, what it paused, what changed since.
        self._connection: Any = None
        self._paused: dict[str, str] = {}  # well-known name -> unique name (signals carry it)
        self._changes: deque[Any] = deque(maxlen=_CHANGES_KEPT)
        self._filter: Any = None

    def on_state(self, state: DictationState) -> None:
        """Pause when a turn starts recording, resume when its recording ends (sent or not)."""
        recording = state is DictationState.RECORDING
        with self._lock:
            changed, self._recording = recording != self._recording, recording
        if changed:
            self._submit(self._pause_playing if recording else self._resume_ours)

    def settle(self, timeout: float = 10.0) -> bool:
        """Wait until every pause and resume asked for so far is done (tests, shutdown)."""
        done = threading.Event()
        self._submit(done.set)
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Resume what is still paused, then stop the worker."""
        self.on_state(DictationState.IDLE)
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(None)
            thread.join(timeout)

    def _submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="tray-stt-media", daemon=True
                )
                self._thread.start()
        self._jobs.put(job)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception as exc:  # a player or the bus misbehaved: the turn goes on
                log.info("Pausing media while dictating failed: %s", exc)
                self._disconnect()

    # -- on the worker thread ------------------------------------------------------------------

    def _pause_playing(self) -> None:
        connection = self._connect()
        if connection is None:
            return
        for name in self._players(connection):
            try:
                if self._status(connection, name) != "Playing":
                    continue  # paused or stopped by the user: never ours to resume
                self._call(connection, name, "Pause")
                self._paused[name] = self._owner(connection, name)
            except Exception as exc:  # one player failing leaves the others
                log.info("Could not pause %s: %s", name, exc)
        self._changes.clear()  # from now on, a change to "Playing" is the user's

    def _resume_ours(self) -> None:
        connection, paused = self._connection, self._paused
        if connection is None:
            return
        try:
            for name, owner in paused.items():
                try:
                    status = self._status(connection, name)  # reads the signals before it too
                    if status == "Paused" and not self._played_meanwhile(owner):
                        self._call(connection, name, "Play")
                except Exception as exc:
                    log.info("Could not resume %s: %s", name, exc)
        finally:
            self._disconnect()

    def _played_meanwhile(self, owner: str) -> bool:
        """Whether the player announced "Playing" since we paused it: the user resumed it."""
        for message in self._changes:
            if message.header.fields.get(_sender_field()) != owner:
                continue
            interface, changed, _invalidated = message.body
            status = changed.get("PlaybackStatus")
            if interface == PLAYER_INTERFACE and status is not None and status[1] == "Playing":
                return True
        return False

    def _connect(self) -> Any:
        """The turn's connection, watching players' property changes; None without a bus."""
        self._disconnect()
        if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            self._tell("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)")
            return None
        try:
            jeepney = _jeepney()
            connection = jeepney.io.blocking.open_dbus_connection(
                bus="SESSION", auth_timeout=self._timeout
            )
        except Exception as exc:
            self._tell(str(exc) or type(exc).__name__)
            return None
        rule = jeepney.MatchRule(
            type="signal",
            interface="org.freedesktop.DBus.Properties",
            member="PropertiesChanged",
            path=PLAYER_PATH,
        )
        self._connection = connection
        self._changes = deque(maxlen=_CHANGES_KEPT)
        self._filter = connection.filter(rule, queue=self._changes)
        self._reply(connection, jeepney.message_bus.AddMatch(rule))
        return connection

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        self._paused = {}
        if connection is not None:
            self._filter.close()
            connection.close()

    def _tell(self, reason: str) -> None:
        if not self._told:
            self._told = True
            log.info("Media is not paused while dictating: %s.", reason)

    def _players(self, connection: Any) -> list[str]:
        jeepney = _jeepney()
        (names,) = self._reply(connection, jeepney.message_bus.ListNames())
        return sorted(str(n) for n in names if str(n).startswith(PLAYER_PREFIX))

    def _owner(self, connection: Any, name: str) -> str:
        jeepney = _jeepney()
        (owner,) = self._reply(connection, jeepney.message_bus.GetNameOwner(name))
        return str(owner)

    def _status(self, connection: Any, name: str) -> str:
        jeepney = _jeepney()
        address = jeepney.DBusAddress(PLAYER_PATH, bus_name=name, interface=PLAYER_INTERFACE)
        ((_signature, status),) = self._reply(
            connection, jeepney.Properties(address).get("PlaybackStatus")
        )
        return str(status)

    def _call(self, connection: Any, name: str, method: str) -> None:
        jeepney = _jeepney()
        address = jeepney.DBusAddress(PLAYER_PATH, bus_name=name, interface=PLAYER_INTERFACE)
        self._reply(connection, jeepney.new_method_call(address, method))

    def _reply(self, connection: Any, message: Any) -> tuple[Any, ...]:
        """The reply's body; raises on a D-Bus error or after ``timeout``."""
        jeepney = _jeepney()
        reply = connection.send_and_get_reply(message, timeout=self._timeout)
        body: tuple[Any, ...] = jeepney.wrappers.unwrap_msg(reply)
        return body


def _sender_field() -> Any:
    return _jeepney().HeaderFields.sender


def _jeepney() -> Any:
    """jeepney, imported when first needed (ImportError where it is missing)."""
    import jeepney  # type: ignore[import-untyped, unused-ignore]
    import jeepney.io.blocking  # type: ignore[import-untyped, unused-ignore]

    return jeepney
