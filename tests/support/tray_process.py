"""The tray service as a real process: a private environment, start, control, stop.

Shared by the end-to-end, desktop and login tests and by benchmarks/bench_tray.py. Every path the
app writes to (HOME, XDG_*, the runtime directory of the lock and control socket) is inside one
temporary folder, so runs never see each other or the user's own tray-stt.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tray_stt.app.control import send_command
from tray_stt.errors import ControlError

START_TIMEOUT_S = 20.0
# What may leak from the test runner's environment into the app's: nothing that selects a
# display, tray backend, bus, audio server or config of the developer's own session.
_PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "COVERAGE_PROCESS_START")


def private_env(root: Path, **extra: str) -> dict[str, str]:
    """An environment whose home, XDG folders and runtime directory are all under ``root``."""
    home = root / "home"
    run = root / "run"
    for folder in (home, run):
        folder.mkdir(parents=True, exist_ok=True)
    run.chmod(0o700)
    env = {key: os.environ[key] for key in _PASSED_THROUGH if key in os.environ}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_RUNTIME_DIR=str(run),
        TRAY_STT_RUNTIME_DIR=str(run / "tray-stt"),
        PULSE_SERVER=f"unix:{run}/no-pulseaudio",  # PortAudio sees only ~/.asoundrc devices
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",  # as on a headless machine
        OPENAI_API_KEY="test-key",
    )
    env.update(extra)
    return env


def write_file_microphone(home: Path, samples: npt.NDArray[np.int16]) -> str:
    """An ALSA ``file`` device named "filemic" that plays ``samples`` (24 kHz) as its input.

    The device is unpaced: it delivers as fast as it is read, and after the end of the file
    ALSA hands out silence; keep a few seconds of silence at the end so every turn completes.
    """
    raw = home / "microphone.raw"
    samples.astype("<i2").tofile(raw)
    (home / ".asoundrc").write_text(
        f'pcm.filemic {{ type file slave.pcm "null" file "/dev/null" infile "{raw}"'
        ' format "raw" }\n'
    )
    return "filemic"


def cli(
    env: Mapping[str, str], *args: str, timeout: float = 30, input: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m tray_stt ARGS`` to completion (stdin: ``input``, never a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "tray_stt", *args],
        env=dict(env),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class TrayProcess:
    """A running ``tray-stt`` service (no subcommand) and the way to reach its control socket."""

    def __init__(self, env: Mapping[str, str], *args: str, argv: Sequence[str] | None = None):
        self.env = dict(env)
        self.runtime_dir = Path(self.env["TRAY_STT_RUNTIME_DIR"])
        command = list(argv) if argv is not None else [sys.executable, "-m", "tray_stt", *args]
        self.process = subprocess.Popen(
            command,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self._output: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._output.append(line)

    @property
    def stderr(self) -> str:
        """What the service wrote to stderr so far."""
        return "".join(self._output)

    def command(self, name: str, timeout: float = 5.0) -> dict[str, Any]:
        """Send one control command over the socket (no CLI process) and return the answer."""
        return send_command(name, directory=self.runtime_dir, timeout=timeout)

    def wait_serving(self, timeout: float = START_TIMEOUT_S) -> dict[str, Any]:
        """Wait until the control socket answers ``status``; returns that answer."""
        waiter = threading.Event()
        for _ in range(int(timeout / 0.02)):
            if self.process.poll() is not None:
                raise AssertionError(
                    f"tray-stt exited with {self.process.returncode}: {self.stderr}"
                )
            try:
                return self.command("status", timeout=1.0)
            except ControlError:
                waiter.wait(0.02)
        raise AssertionError(f"tray-stt did not answer within {timeout} s: {self.stderr}")

    def wait_status(self, predicate: Any, timeout: float = 20.0) -> dict[str, Any]:
        """Poll ``status`` until ``predicate(answer)`` holds; returns that answer."""
        waiter = threading.Event()
        answer: dict[str, Any] = {}
        for _ in range(int(timeout / 0.05)):
            answer = self.command("status")
            if predicate(answer):
                return answer
            waiter.wait(0.05)
        raise AssertionError(f"status never matched; last: {answer}; stderr: {self.stderr}")

    def wait(self, timeout: float = 20.0) -> int:
        """Wait for the process to end; its exit code."""
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or ``kill -9`` would."""
        self.process.send_signal(signal.SIGKILL)
        self.wait()

    def stop(self) -> None:
        """End it however it can be ended (cleanup after a failed test)."""
        end_process(self.process)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def end_process(process: subprocess.Popen[Any]) -> None:
    """Terminate a child that is still running, and kill it if it will not go."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
