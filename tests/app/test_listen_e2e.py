"""``tray-stt listen`` and ``tray-stt devices`` end to end: real processes, real PortAudio capture.

The microphone is the monitor of a PulseAudio null sink in a private daemon; `paplay` plays a
spoken WAV into the sink in real time, so the listening process records it as it would a voice.
An ALSA `file` input never reaches the end of its file in real time (it is unpaced and reads
junk past the end), so it serves the tests that only open or list devices.

The listening process never ends by itself, whatever it hears: each test waits (polling, with a
generous deadline) for what it expects, then sends SIGINT as Ctrl+C would. Nothing is timed.
"""

from __future__ import annotations

import base64
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.audio_samples import spoken_wav
from tests.support.fake_sounddevice import FakeBackend, FakeDevice, FedMicrophone
from tests.support.realtime_server import RealtimeServer
from tests.support.virtual_audio import (
    needs_portaudio,
    portaudio_env,
    virtual_microphone,
    write_asoundrc,
)
from tray_stt.app.listening import MicrophoneListener
from tray_stt.audio.microphone import Microphone
from tray_stt.config import Config

SENTENCES = [
    "Hello from the tray.",
    "This is the second sentence.",
    "And a third one to finish.",
]
STARTED, STOPPED = "-- speech started --", "-- speech stopped --"
LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d  (.+)$")
LOCAL_TURNS = ["--model", "gpt-live-transcribe", "--turn", "local"]
DEADLINE_S = 90.0  # generous: two shared cores; never an assertion about speed
# Runs the rest of its command line with SIGINT ignored, as a shell without job control starts
# a background command (`sh -c "tray-stt listen &"`, a harness run in the background).
SIGINT_IGNORED = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


