"""The tray service end to end: real ``python -m tray_stt`` processes, headless (no display).

Each test gets a private HOME, XDG folders and runtime directory (tests/support/tray_process.py).
Without DISPLAY or WAYLAND_DISPLAY there is no tray host, so the service runs headless: the control
socket and notifications are all it offers, which is exactly what these tests drive.
"""

from __future__ import annotations

import re
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from tests.support.audio_samples import pitch_transcriber, silence, tone, write_wav
from tests.support.dictation_desktop import PulseMicrophone
from tests.support.fake_notification_daemon import FakeNotificationDaemon
from tests.support.realtime_server import RealtimeServer
from tests.support.tray_process import TrayProcess, cli, private_env, write_file_microphone

NO_KEY = "No API key is set"
TRANSCRIPTS = ["First words from the microphone.", "Second one.", "And the third."]
LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d  (.+)$")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return private_env(tmp_path)


@pytest.fixture
def service(env: dict[str, str]) -> Iterator[TrayProcess]:
    tray = TrayProcess(env)
    try:
        tray.wait_serving()
        yield tray
    finally:
        tray.stop()


def status_lines(result: object) -> dict[str, str]:
    stdout: str = result.stdout  # type: ignore[attr-defined]
    return {
        k.rstrip(":"): v.strip() for k, v in (line.split(None, 1) for line in stdout.splitlines())
    }


BURSTS = dict(zip((440.0, 660.0, 880.0), TRANSCRIPTS, strict=True))  # pitch -> its transcript
# The unpaced file microphone fills the minute memory keeps in a moment: when connecting takes
# longer, the first burst is spooled and retried on a connection of its own beside the live one.
by_pitch = pitch_transcriber(BURSTS)


def three_bursts() -> np.ndarray:
    """Three tones with silence between them: three turns for the test server's VAD."""
    rate = 24000
    parts = [silence(0.5, rate)]
    for freq in BURSTS:
        parts += [tone(freq, 0.8, rate), silence(1.0, rate)]
    return np.concatenate([*parts, silence(5.0, rate)])


def test_app_second_start_refused_with_message_quiet_start_silent(
    service: TrayProcess, env: dict[str, str]
) -> None:
    second = cli(env)
    assert second.returncode == 0
    assert second.stdout == ""
    assert second.stderr.strip() == (
        "tray-stt is already running: use `tray-stt toggle`, `status` or `quit`."
    )
    quiet = cli(env, "--quiet-start")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    assert service.process.poll() is None  # the first one is untouched
    assert service.command("status")["ok"] is True


def test_app_status_prints_state_endpoint_model_log_and_count(
    service: TrayProcess, env: dict[str, str], tmp_path: Path
) -> None:
    result = cli(env, "status")
    assert result.returncode == 0, result.stderr
    fields = status_lines(result)
    log = tmp_path / "home/.local/share/tray-stt/logs" / f"{date.today():%Y-%m-%d}.txt"
    assert fields == {
        "state": "idle",
        "dictation": "idle",
        "detail": "not listening",
        "endpoint": "wss://api.openai.com/v1/realtime?intent=transcription",
        "model": "gpt-transcribe",
        "log": str(log),
        "today": "0",
        "usage": "$0.0000, 0:00 min sent, 0 transcripts",  # today's, from the usage ledger
    }


def test_app_control_socket_is_private(service: TrayProcess) -> None:
    mode = (service.runtime_dir / "control.sock").stat().st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    assert stat.S_IMODE(service.runtime_dir.stat().st_mode) == 0o700


