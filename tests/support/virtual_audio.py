"""Real PortAudio capture with no sound card: ALSA `file` devices and private PulseAudio daemons.

PortAudio reads the ALSA configuration once, at initialisation, so whatever uses these runs in a
subprocess whose environment comes from `portaudio_env` (ALSA devices of a generated ~/.asoundrc,
no PulseAudio) or from `pulse_daemon` (the ALSA `pulse` device of a private daemon).
"""

from __future__ import annotations

import ctypes.util
import glob
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support import REPO

needs_portaudio = pytest.mark.skipif(
    ctypes.util.find_library("portaudio") is None,
    reason="libportaudio2 is not installed (apt install libportaudio2)",
)


def write_asoundrc(home: Path, raw: Path) -> None:
    """An ALSA `file` device playing `raw` (24 kHz int16) as its input, and a `null` device."""
    (home / ".asoundrc").write_text(
        f'pcm.filemic {{ type file slave.pcm "null" file "/dev/null" infile "{raw}"'
        ' format "raw" }\n'
        "pcm.nullmic { type null }\n"
    )


def portaudio_env(tmp_path: Path) -> dict[str, str]:
    """An environment where PortAudio sees only our ~/.asoundrc devices (no PulseAudio)."""
    run = tmp_path / "run"
    run.mkdir(mode=0o700, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE_", "ALSA_"))}
    env.update(
        HOME=str(tmp_path),
        XDG_RUNTIME_DIR=str(run),
        PULSE_SERVER=f"unix:{run}/no-such-server",  # the ALSA pulse hook finds nothing running
        PYTHONPATH=str(REPO),
    )
    return env


def skip_without_pulseaudio() -> None:
    """Skip the calling test unless PulseAudio and the ALSA pulse plugin are installed."""
    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        pytest.skip("PulseAudio is not installed (apt install pulseaudio pulseaudio-utils)")
    if not glob.glob("/usr/lib/*/alsa-lib/libasound_module_pcm_pulse.so"):
        pytest.skip("the ALSA pulse plugin is not installed (apt install libasound2-plugins)")


@contextmanager
def pulse_daemon(
    home: Path, modules: Sequence[str], default_source: str
) -> Iterator[dict[str, str]]:
    """A private PulseAudio daemon in `home` with `modules` loaded; yields the client env.

    Clients find it through PULSE_SERVER, so they may run with any HOME.
    """
    skip_without_pulseaudio()
    env = portaudio_env(home)
    socket = Path(env["XDG_RUNTIME_DIR"]) / "pulse-native"
    (home / ".asoundrc").write_text("# PulseAudio devices only\n")
    command = ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--log-target=stderr"]
    command.append(f"--load=module-native-protocol-unix socket={socket} auth-anonymous=1")
    command += [f"--load={module}" for module in modules]
    log_path = home / "pulseaudio.log"
    with log_path.open("wb") as log:
        del env["PULSE_SERVER"]
        daemon = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        env["PULSE_SERVER"] = f"unix:{socket}"
        try:
            _wait_for_pulse(env, daemon, log_path)
            pactl = ["pactl", "set-default-source", default_source]
            subprocess.run(pactl, env=env, check=True, timeout=10)
            yield env
        finally:
            daemon.terminate()
            daemon.wait(10)


def _wait_for_pulse(env: dict[str, str], daemon: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and daemon.poll() is None:
        if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
            return
        time.sleep(0.1)
    raise AssertionError(log.read_text(errors="replace"))


@contextmanager
def virtual_microphone(home: Path, feed_latency_ms: int = 50) -> Iterator[dict[str, str]]:
    """A private PulseAudio whose default source is the monitor of null sink `vmic`.

    Whatever ``paplay --device=vmic`` plays is heard, in real time. With nothing playing, a null
    sink renders (and its monitor delivers) in 2 s bursts: a stream of zeros keeps it rendering
    in small blocks, like a real microphone.

    ``feed_latency_ms``, the latency that stream asks for, sets how often the source sends to its
    recorders, as another program recording from a real microphone would: 50 ms keeps it at
    12.5 ms packets (libpulse then wakes ~90 times a second in every recorder); from about
    400 ms up the recorder's own request decides, as on a microphone only tray-stt records from.
    """
    sink = "module-null-sink sink_name=vmic rate=24000 channels=1"
    with pulse_daemon(home, [sink], default_source="vmic.monitor") as env:
        zeros = ["pacat", "--playback", "--device=vmic", "--rate=24000", "--channels=1"]
        zeros += ["--format=s16le", f"--latency-msec={feed_latency_ms}"]
        with open("/dev/zero", "rb") as source:
            keepalive = subprocess.Popen(zeros, env=env, stdin=source)
        try:
            yield env
        finally:
            keepalive.terminate()
            keepalive.wait(10)