class Listening:
    """A running ``tray-stt listen`` whose stdout and stderr lines are collected as they come."""

    def __init__(
        self, args: list[str], env: dict[str, str], *, sigint_ignored: bool = False
    ) -> None:
        command = ["-m", "tray_stt", "listen", *args]
        if sigint_ignored:
            command = ["-c", SIGINT_IGNORED, *command]
        self.process = subprocess.Popen(
            [sys.executable, *command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        assert self.process.stdout is not None and self.process.stderr is not None
        self._readers = [
            threading.Thread(target=_collect, args=(self.process.stdout, self.stdout)),
            threading.Thread(target=_collect, args=(self.process.stderr, self.stderr)),
        ]
        for reader in self._readers:
            reader.start()

    def wait_for(self, what: str, condition: Callable[[], bool]) -> None:
        """Poll until `condition` holds; fail with everything printed if the process ends."""
        deadline = time.monotonic() + DEADLINE_S
        while not condition():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.finish()
                raise AssertionError(f"no {what}; stdout {self.stdout}; stderr {self.stderr}")
            time.sleep(0.05)

    def interrupt(self, stop: signal.Signals = signal.SIGINT) -> int:
        """Ctrl+C (or another stop signal), then wait for the process to end; its exit code."""
        self.process.send_signal(stop)
        return self.finish()

    def finish(self) -> int:
        """Wait for the end (killing the process past the deadline) and for its output."""
        try:
            self.process.wait(DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for reader in self._readers:
            reader.join()
        return self.process.returncode

    @property
    def finals(self) -> list[str]:
        """Completed transcripts: the stdout lines that are neither markers nor partial text."""
        return [line for line in list(self.stdout) if not line.startswith(("-- ", "... "))]

    @property
    def markers(self) -> list[str]:
        """The speech started / stopped lines, in order."""
        return [line for line in list(self.stdout) if line.startswith("-- ")]


def _collect(stream: Iterator[str], lines: list[str]) -> None:
    for line in stream:
        lines.append(line.rstrip("\n"))


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "spoken.wav"
    spoken_wav(path, SENTENCES, gap_s=1.2)
    return path


@pytest.fixture(scope="module")
def virtual_mic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A PulseAudio null sink `vmic` whose monitor is the default source; yields the client env."""
    with virtual_microphone(tmp_path_factory.mktemp("pulse")) as env:
        yield env


def listen_env(pulse: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The virtual microphone's PulseAudio, and a home with no config file."""
    home = tmp_path / "home"
    home.mkdir()
    return {
        **pulse,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "OPENAI_API_KEY": "test-key",
    }


def play(wav: Path, pulse: dict[str, str]) -> None:
    """Play `wav` into the virtual microphone, in real time (returns when it has been played)."""
    subprocess.run(["paplay", "--device=vmic", str(wav)], env=pulse, check=True, timeout=120)


def log_lines(log_dir: Path) -> list[str]:
    path = log_dir / f"{date.today():%Y-%m-%d}.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [LOG_LINE.match(line).group(1) for line in lines]  # type: ignore[union-attr]


def assert_clean_stderr(listening: Listening) -> None:
    assert not any("Traceback" in line for line in listening.stderr), listening.stderr
    assert all(line.startswith("tray-stt: ") for line in listening.stderr), listening.stderr


def start_listening(
    server: RealtimeServer,
    tmp_path: Path,
    pulse: dict[str, str],
    *extra: str,
    sigint_ignored: bool = False,
) -> Listening:
    args = ["--url", server.url, "--log-dir", str(tmp_path / "logs"), "--device", "pulse"]
    env = listen_env(pulse, tmp_path)
    listening = Listening([*args, *extra], env, sigint_ignored=sigint_ignored)
    listening.wait_for(
        "listening notice", lambda: any("listening on" in line for line in listening.stderr)
    )
    return listening


@pytest.mark.desktop
@needs_portaudio
def test_listen_server_vad_prints_markers_and_sentences_in_order_and_logs_them(
    spoken: Path, virtual_mic: dict[str, str], tmp_path: Path
) -> None:
    with RealtimeServer(transcripts=SENTENCES) as server:
        listening = start_listening(server, tmp_path, virtual_mic)
        play(spoken, virtual_mic)
        listening.wait_for("three transcripts", lambda: len(listening.finals) >= 3)
        code = listening.interrupt()
        assert server.violations == []
        update = server.connections[0].client_events[0]
    assert code == 0, listening.stderr
    assert listening.finals == SENTENCES
    assert log_lines(tmp_path / "logs") == SENTENCES
    assert listening.markers == [STARTED, STOPPED] * 3
    assert "listening on pulse with gpt-transcribe (server turns)" in listening.stderr[0]
    turn = update["session"]["audio"]["input"]["turn_detection"]
    assert turn["type"] == "server_vad"
    assert_clean_stderr(listening)


@pytest.mark.desktop
@needs_portaudio
def test_listen_local_turns_commit_once_per_sentence_with_a_streaming_model(
    spoken: Path, virtual_mic: dict[str, str], tmp_path: Path
) -> None:
    with RealtimeServer(transcripts=SENTENCES) as server:
        listening = start_listening(server, tmp_path, virtual_mic, *LOCAL_TURNS)
        play(spoken, virtual_mic)
        listening.wait_for("three transcripts", lambda: len(listening.finals) >= 3)
        code = listening.interrupt()
        assert server.violations == []
        events = list(server.connections[0].client_events)
        items = list(server.connections[0].items)
    assert code == 0, listening.stderr
    assert listening.finals == SENTENCES
    assert log_lines(tmp_path / "logs") == SENTENCES
    assert listening.markers == [STARTED, STOPPED] * 3
    assert events[0]["type"] == "session.update"
    assert events[0]["session"]["audio"]["input"]["turn_detection"] is None
    commits = [e for e in events if e["type"] == "input_audio_buffer.commit"]
    assert len(commits) == 3
    assert [item.via for item in items] == ["commit"] * 3
    assert_clean_stderr(listening)


@pytest.mark.desktop
@needs_portaudio
@pytest.mark.parametrize(
    ("turn_args", "stop"),
    [([], signal.SIGINT), (LOCAL_TURNS, signal.SIGINT), ([], signal.SIGTERM)],
    ids=["server", "local", "server-sigterm"],
)
def test_listen_ctrl_c_mid_sentence_commits_the_tail_and_waits_for_its_transcript(
    turn_args: list[str],
    stop: signal.Signals,
    spoken: Path,
    virtual_mic: dict[str, str],
    tmp_path: Path,
) -> None:
    """Ctrl+C, or SIGTERM (`kill`, a service manager), stops cleanly, losing nothing."""
    # Transcripts come late, so the last one is still outstanding when Ctrl+C arrives.
    with RealtimeServer(transcripts=SENTENCES, completion_delay=1.5) as server:
        listening = start_listening(server, tmp_path, virtual_mic, *turn_args)
        player = threading.Thread(target=play, args=(spoken, virtual_mic))
        player.start()
        try:
            listening.wait_for("third sentence", lambda: listening.markers.count(STARTED) >= 3)
            code = listening.interrupt(stop)
        finally:
            player.join()
        assert server.violations == []
        items = list(server.connections[0].items)
    assert code == 0, listening.stderr
    assert listening.finals == SENTENCES  # the third, cut short, was committed and delivered
    assert log_lines(tmp_path / "logs") == SENTENCES
    assert [item.status for item in items] == ["completed"] * 3
    assert any("stopping: waiting for the last transcripts" in line for line in listening.stderr)
    assert_clean_stderr(listening)


def test_sigint_ignored_wrapper_starts_a_python_that_ignores_sigint() -> None:
    probe = "import signal; print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)"
    command = [sys.executable, "-c", SIGINT_IGNORED, "-c", probe]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.stdout == "True\n", result.stderr


@pytest.mark.desktop
@needs_portaudio
def test_listen_ctrl_c_stops_it_even_when_started_with_sigint_ignored(
    spoken: Path, virtual_mic: dict[str, str], tmp_path: Path
) -> None:
    # Python keeps an inherited SIG_IGN: the benchmark, run in the background, once sent SIGINT
    # to a listen that never heard it, and after 60 s found it still recording.
    with RealtimeServer(transcripts=SENTENCES, completion_delay=1.5) as server:
        listening = start_listening(server, tmp_path, virtual_mic, sigint_ignored=True)
        player = threading.Thread(target=play, args=(spoken, virtual_mic))
        player.start()
        try:
            listening.wait_for("third sentence", lambda: listening.markers.count(STARTED) >= 3)
            code = listening.interrupt()
        finally:
            player.join()
    assert code == 0, listening.stderr
    assert listening.finals == SENTENCES  # the tail was committed and its transcript waited for
    assert log_lines(tmp_path / "logs") == SENTENCES
    assert any("stopping: waiting for the last transcripts" in line for line in listening.stderr)
    assert_clean_stderr(listening)


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A short-lived ``tray-stt`` command, with the API key set and no config file."""
    env = {**env, "OPENAI_API_KEY": "test-key", "XDG_CONFIG_HOME": env["HOME"] + "/.config"}
    return subprocess.run(
        [sys.executable, "-m", "tray_stt", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def alsa_env(tmp_path: Path) -> dict[str, str]:
    """PortAudio seeing two ALSA devices: `filemic` (a file as input) and `nullmic`."""
    raw = tmp_path / "in.raw"
    raw.write_bytes(bytes(48_000))  # ALSA lists a file device only if it exists
    write_asoundrc(tmp_path, raw)
    return portaudio_env(tmp_path)


def assert_one_sentence_failure(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tray-stt: "), lines
    return lines[0]


@needs_portaudio
def test_listen_unknown_device_is_one_sentence_and_usage_exit_code(
    alsa_env: dict[str, str],
) -> None:
    result = run_cli(["listen", "--device", "Yeti", "--url", "ws://127.0.0.1:9"], alsa_env)
    line = assert_one_sentence_failure(result)
    assert line.startswith("tray-stt: No input device is named 'Yeti'; the input devices are: ")
    assert "'filemic'" in line and "`tray-stt devices`" in line


@needs_portaudio
@pytest.mark.skipif(Path("/dev/snd").exists(), reason="this machine has a sound card")
def test_listen_without_any_input_device_says_plug_one_in(tmp_path: Path) -> None:
    (tmp_path / ".asoundrc").write_text("# no devices of our own\n")
    result = run_cli(["listen", "--url", "ws://127.0.0.1:9"], portaudio_env(tmp_path))
    line = assert_one_sentence_failure(result)
    assert line == "tray-stt: No input device found: plug in a microphone, or check that" + (
        " PulseAudio/PipeWire is running."
    )


@needs_portaudio
def test_devices_lists_the_alsa_file_device(alsa_env: dict[str, str]) -> None:
    result = run_cli(["devices"], alsa_env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["#", "name", "default", "rate", "host", "API"]
    rows = {line.split()[-4]: line for line in lines[1:-1]}  # name column, before "N Hz ALSA"
    assert {"filemic", "nullmic"} <= set(rows)
    assert rows["filemic"].rstrip().endswith("ALSA")
    assert lines[-1] == "(* marks the default input device; choose a device by its name.)"


class LateMicrophone(Microphone):
    """A microphone whose device opens only once the listener's stop() has already run."""

    def __init__(self, *args: Any, stopped: threading.Event, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listener_stopped = stopped

    def start(self) -> None:
        assert self._listener_stopped.wait(10)
        super().start()


def test_microphone_listener_stopped_before_the_device_opened_still_ends() -> None:
    device = FakeDevice("Mic", signal=np.zeros(2400, np.int16), loop=True)
    backend = FakeBackend([device], mode="paced")
    stopped, ended = threading.Event(), threading.Event()
    outcome: list[BaseException | None] = []

    def on_end(error: BaseException | None) -> None:
        outcome.append(error)
        ended.set()

    def microphone(*args: Any, **kwargs: Any) -> Microphone:
        return LateMicrophone(*args, backend=backend, stopped=stopped, **kwargs)

    with RealtimeServer() as server:
        config = replace(Config(), url=server.url, api_key="test-key")
        listener = MicrophoneListener(config, lambda _event: None, on_end, microphone=microphone)
        listener.stop()
        stopped.set()
        assert ended.wait(DEADLINE_S), "the microphone kept recording after stop()"
    assert outcome == [None]
    assert backend.last_stream.closed


def test_microphone_listener_sends_silence_while_muted_for_a_dictation_turn() -> None:
    """Dictated speech goes into a window; the listening session must not transcribe it too."""
    microphones: list[FedMicrophone] = []

    def microphone(*args: Any, **kwargs: Any) -> FedMicrophone:
        microphones.append(FedMicrophone())
        return microphones[0]

    ended = threading.Event()
    loud = [bytes([index + 1]) * 1920 for index in range(3)]  # 40 ms each, never silent
    with RealtimeServer() as server:
        config = replace(Config(), url=server.url, api_key="test-key")
        listener = MicrophoneListener(
            config, lambda _event: None, lambda _error: ended.set(), microphone=microphone
        )
        for block, muted in zip(loud, [False, True, False], strict=True):
            listener.mute(muted)
            microphones[0].feed(block)
        listener.stop()
        assert ended.wait(DEADLINE_S)
        events = server.connections[0].client_events
    sent = b"".join(
        base64.b64decode(event["audio"])
        for event in events
        if event["type"] == "input_audio_buffer.append"
    )
    assert sent.startswith(loud[0] + bytes(1920) + loud[2])


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.desktop
@needs_portaudio
def test_listen_offline_at_start_keeps_trying_and_transcribes_once_the_server_is_up(
    spoken: Path, virtual_mic: dict[str, str], tmp_path: Path
) -> None:
    """The network down at start is an outage like any other, not an exit."""
    port = _free_port()
    url = f"ws://127.0.0.1:{port}/v1/realtime?intent=transcription"
    args = ["--url", url, "--log-dir", str(tmp_path / "logs"), "--device", "pulse"]
    listening = Listening(args, listen_env(virtual_mic, tmp_path))
    listening.wait_for(
        "connection problem", lambda: any("Connection problem" in line for line in listening.stderr)
    )
    time.sleep(6)  # past what the first connection was once given (about 4 s, then exit 5)
    assert listening.process.poll() is None, listening.stderr
    with RealtimeServer(transcripts=SENTENCES, port=port) as server:
        listening.wait_for(
            "listening notice", lambda: any("listening on" in line for line in listening.stderr)
        )
        play(spoken, virtual_mic)
        listening.wait_for("three transcripts", lambda: len(listening.finals) >= 3)
        code = listening.interrupt()
        assert server.violations == []
    assert code == 0, listening.stderr
    assert listening.finals == SENTENCES
    assert sum("Connection problem" in line for line in listening.stderr) == 1  # once, not per try
    assert_clean_stderr(listening)


@pytest.mark.desktop
@needs_portaudio
def test_listen_against_a_server_that_never_answers_never_says_listening_nor_exits_0(
    spoken: Path, virtual_mic: dict[str, str], tmp_path: Path
) -> None:
    with RealtimeServer(transcripts=SENTENCES) as server:
        server.frozen = True  # accepts, then says nothing at all
        args = ["--url", server.url, "--log-dir", str(tmp_path / "logs"), "--device", "pulse"]
        listening = Listening(args, listen_env(virtual_mic, tmp_path))
        play(spoken, virtual_mic)
        listening.wait_for(
            "stall notice",
            lambda: any("did not answer within" in line for line in listening.stderr),
        )
        code = listening.interrupt()
    assert code == 5, listening.stderr
    assert listening.finals == []
    assert not any("listening on" in line for line in listening.stderr)
    assert any("Could not transcribe the utterance at" in line for line in listening.stderr)
    assert_clean_stderr(listening)
