"""Private Xvfb X servers for the desktop tier: a context manager and the fixtures built on it."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

_XVFB_START_TIMEOUT_S = 10.0
# X clients that outlive the command that started them: they own the clipboard selection.
_SELECTION_OWNERS = {"xclip", "xsel"}


@contextlib.contextmanager
def xvfb_server() -> Iterator[str]:
    """A new Xvfb server while in the block; yields its display name, e.g. ":99"."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt install xvfb)")
    with tempfile.TemporaryFile() as log:
        server, display = _start_xvfb(log)
        try:
            yield display
        finally:
            kill_selection_owners(display)
            _stop(server)


@pytest.fixture(scope="session")
def xvfb_display() -> Iterator[str]:
    """A private Xvfb server for the whole session (clipboard tests); yields its display name."""
    with xvfb_server() as display:
        yield display


@pytest.fixture
def own_xvfb() -> Iterator[str]:
    """An Xvfb server for this test alone: windows, tray hosts and selections of earlier tests
    (or of other modules' session fixtures) cannot be on it. Yields its display name."""
    with xvfb_server() as display:
        yield display


@pytest.fixture
def xvfb_env(xvfb_display: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """DISPLAY set to the session's Xvfb for one test (and no Wayland); cleans up xclip after."""
    monkeypatch.setenv("DISPLAY", xvfb_display)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    try:
        yield xvfb_display
    finally:
        kill_selection_owners(xvfb_display)


def _start_xvfb(log: IO[bytes]) -> tuple[subprocess.Popen[bytes], str]:
    # -displayfd makes the server pick a free display number itself and report it once it
    # accepts connections: no race with another X server, and no sleep-and-poll.
    read_fd, write_fd = os.pipe()
    command = ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1024x768x24"]
    # -noreset: by default the server resets when its last client disconnects, dropping atoms
    # and selections and refusing the clients that connect meanwhile ("Connection reset by
    # peer"); a test's short-lived connections (xdotool, a polling check) are often the last.
    command += ["-nolisten", "tcp", "-noreset"]
    try:
        server = subprocess.Popen(
            command, pass_fds=(write_fd,), stdout=log, stderr=log, start_new_session=True
        )
    finally:
        os.close(write_fd)
    try:
        number = _read_display_number(read_fd)
    except RuntimeError:
        _stop(server)
        raise
    finally:
        os.close(read_fd)
    return server, f":{number}"


def _read_display_number(fd: int) -> int:
    text = b""
    while not text.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], _XVFB_START_TIMEOUT_S)
        chunk = os.read(fd, 64) if ready else b""
        if not chunk:
            raise RuntimeError("Xvfb did not start (no display number reported)")
        text += chunk
    return int(text)


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


def kill_selection_owners(display: str) -> None:
    """Kill this user's xclip/xsel processes that run on `display` (by PID, from /proc)."""
    for pid in _selection_owner_pids(display):
        with contextlib.suppress(ProcessLookupError):  # it exited on its own meanwhile
            os.kill(pid, signal.SIGTERM)


def _selection_owner_pids(display: str) -> list[int]:
    proc = Path("/proc")
    if not proc.is_dir():
        return []  # elsewhere, stopping Xvfb ends its clients
    wanted = f"DISPLAY={display}".encode()
    pids = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != os.getuid():
                continue
            if (entry / "comm").read_text().strip() not in _SELECTION_OWNERS:
                continue
            if wanted in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
        except OSError:
            continue  # it exited while we looked, or is not ours to read
    return pids
