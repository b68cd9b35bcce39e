"""The hotkey helper process (macOS's way to run pynput), tested for real under Xvfb: xdotool
presses keys, the child's pynput listener sees them, and the parent gets the actions."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dictation_desktop import require, wait_until
from tray_stt.desktop.hotkey_process import ENV_VAR, HotkeyProcess, use_hotkey_process
from tray_stt.errors import HotkeyUnavailable
from tray_stt.pushtotalk.hotkey import HotkeyMode, parse_chord
from tray_stt.pushtotalk.talk import TalkAction

_ACTION_TIMEOUT_S = 15.0  # how long to wait for an action that must come; not a measurement


class Recorder:
    """The parent's on_action: the actions, in order, as the reader thread delivers them."""

    def __init__(self) -> None:
        self.actions: queue.Queue[TalkAction] = queue.Queue()

    def __call__(self, action: TalkAction) -> None:
        self.actions.put(action)

    def take(self, count: int) -> list[TalkAction]:
        return [self.actions.get(timeout=_ACTION_TIMEOUT_S) for _ in range(count)]


@pytest.fixture
def display(own_xvfb: str, monkeypatch: pytest.MonkeyPatch) -> str:
    require("xdotool")
    monkeypatch.setenv("DISPLAY", own_xvfb)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return own_xvfb


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def hold_f9(display: str, recorder: Recorder) -> Iterator[HotkeyProcess]:
    hotkey = HotkeyProcess(parse_chord("f9"), HotkeyMode.HOLD, recorder)
    hotkey.start()
    try:
        yield hotkey
    finally:
        hotkey.stop()


def xdotool(*args: str) -> None:
    subprocess.run(["xdotool", *args], check=True, timeout=10)


def gone(pid: int) -> bool:
    """Whether the process ended (a zombie nobody reaped counts: it no longer runs)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


@pytest.mark.desktop
def test_hold_gives_one_start_despite_auto_repeat_and_a_stop(
    hold_f9: HotkeyProcess, recorder: Recorder
) -> None:
    for _ in range(5):  # a held key: X auto-repeat sends a press per repeat, one release
        xdotool("keydown", "F9")
    xdotool("keyup", "F9")
    assert recorder.take(2) == [TalkAction.PRESS, TalkAction.RELEASE]
    xdotool("keydown", "F9")
    xdotool("keyup", "F9")
    # Had the repeats started or stopped a turn, these would not be the next two actions.
    assert recorder.take(2) == [TalkAction.PRESS, TalkAction.RELEASE]


@pytest.mark.desktop
def test_escape_while_held_cancels(hold_f9: HotkeyProcess, recorder: Recorder) -> None:
    xdotool("keydown", "F9")
    xdotool("key", "Escape")
    xdotool("keyup", "F9")
    xdotool("key", "F9")
    # No STOP for the cancelled turn's key-up: the next action is the next press.
    assert recorder.take(4) == [
        TalkAction.PRESS,
        TalkAction.CANCEL,
        TalkAction.PRESS,
        TalkAction.RELEASE,
    ]


@pytest.mark.desktop
def test_toggle_chord_with_modifiers(display: str, recorder: Recorder) -> None:
    hotkey = HotkeyProcess(parse_chord("<ctrl>+<alt>+space"), HotkeyMode.TOGGLE, recorder)
    hotkey.start()
    try:
        xdotool("key", "ctrl+alt+space")
        xdotool("key", "space")  # not the chord
        xdotool("key", "ctrl+alt+space")
        assert recorder.take(2) == [TalkAction.PRESS, TalkAction.RELEASE]
    finally:
        hotkey.stop()


@pytest.mark.desktop
def test_the_child_exits_when_the_parent_stops_it(display: str, recorder: Recorder) -> None:
    hotkey = HotkeyProcess(parse_chord("f9"), HotkeyMode.HOLD, recorder)
    hotkey.start()
    child = hotkey.process
    assert child is not None and child.poll() is None
    hotkey.stop()
    assert child.returncode == 0  # it ended on its own when its stdin closed, not killed
    assert hotkey.process is None
    hotkey.stop()  # twice is harmless


_PARENT = textwrap.dedent(
    """
    import sys
    from tray_stt.pushtotalk.hotkey import HotkeyMode, parse_chord
    from tray_stt.desktop.hotkey_process import HotkeyProcess

    hotkey = HotkeyProcess(
        parse_chord("f9"), HotkeyMode.HOLD, lambda a: print(a.value, flush=True)
    )
    hotkey.start()
    print(hotkey.process.pid, flush=True)
    sys.stdin.read()  # until the test kills us
    """
)


@pytest.mark.desktop
def test_the_child_exits_when_the_parent_is_killed(display: str, tmp_path: Path) -> None:
    errors = tmp_path / "parent.err"
    with errors.open("w") as stderr:  # a file, not a pipe the orphaned child could hold open
        parent = subprocess.Popen(
            [sys.executable, "-c", _PARENT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    assert parent.stdout is not None and parent.stdin is not None
    try:
        child_pid = int(parent.stdout.readline() or 0)
        assert child_pid, errors.read_text()
        xdotool("key", "F9")  # the parent hears the child before it dies
        assert [parent.stdout.readline().strip() for _ in range(2)] == ["press", "release"]
        assert not gone(child_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        assert wait_until(lambda: gone(child_pid)), f"the hotkey helper {child_pid} outlived"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        parent.stdin.close()
        parent.stdout.close()


def test_no_display_is_hotkey_unavailable_with_a_sentence(
    monkeypatch: pytest.MonkeyPatch, recorder: Recorder
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    hotkey = HotkeyProcess(parse_chord("f9"), HotkeyMode.HOLD, recorder)
    with pytest.raises(HotkeyUnavailable) as caught:
        hotkey.start()
    message = str(caught.value)
    assert "not available" in message and "Traceback" not in message
    assert hotkey.process is None  # nothing left running


def test_the_child_reports_failures_as_one_json_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    for chord in ("f9", "ctrl+a+b"):  # no display; then a chord nobody can press
        done = subprocess.run(
            [sys.executable, "-m", "tray_stt.desktop.hotkey_process", "--hotkey", chord],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode != 0
        lines = done.stdout.splitlines()
        assert len(lines) == 1, done.stdout
        assert json.loads(lines[0])["error"].endswith(".")
        assert "Traceback" not in done.stderr, done.stderr


def test_helper_process_on_macos_and_when_asked() -> None:
    assert use_hotkey_process("darwin", {})
    assert not use_hotkey_process("linux", {})
    assert not use_hotkey_process("win32", {ENV_VAR: "0"})
    assert use_hotkey_process("linux", {ENV_VAR: "1"})
