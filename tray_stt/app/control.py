"""One running instance per user, and the local socket that ``tray-stt toggle|status|...`` talks to.

The lock is an ``flock`` on ``<runtime dir>/instance.lock``: the kernel drops it when the process
dies, even by ``kill -9``, so it is never stale. Only the lock holder may remove the socket file a
killed instance left behind, so two starting instances can never unlink each other's socket.

The channel is one newline-terminated JSON object each way per connection, request
``{"command": "status"}``, response ``{"ok": true, ...}`` or ``{"ok": false, "error": "sentence"}``.
POSIX: a Unix socket, mode 0600, in a 0700 directory. Windows: a TCP socket on 127.0.0.1 whose port
and random token are in ``control.json`` in the per-user runtime directory; every request carries
the token (not tested here).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import select
import socket
import stat
import struct
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from tray_stt import APP_NAME
from tray_stt.app.state import Command, Quit, Start, Stop, Talk, Toggle
from tray_stt.errors import AlreadyRunning, ControlError, NotRunning, TraySttError
from tray_stt.pushtotalk.talk import TalkAction

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl

log = logging.getLogger(__name__)

RUNTIME_DIR_ENV = "TRAY_STT_RUNTIME_DIR"


@dataclass(frozen=True)
class ControlCommand:
    """One command of the control socket: its ``tray-stt NAME`` help, and what it posts."""

    help: str
    post: Callable[[], Command] | None  # None: answered from the snapshot (status)


COMMANDS: dict[str, ControlCommand] = {
    "toggle": ControlCommand("start or stop listening in the running tray", Toggle),
    "start": ControlCommand("start listening in the running tray", Start),
    "stop": ControlCommand("stop listening in the running tray", Stop),
    "status": ControlCommand("show what the running tray is doing", None),
    "quit": ControlCommand("quit the running tray", Quit),
    "press": ControlCommand(
        "start a push-to-talk turn in the running tray", lambda: Talk(TalkAction.PRESS)
    ),
    "release": ControlCommand(
        "end the push-to-talk turn in the running tray", lambda: Talk(TalkAction.RELEASE)
    ),
    "talk": ControlCommand(
        "start or end a push-to-talk turn in the running tray (shortcuts without release)",
        lambda: Talk(TalkAction.TOGGLE),
    ),
}
"""The one table of control commands: the socket, the tray service and the CLI read it."""
LOCK_NAME = "instance.lock"
SOCKET_NAME = "control.sock"
TOKEN_NAME = "control.json"  # Windows only
_MAX_MESSAGE = 64 * 1024
_CONNECTION_TIMEOUT_S = 2.0  # how long one client may hold the accept thread
_STARTING_RETRY_S = 0.05

Handler = Callable[[str, dict[str, Any]], dict[str, Any]]


def runtime_dir() -> Path:
    """The per-user runtime folder: $TRAY_STT_RUNTIME_DIR, else platformdirs' runtime dir."""
    override = os.environ.get(RUNTIME_DIR_ENV)
    if override:
        return Path(override)
    import platformdirs

    try:
        with warnings.catch_warnings():
            # Without XDG_RUNTIME_DIR it falls back to /tmp/runtime-<uid>; fine for a socket.
            warnings.simplefilter("ignore")
            return platformdirs.user_runtime_path(APP_NAME)
    except OSError:  # its /tmp fallback exists but belongs to someone else
        return Path(tempfile.gettempdir()) / f"{APP_NAME}-{_uid()}"


def _uid() -> int:
    return os.getuid() if hasattr(os, "getuid") else 0