def test_app_listens_to_the_microphone_into_the_daily_log(tmp_path: Path) -> None:
    env = private_env(tmp_path)
    device = write_file_microphone(Path(env["HOME"]), three_bursts())
    with RealtimeServer(transcripts=by_pitch) as server:
        env.update(TRAY_STT_URL=server.url, TRAY_STT_DEVICE=device)
        tray = TrayProcess(env)
        try:
            tray.wait_serving()
            started = cli(env, "start")
            assert (started.returncode, started.stdout, started.stderr) == (0, "", "")
            answer = tray.wait_status(lambda s: s["today"] == 3)
            assert answer["state"] in ("listening", "speech") and answer["listening"] is True
            # Each burst transcribed once, and logged once (a retried one after the live ones).
            assert sorted(t for t in server.delivered if t) == sorted(TRANSCRIPTS)
            assert server.violations == []
            lines = Path(answer["log"]).read_text(encoding="utf-8").splitlines()
            logged = [LOG_LINE.match(line).group(1) for line in lines]  # type: ignore[union-attr]
            assert sorted(logged) == sorted(TRANSCRIPTS)
            assert status_lines(cli(env, "status"))["today"] == "3"

            assert cli(env, "stop").returncode == 0
            tray.wait_status(lambda s: s["state"] == "idle" and not s["listening"])
            assert cli(env, "toggle").returncode == 0
            tray.wait_status(lambda s: s["listening"] and s["state"] != "error")
            assert cli(env, "toggle").returncode == 0
            tray.wait_status(lambda s: s["state"] == "idle" and not s["listening"])

            quit_ = cli(env, "quit")
            assert (quit_.returncode, quit_.stdout, quit_.stderr) == (0, "", "")
            assert tray.wait() == 0
        finally:
            tray.stop()
    assert "Traceback" not in tray.stderr
    assert not (tray.runtime_dir / "control.sock").exists()


def test_app_lock_survives_kill_9(service: TrayProcess, env: dict[str, str]) -> None:
    service.kill()
    assert (service.runtime_dir / "control.sock").exists()  # stale: nobody removed it
    gone = cli(env, "status")
    assert gone.returncode == 1 and "not running" in gone.stderr
    second = TrayProcess(env)
    try:
        assert second.wait_serving()["state"] == "idle"
        assert cli(env, "toggle").returncode == 0
        second.wait_status(lambda s: s["listening"])
        assert cli(env, "quit").returncode == 0
        assert second.wait() == 0
    finally:
        second.stop()


def test_app_status_with_nothing_running_says_so(env: dict[str, str]) -> None:
    result = cli(env, "status")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == "tray-stt: the tray is not running: start it with `tray-stt`.\n"


def test_app_sigterm_quits_cleanly(service: TrayProcess) -> None:
    service.process.send_signal(signal.SIGTERM)
    assert service.wait() == 0
    assert not (service.runtime_dir / "control.sock").exists()


# The tray service, sending itself SIGTERM the moment its control socket is up: the earliest a
# session manager, or a script that saw `tray-stt status` answer, can stop it.
SIGTERM_WHEN_SERVING = """
import os, signal, sys
from tray_stt import __main__
from tray_stt.app import control
start = control.ControlServer.start
def start_then_sigterm(self):
    start(self)
    os.kill(os.getpid(), signal.SIGTERM)
control.ControlServer.start = start_then_sigterm
sys.exit(__main__.main([]))
"""


def test_app_sigterm_as_soon_as_it_serves_quits_cleanly(env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SIGTERM_WHEN_SERVING],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert not (Path(env["TRAY_STT_RUNTIME_DIR"]) / "control.sock").exists()


def test_app_without_api_key_keeps_running_and_says_what_to_do(
    tmp_path: Path, notification_daemon: FakeNotificationDaemon, private_session_bus: str
) -> None:
    env = private_env(tmp_path, DBUS_SESSION_BUS_ADDRESS=private_session_bus)
    del env["OPENAI_API_KEY"]
    tray = TrayProcess(env)
    try:
        answer = tray.wait_serving()
        assert answer["state"] == "error" and answer["detail"].startswith(NO_KEY)
        assert cli(env, "toggle").returncode == 0  # tries, fails the same way, keeps running
        tray.wait_status(lambda s: s["listening"] and s["state"] == "error")
        shown = status_lines(cli(env, "status"))
        assert shown["state"] == "error" and shown["detail"].startswith(NO_KEY)
        notes = notification_daemon.wait_for_notifications(2)  # no key; no tray (headless)
        [note] = [n for n in notes if n["body"].startswith(NO_KEY)]
        assert note["app_name"] == "tray-stt" and note["summary"] == "tray-stt"
        assert note["hints"]["urgency"] == 2
        assert cli(env, "quit").returncode == 0
        assert tray.wait() == 0
    finally:
        tray.stop()


