"""Single-instance lock and control socket, between two real processes."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tray_stt.app.control import (
    COMMANDS,
    LOCK_NAME,
    RUNTIME_DIR_ENV,
    SOCKET_NAME,
    ControlServer,
    InstanceLock,
    runtime_dir,
    send_command,
)
from tray_stt.errors import AlreadyRunning, ControlError, ExitCode, NotRunning, TraySttError

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX lock and Unix socket")

# The instance: takes the lock, serves a handler that records every command, and waits to be
# killed (or, after "quit", stops cleanly). TRAY_STT_TEST_DELAY delays binding the socket.
INSTANCE = """
import os, sys, threading, time
from tray_stt.app.control import ControlServer, InstanceLock
from tray_stt.errors import TraySttError

commands = []
done = threading.Event()

def handle(command, fields):
    commands.append(command)
    if fields.get("fail"):
        raise TraySttError("The microphone is busy: close the other recorder.")
    if fields.get("crash"):
        raise RuntimeError("boom")
    if command == "quit":
        threading.Timer(0.1, done.set).start()
    if command == "status":
        return {"state": "listening", "commands": list(commands), "pid": os.getpid()}
    return {"received": command, "fields": fields}

lock = InstanceLock()
if not lock.acquire():
    print("LOCKED", flush=True)
    sys.exit(3)
time.sleep(float(os.environ.get("TRAY_STT_TEST_DELAY", "0")))
server = ControlServer(handle, lock=lock)
server.start()
print("READY", flush=True)
done.wait()
server.stop()
lock.release()
"""


@pytest.fixture
def run_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh runtime dir, short enough for sun_path, set as TRAY_STT_RUNTIME_DIR."""
    base = Path(tempfile.mkdtemp(prefix="tstt-"))
    monkeypatch.setenv(RUNTIME_DIR_ENV, str(base / "run"))
    yield base / "run"
    shutil.rmtree(base)


def _spawn(run_dir: Path, delay: float = 0.0) -> subprocess.Popen[str]:
    env = {**os.environ, RUNTIME_DIR_ENV: str(run_dir), "TRAY_STT_TEST_DELAY": str(delay)}
    return subprocess.Popen(
        [sys.executable, "-c", INSTANCE], env=env, stdout=subprocess.PIPE, text=True
    )


def _first_line(child: subprocess.Popen[str], timeout: float = 10.0) -> str:
    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], timeout)
    assert ready, "the instance printed nothing"
    return child.stdout.readline().strip()


def _kill(child: subprocess.Popen[str]) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGKILL)
    child.wait(10)
    if child.stdout is not None:
        child.stdout.close()