def _private_dir(directory: Path) -> Path:
    """Create ``directory`` as 0700 or check that an existing one is ours and private."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.lstat()
        if sys.platform != "win32":
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != _uid():
                raise ControlError(
                    f"{directory} is not a directory owned by you: remove it, or set "
                    f"{RUNTIME_DIR_ENV} to a private directory."
                )
            if info.st_mode & 0o077:
                directory.chmod(0o700)  # a pre-existing dir made with the default umask
    except OSError as error:
        raise ControlError(
            f"Cannot create the runtime directory {directory} ({error.strerror}): "
            f"set {RUNTIME_DIR_ENV} to a writable directory."
        ) from error
    return directory


class InstanceLock:
    """The single-instance lock: held by at most one process per runtime directory."""

    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory or runtime_dir()
        self._fd: int | None = None

    @property
    def directory(self) -> Path:
        """The runtime directory holding the lock file and the control socket."""
        return self._directory

    @property
    def path(self) -> Path:
        """The lock file; it records the holder's PID, for diagnostics only."""
        return self._directory / LOCK_NAME

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock without waiting; False if another process holds it."""
        if self._fd is not None:
            return True
        _private_dir(self._directory)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if not _try_lock(fd):
                os.close(fd)
                return False
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        """Give the lock up; the file stays, since unlinking it would race a new holder."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the last descriptor drops the flock

    def __enter__(self) -> InstanceLock:
        if not self.acquire():
            raise AlreadyRunning(
                "tray-stt is already running: use `tray-stt toggle`, `status` or `quit`."
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class ControlServer:
    """Serves control requests on a daemon thread, one short connection per request."""

    def __init__(
        self,
        handler: Handler,
        *,
        lock: InstanceLock | None = None,
        directory: Path | None = None,
    ) -> None:
        self._handler = handler
        self._directory = directory or (lock.directory if lock else runtime_dir())
        self._lock = lock or InstanceLock(self._directory)
        self._owns_lock = lock is None
        self._token = secrets.token_hex(16)
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._thread: threading.Thread | None = None

    @property
    def path(self) -> Path:
        """The Unix socket (POSIX) or the port-and-token file (Windows)."""
        return self._directory / (TOKEN_NAME if sys.platform == "win32" else SOCKET_NAME)

    def start(self) -> None:
        """Bind the socket and serve on a daemon thread; the instance lock must be ours."""
        if self._owns_lock and not self._lock.acquire():
            raise AlreadyRunning("tray-stt is already running: use `tray-stt quit` to stop it.")
        if not self._lock.held:
            raise ControlError("The control socket needs the instance lock: acquire it first.")
        try:
            listener = self._listen()
        except BaseException:
            if self._owns_lock:
                self._lock.release()
            raise
        # A socket pair wakes the select() in _serve: closing a listening socket from another
        # thread does not reliably interrupt accept().
        self._wake = socket.socketpair()
        self._thread = threading.Thread(
            target=self._serve, args=(listener, self._wake[0]), name="control socket", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, remove the socket file and, if the server took it, release the lock."""
        if self._thread is None or self._wake is None:
            return
        self._wake[1].send(b"x")
        self._thread.join(5)
        for end in self._wake:
            end.close()
        self._thread = self._wake = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        if self._owns_lock:
            self._lock.release()

    def _listen(self) -> socket.socket:
        _private_dir(self._directory)
        try:
            return self._bind_tcp() if sys.platform == "win32" else self._bind_unix()
        except OSError as error:
            raise ControlError(
                f"Cannot create the control socket {self.path} ({error}): "
                f"set {RUNTIME_DIR_ENV} to a short, writable directory."
            ) from error

    def _bind_unix(self) -> socket.socket:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # left by a killed instance; safe: we hold the lock
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # bind() creates the file with the process umask; 0177 makes it 0600 from the start.
        # umask is process-wide, but for this instant it only makes other new files stricter.
        old_umask = os.umask(0o177)
        try:
            listener.bind(str(self.path))
            listener.listen(8)
        except OSError:
            listener.close()
            raise
        finally:
            os.umask(old_umask)
        return listener

    def _bind_tcp(self) -> socket.socket:
        listener = socket.create_server(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            json.dump({"port": port, "token": self._token}, file)
        return listener

    def _serve(self, listener: socket.socket, wake: socket.socket) -> None:
        with listener:
            while wake not in select.select([listener, wake], [], [])[0]:
                try:
                    connection, _ = listener.accept()
                except OSError as error:
                    log.warning("control socket: accept failed: %s", error)
                    continue
                with connection:
                    self._answer(connection)

    def _answer(self, connection: socket.socket) -> None:
        connection.settimeout(_CONNECTION_TIMEOUT_S)
        try:
            response = self._respond(connection)
            connection.sendall(json.dumps(response).encode() + b"\n")
        except OSError as error:  # the client went away or stalled: its problem, not ours
            log.info("control socket: dropped a client: %s", error)

    def _respond(self, connection: socket.socket) -> dict[str, Any]:
        if not _same_user(connection):
            return _failure("The control socket only accepts requests from its own user.")
        try:
            request = json.loads(_read_line(connection))
        except ValueError:
            return _failure("The request is not one line of JSON.")
        if not isinstance(request, dict):
            return _failure("The request is not a JSON object.")
        if sys.platform == "win32" and not secrets.compare_digest(
            str(request.pop("token", "")), self._token
        ):
            return _failure("The request carries a wrong token.")
        command = request.pop("command", None)
        if command not in COMMANDS:
            return _failure(f"Unknown command {command!r}: use one of {', '.join(COMMANDS)}.")
        return self._call_handler(command, request)

    def _call_handler(self, command: str, fields: dict[str, Any]) -> dict[str, Any]:
        try:
            result = self._handler(command, fields)
        except TraySttError as error:
            return _failure(str(error))
        except Exception as error:  # a bug in the handler must not kill the accept thread
            log.exception("control command %r failed", command)
            return _failure(f"The {command} command failed: {error!r}.")
        return {"ok": True, **result}


def _failure(sentence: str) -> dict[str, Any]:
    return {"ok": False, "error": sentence}


def _same_user(connection: socket.socket) -> bool:
    # The 0600 socket already keeps other users out; SO_PEERCRED also stops root-made sockets
    # from being driven by another account, and costs nothing where Linux offers it.
    if not hasattr(socket, "SO_PEERCRED") or connection.family != socket.AF_UNIX:
        return True
    creds = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return bool(uid == _uid())


def _read_line(connection: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > _MAX_MESSAGE:
            raise ValueError("message too long")
    return data


def send_command(
    command: str, *, timeout: float = 3.0, directory: Path | None = None, **fields: Any
) -> dict[str, Any]:
    """Send one command to the running instance and return its JSON answer."""
    directory = directory or runtime_dir()
    request: dict[str, Any] = {**fields, "command": command}
    try:
        with _connect(directory, timeout, request) as connection:
            connection.sendall(json.dumps(request).encode() + b"\n")
            answer = _read_line(connection)
    except TimeoutError as error:
        raise ControlError(
            f"tray-stt did not answer {command!r} within {timeout:g} s: it may be busy; "
            "try again, or restart it with `tray-stt quit` and `tray-stt`."
        ) from error
    except PermissionError as error:
        raise _not_yours(directory) from error
    except OSError as error:
        raise ControlError(f"Lost the connection to tray-stt ({error}): try again.") from error
    return _parse_answer(answer)


def _not_yours(directory: Path) -> ControlError:
    """The sentence for a socket we may not reach: usually another user's tray."""
    owner = None
    for path in (directory, *directory.parents):  # the nearest one we may look at
        try:
            owner = path.stat().st_uid
            break
        except OSError:
            continue
    if owner is not None and owner != _uid():
        return ControlError(
            f"The running tray belongs to another user ({_user_name(owner)}): start your own "
            f"with `tray-stt`, or set {RUNTIME_DIR_ENV} to a directory of yours."
        )
    return ControlError(
        f"Cannot reach the running tray in {directory}: permission denied on its control socket."
    )


def _user_name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return f"uid {uid}"


def _parse_answer(answer: bytes) -> dict[str, Any]:
    try:
        response = json.loads(answer)
    except ValueError:
        response = None
    if not isinstance(response, dict) or "ok" not in response:
        raise ControlError("tray-stt sent an unreadable answer: is it the same version?")
    return response


def _connect(directory: Path, timeout: float, request: dict[str, Any]) -> socket.socket:
    """Connect, retrying while an instance holds the lock but has not bound its socket yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _connect_once(directory, max(deadline - time.monotonic(), 0.01), request)
        except (FileNotFoundError, ConnectionRefusedError) as error:
            if not _instance_alive(directory) or time.monotonic() >= deadline:
                raise NotRunning("the tray is not running: start it with `tray-stt`.") from error
            threading.Event().wait(_STARTING_RETRY_S)


def _connect_once(directory: Path, timeout: float, request: dict[str, Any]) -> socket.socket:
    if sys.platform == "win32":
        details = json.loads((directory / TOKEN_NAME).read_text())
        request["token"] = details["token"]
        return socket.create_connection(("127.0.0.1", details["port"]), timeout)
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(timeout)
    try:
        connection.connect(str(directory / SOCKET_NAME))
    except BaseException:
        connection.close()
        raise
    return connection


def _instance_alive(directory: Path) -> bool:
    """Whether the PID in the lock file is a live process: an instance that is still starting."""
    if sys.platform == "win32":
        return False  # the lock is mandatory there (unreadable), and os.kill would terminate
    try:
        pid = int((directory / LOCK_NAME).read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return pid != os.getpid()