def test_app_runs_headless_and_says_so_when_not_quiet(
    tmp_path: Path, notification_daemon: FakeNotificationDaemon, private_session_bus: str
) -> None:
    env = private_env(tmp_path, DBUS_SESSION_BUS_ADDRESS=private_session_bus)
    tray = TrayProcess(env)
    try:
        tray.wait_serving()
        [note] = notification_daemon.wait_for_notifications(1)
        assert note["body"].startswith("No system tray found")
        assert note["hints"]["urgency"] == 1
        assert cli(env, "quit").returncode == 0
        assert tray.wait() == 0
    finally:
        tray.stop()
    quiet = TrayProcess(env, "--quiet-start")
    try:
        quiet.wait_serving()
        assert cli(env, "quit").returncode == 0
        assert quiet.wait() == 0
    finally:
        quiet.stop()
    assert len(notification_daemon.notifications()) == 1  # nothing at a quiet (login) start


def test_app_set_key_falls_back_to_a_private_file_and_the_service_uses_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    del env["OPENAI_API_KEY"]  # and PYTHON_KEYRING_BACKEND is the failing one: no keyring
    stored = cli(env, "set-key", input="sk-from-stdin\n")
    assert stored.returncode == 0, stored.stderr
    key_file = tmp_path / "home/.config/tray-stt/api_key"
    assert stored.stdout == (  # one sentence: it said this twice, once on each stream
        f"No system keyring is available, so the API key is stored in {key_file}, readable "
        "only by you.\n"
    )
    assert stored.stderr == ""
    assert key_file.read_text() == "sk-from-stdin\n"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    tray = TrayProcess(env)
    try:
        assert tray.wait_serving()["state"] == "idle"  # the key was found: no error
        assert cli(env, "quit").returncode == 0
        assert tray.wait() == 0
    finally:
        tray.stop()


def test_app_press_and_release_dictate_into_the_daily_log_once(tmp_path: Path) -> None:
    """Push-to-talk the Wayland way, by commands, headless (so the text goes to the clipboard).

    The microphone is a private PulseAudio playing a WAV in real time: the ALSA file device of
    the listening test is unpaced, so a turn held for a second would hold minutes of audio.
    """
    pulse = PulseMicrophone(tmp_path)
    try:
        speech = tmp_path / "speech.wav"
        rate = 24000
        write_wav(speech, np.concatenate([tone(550, 1.0, rate), silence(0.3, rate)]), rate)
        socket = Path(pulse.env["XDG_RUNTIME_DIR"]) / "pulse" / "native"
        env = private_env(tmp_path, TRAY_STT_DELIVERY="clipboard", PULSE_SERVER=f"unix:{socket}")
        with RealtimeServer(transcripts=["Dictated from the tray."]) as server:
            env.update(TRAY_STT_URL=server.url, TRAY_STT_DEVICE="pulse")
            tray = TrayProcess(env)
            try:
                assert tray.wait_serving()["dictation"] == "idle"
                pressed = cli(env, "press")
                assert (pressed.returncode, pressed.stdout, pressed.stderr) == (0, "", "")
                tray.wait_status(lambda s: s["dictation"] == "recording")
                pulse.speak(speech)
                assert cli(env, "release").returncode == 0
                answer = tray.wait_status(lambda s: s["today"] == 1 and s["dictation"] == "idle")
                assert answer["listening"] is False and answer["state"] == "idle"
                assert server.delivered == ["Dictated from the tray."]
                assert server.violations == []
                assert cli(env, "quit").returncode == 0
                assert tray.wait() == 0
            finally:
                tray.stop()
    finally:
        pulse.close()
    lines = Path(answer["log"]).read_text(encoding="utf-8").splitlines()
    assert [LOG_LINE.match(line).group(1) for line in lines] == ["Dictated from the tray."]  # type: ignore[union-attr]
    assert "Traceback" not in tray.stderr
