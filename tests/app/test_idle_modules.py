"""What the running tray service has loaded: at rest nothing that only listening or dictation
needs (numpy, soxr, PortAudio, websocket, ssl); listening to a 24 kHz mono microphone, still no
numpy or soxr. These are what keep the idle tray light (benchmarks/bench_tray.py measures it).

The service runs as a real process whose ``sys.modules`` is written to a file as it exits, after
``quit``: a superset of what it held while idle.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support import REPO
from tests.support.audio_samples import silence, tone
from tests.support.realtime_server import RealtimeServer
from tests.support.tray_host import docked_icon, poll
from tests.support.tray_process import TrayProcess, private_env, write_file_microphone

RUN_AND_DUMP = (
    "import atexit, json, runpy, sys\n"
    "out = sys.argv.pop(1)\n"
    "atexit.register(lambda: open(out, 'w').write(json.dumps(sorted(sys.modules))))\n"
    "runpy.run_module('tray_stt', run_name='__main__', alter_sys=True)\n"
)
LISTENING_ONLY = {"numpy", "soxr", "sounddevice", "_sounddevice", "websocket", "ssl", "_ssl"}
RESAMPLING_ONLY = {"numpy", "soxr"}  # 24 kHz mono input needs neither
GTK_PYTHON = REPO / ".venv-gtk" / "bin" / "python"


def run_service(env: dict[str, str], dump: Path, python: str = sys.executable) -> TrayProcess:
    return TrayProcess(env, argv=[python, "-c", RUN_AND_DUMP, str(dump)])


def quit_and_read(tray: TrayProcess, dump: Path) -> set[str]:
    """Quit the service; the top-level names of every module it had loaded."""
    assert tray.command("quit")["ok"] is True
    assert tray.wait() == 0, tray.stderr
    return {name.split(".")[0] for name in json.loads(dump.read_text())}


def test_idle_tray_loads_nothing_of_listening(tmp_path: Path) -> None:
    dump = tmp_path / "modules.json"
    tray = run_service(private_env(tmp_path), dump)
    try:
        assert tray.wait_serving()["state"] == "idle"
        loaded = quit_and_read(tray, dump)
    finally:
        tray.stop()
    assert "tray_stt" in loaded
    assert not loaded & LISTENING_ONLY, sorted(loaded & LISTENING_ONLY)


def test_listening_at_24_khz_mono_loads_no_numpy(tmp_path: Path) -> None:
    rate = 24000
    audio = np.concatenate([silence(0.5, rate), tone(500, 0.8, rate), silence(5.0, rate)])
    env = private_env(tmp_path)
    device = write_file_microphone(Path(env["HOME"]), audio)
    dump = tmp_path / "modules.json"
    with RealtimeServer(transcripts=["One turn."]) as server:
        env.update(TRAY_STT_URL=server.url, TRAY_STT_DEVICE=device)
        tray = run_service(env, dump)
        try:
            tray.wait_serving()
            assert tray.command("start")["ok"] is True
            tray.wait_status(lambda s: s["today"] == 1)
            loaded = quit_and_read(tray, dump)
        finally:
            tray.stop()
    assert {"sounddevice", "websocket"} <= loaded  # it did listen
    assert not loaded & RESAMPLING_ONLY, sorted(loaded & RESAMPLING_ONLY)


@pytest.mark.desktop
@pytest.mark.parametrize("backend", ["xorg", "appindicator"])
def test_idle_tray_with_icon_and_hotkey_loads_nothing_of_listening(
    backend: str, tray_host: str, private_session_bus: str, tmp_path: Path
) -> None:
    """The tray as users run it: an icon (pystray, and GTK for the menu) and the push-to-talk
    hotkey listening (pynput), which are loaded; nothing of listening is."""
    python = sys.executable
    if backend == "appindicator":
        if not GTK_PYTHON.exists():
            pytest.skip(".venv-gtk is missing (bash .ci/setup test makes it)")
        python = str(GTK_PYTHON)
    env = private_env(
        tmp_path,
        DISPLAY=tray_host,
        DBUS_SESSION_BUS_ADDRESS=private_session_bus,
        NO_AT_BRIDGE="1",
        PYSTRAY_BACKEND=backend,
    )
    dump = tmp_path / "modules.json"
    tray = run_service(env, dump, python)
    try:
        tray.wait_serving()
        poll(lambda: docked_icon(tray_host, "^(tray-stt|__main__.py|-c)$"), "never docked")
        loaded = quit_and_read(tray, dump)
    finally:
        tray.stop()
    assert {"pystray", "pynput"} <= loaded, sorted(loaded)
    assert not loaded & LISTENING_ONLY, sorted(loaded & LISTENING_ONLY)