@pytest.fixture
def instance(run_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """A second process holding the lock and serving the control socket."""
    child = _spawn(run_dir)
    try:
        assert _first_line(child) == "READY"
        yield child
    finally:
        _kill(child)


def test_instance_lock_refused_while_another_process_holds_it(
    instance: subprocess.Popen[str], run_dir: Path
) -> None:
    assert InstanceLock().acquire() is False
    assert (run_dir / LOCK_NAME).read_text() == f"{instance.pid}\n"
    second = _spawn(run_dir)
    try:
        assert _first_line(second) == "LOCKED"
        assert second.wait(10) == 3
    finally:
        _kill(second)


def test_control_server_socket_is_0600_in_a_0700_dir(
    instance: subprocess.Popen[str], run_dir: Path
) -> None:
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    sock = run_dir / SOCKET_NAME
    assert stat.S_ISSOCK(sock.stat().st_mode)
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600


def test_send_command_every_command_round_trips(instance: subprocess.Popen[str]) -> None:
    sent = [c for c in COMMANDS if c not in ("status", "quit")]
    for command in sent:
        assert send_command(command, extra=1) == {
            "ok": True,
            "received": command,
            "fields": {"extra": 1},
        }
    status = send_command("status")
    assert status == {
        "ok": True,
        "state": "listening",
        "commands": [*sent, "status"],
        "pid": instance.pid,
    }


def test_send_command_handler_errors_become_sentences(instance: subprocess.Popen[str]) -> None:
    refused = send_command("start", fail=True)
    assert refused == {"ok": False, "error": "The microphone is busy: close the other recorder."}
    crashed = send_command("start", crash=True)
    assert crashed["ok"] is False
    assert crashed["error"].startswith("The start command failed")
    assert send_command("status")["ok"] is True  # the accept thread survived


def test_control_server_rejects_unknown_commands_and_bad_json(
    instance: subprocess.Popen[str], run_dir: Path
) -> None:
    unknown = _raw_request(run_dir, b'{"command": "dance"}\n')
    assert unknown == {
        "ok": False,
        "error": "Unknown command 'dance': use one of " + ", ".join(COMMANDS) + ".",
    }
    assert _raw_request(run_dir, b"not json\n")["error"] == "The request is not one line of JSON."
    assert _raw_request(run_dir, b"[1]\n")["error"] == "The request is not a JSON object."


def _raw_request(run_dir: Path, line: bytes) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(5)
        client.connect(str(run_dir / SOCKET_NAME))
        client.sendall(line)
        answer: dict[str, Any] = json.loads(client.makefile("rb").readline())
        return answer


def test_control_kill_9_leaves_a_stale_socket_that_the_next_instance_replaces(
    instance: subprocess.Popen[str], run_dir: Path
) -> None:
    _kill(instance)  # SIGKILL: no clean-up ran
    assert (run_dir / SOCKET_NAME).exists()
    with pytest.raises(NotRunning) as raised:
        send_command("toggle")
    assert str(raised.value) == "the tray is not running: start it with `tray-stt`."
    assert raised.value.exit_code is ExitCode.FAILURE
    assert int(raised.value.exit_code) == 1

    lock = InstanceLock()
    assert lock.acquire() is True  # the kernel dropped the dead process's flock
    server = ControlServer(lambda command, fields: {"state": "idle"}, lock=lock)
    server.start()
    try:
        assert send_command("status") == {"ok": True, "state": "idle"}
        assert stat.S_IMODE((run_dir / SOCKET_NAME).stat().st_mode) == 0o600
    finally:
        server.stop()
        lock.release()
    assert not (run_dir / SOCKET_NAME).exists()


def test_control_quit_stops_cleanly_removing_the_socket(
    instance: subprocess.Popen[str], run_dir: Path
) -> None:
    assert send_command("quit") == {"ok": True, "received": "quit", "fields": {}}
    assert instance.wait(10) == 0
    assert not (run_dir / SOCKET_NAME).exists()
    assert InstanceLock().acquire() is True


def test_send_command_waits_for_an_instance_that_is_still_starting(run_dir: Path) -> None:
    child = _spawn(run_dir, delay=0.5)
    try:
        _wait_for(lambda: (run_dir / LOCK_NAME).is_file() and (run_dir / LOCK_NAME).read_text())
        assert send_command("status", timeout=5)["pid"] == child.pid
    finally:
        _kill(child)


def _wait_for(condition: Any, timeout: float = 10.0) -> None:
    waiter = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        waiter.wait(0.02)
    raise AssertionError("condition never held")


def test_send_command_without_any_instance_raises_not_running(run_dir: Path) -> None:
    with pytest.raises(NotRunning, match="start it with `tray-stt`"):
        send_command("status")
    assert issubclass(NotRunning, TraySttError)


def test_send_command_times_out_with_a_sentence(run_dir: Path) -> None:
    release = threading.Event()

    def stuck(command: str, fields: dict[str, Any]) -> dict[str, Any]:
        release.wait(10)
        return {}

    server = ControlServer(stuck)
    server.start()
    try:
        with pytest.raises(ControlError, match=r"did not answer 'status' within 0.3 s"):
            send_command("status", timeout=0.3)
    finally:
        release.set()
        server.stop()


def test_instance_lock_context_manager_refuses_a_second_holder(run_dir: Path) -> None:
    with InstanceLock() as first:
        assert first.held
        # flock belongs to the open file, so even this process cannot take it twice.
        with pytest.raises(AlreadyRunning, match="already running"), InstanceLock():
            pass
    assert not first.held
    assert InstanceLock().acquire() is True


def test_control_server_needs_the_lock_it_was_given(run_dir: Path) -> None:
    server = ControlServer(lambda command, fields: {}, lock=InstanceLock())
    with pytest.raises(ControlError, match="needs the instance lock"):
        server.start()


def test_control_server_without_a_lock_takes_one_and_releases_it(run_dir: Path) -> None:
    server = ControlServer(lambda command, fields: {})
    server.start()
    try:
        assert InstanceLock().acquire() is False
        with pytest.raises(AlreadyRunning):
            ControlServer(lambda command, fields: {}).start()
    finally:
        server.stop()
    assert InstanceLock().acquire() is True


def test_control_server_restores_umask_and_tightens_an_open_dir(run_dir: Path) -> None:
    run_dir.mkdir(mode=0o755)
    run_dir.chmod(0o755)
    before = os.umask(0o022)
    server = ControlServer(lambda command, fields: {})
    try:
        server.start()
        assert os.umask(0o022) == 0o022
        assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    finally:
        server.stop()
        os.umask(before)


def test_runtime_dir_prefers_the_environment_then_xdg(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(RUNTIME_DIR_ENV, str(tmp_path / "override"))
    assert runtime_dir() == tmp_path / "override"
    monkeypatch.delenv(RUNTIME_DIR_ENV)
    if sys.platform.startswith("linux"):
        xdg = tmp_path / "xdg"
        xdg.mkdir(mode=0o700)
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(xdg))
        assert runtime_dir() == xdg / "tray-stt"


def test_control_server_socket_path_too_long_is_a_sentence_and_frees_the_lock(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    deep = tmp_path / ("d" * 100)
    monkeypatch.setenv(RUNTIME_DIR_ENV, str(deep))
    with pytest.raises(ControlError, match="set TRAY_STT_RUNTIME_DIR to a short"):
        ControlServer(lambda command, fields: {}).start()
    assert InstanceLock().acquire() is True


OTHER_USER_STATUS = """
import os, sys
from pathlib import Path
from tray_stt.app.control import send_command
from tray_stt.errors import ControlError

os.setgid(65534)
os.setuid(65534)  # from here on, another local user (nobody)
try:
    send_command("status", directory=Path(sys.argv[1]))
except ControlError as error:
    print(error)
"""


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to setuid")
def test_control_status_of_another_users_tray_says_so(run_dir: Path) -> None:
    lock = InstanceLock()
    assert lock.acquire() is True
    server = ControlServer(lambda command, fields: {"state": "idle"}, lock=lock)
    server.start()
    try:
        result = subprocess.run(
            [sys.executable, "-c", OTHER_USER_STATUS, str(run_dir)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        server.stop()
        lock.release()
    assert result.stdout.strip() == (
        "The running tray belongs to another user (root): start your own with `tray-stt`, "
        f"or set {RUNTIME_DIR_ENV} to a directory of yours."
    ), result.stderr
