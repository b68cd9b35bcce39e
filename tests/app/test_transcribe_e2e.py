"""``tray-stt transcribe`` end to end: a real process against the loopback realtime server."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from tests.support.audio_samples import dominant_hz, silence, spoken_wav, tone, write_wav
from tests.support.realtime_server import RealtimeServer

SENTENCES = [
    "Hello from the tray.",
    "This is the second sentence.",
    "And a third one to finish.",
]
LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d  (.+)$")


def run_cli(
    *args: str,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config"),  # no user config file
        "XDG_DATA_HOME": str(tmp_path / "home" / ".local" / "share"),
        "OPENAI_API_KEY": "test-key",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "tray_stt", *args],
        env=environment,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def log_lines(log_dir: Path) -> list[str]:
    path = log_dir / f"{date.today():%Y-%m-%d}.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [LOG_LINE.match(line).group(1) for line in lines]  # type: ignore[union-attr]


def assert_clean_failure(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith("tray-stt: ") for line in lines), lines
    return lines[-1]  # the one sentence that says what went wrong


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "spoken.wav"
    spoken_wav(path, SENTENCES, gap_s=1.2)
    return path


@pytest.fixture
def three_tones(tmp_path: Path) -> Path:
    """Three tone bursts separated by silence: three utterances for the server VAD."""
    rate = 24000
    parts = [silence(0.5, rate)]
    for freq in (440, 660, 880):
        parts += [tone(freq, 0.8, rate), silence(1.0, rate)]
    path = tmp_path / "tones.wav"
    write_wav(path, np.concatenate(parts), rate)
    return path


def test_transcribe_spoken_sentences_in_order_on_stdout_and_in_log(
    spoken: Path, tmp_path: Path
) -> None:
    with RealtimeServer(transcripts=SENTENCES) as server:
        result = run_cli(
            "transcribe",
            str(spoken),
            "--url",
            server.url,
            "--log-dir",
            str(tmp_path / "logs"),
            tmp_path=tmp_path,
        )
        assert server.violations == []
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == SENTENCES
    assert log_lines(tmp_path / "logs") == SENTENCES
    assert (tmp_path / "logs").stat().st_mode & 0o777 == 0o700


def test_transcribe_resamples_44k_stereo_to_24k_mono(tmp_path: Path) -> None:
    rate = 44100
    left = tone(1000, 1.5, rate)
    stereo = np.stack([left, left], axis=1)
    path = tmp_path / "stereo.wav"
    write_wav(path, stereo, rate)
    with RealtimeServer(transcripts=["a tone"]) as server:
        result = run_cli(
            "transcribe", str(path), "--url", server.url, "--no-log", tmp_path=tmp_path
        )
        audio = np.frombuffer(bytes(server.connections[0].audio), dtype="<i2")
        assert server.violations == []
    assert result.returncode == 0, result.stderr
    assert abs(dominant_hz(audio[: int(1.5 * 24000)].tobytes()) - 1000) < 2
    assert abs(len(audio) / 24000 - 1.5) < 1.0  # plus the silence that ends the last turn


def test_transcribe_bad_key_exits_with_authentication_code(
    three_tones: Path, tmp_path: Path
) -> None:
    with RealtimeServer() as server:
        result = run_cli(
            "transcribe",
            str(three_tones),
            "--url",
            server.url,
            "--log-dir",
            str(tmp_path / "logs"),
            tmp_path=tmp_path,
            env={"OPENAI_API_KEY": "wrong"},
        )
    line = assert_clean_failure(result, 3)
    assert "API key" in line
    assert not (tmp_path / "logs").exists()


def test_transcribe_uses_the_key_stored_with_set_key(three_tones: Path, tmp_path: Path) -> None:
    """`set-key` then `transcribe` said "No API key is set: run `tray-stt set-key`": only the
    tray read the stored key."""
    stored = run_cli("set-key", tmp_path=tmp_path, env={"OPENAI_API_KEY": ""}, input="sk-stored\n")
    assert stored.returncode == 0, stored.stderr
    with RealtimeServer(api_key="sk-stored", transcripts=["Stored key works."]) as server:
        result = run_cli(
            "transcribe",
            str(three_tones),
            "--url",
            server.url,
            "--log-dir",
            str(tmp_path / "logs"),
            tmp_path=tmp_path,
            env={"OPENAI_API_KEY": ""},
        )
    assert result.returncode == 0, result.stderr
    assert "Stored key works." in result.stdout


def test_transcribe_without_credit_exits_with_billing_code(
    three_tones: Path, tmp_path: Path
) -> None:
    quota = ("insufficient_quota", "insufficient_quota", "You exceeded your current quota.")
    with RealtimeServer(fatal_on_connect=[quota]) as server:
        result = run_cli(
            "transcribe", str(three_tones), "--url", server.url, "--no-log", tmp_path=tmp_path
        )
    line = assert_clean_failure(result, 4)
    assert "no credit" in line and "add credit" in line


def test_transcribe_reconnects_after_a_drop_and_loses_nothing(
    three_tones: Path, tmp_path: Path
) -> None:
    transcripts = ["one", "two", "three"]
    # First connection drops mid-file; the second drops right after committing the third turn.
    with RealtimeServer(
        transcripts=transcripts, drop_after_ms=[2000], drop_before_completion=[None, [2]]
    ) as server:
        result = run_cli(
            "transcribe",
            str(three_tones),
            "--url",
            server.url,
            "--log-dir",
            str(tmp_path / "logs"),
            tmp_path=tmp_path,
        )
        assert server.violations == []
        assert len(server.connections) >= 3
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == transcripts
    assert log_lines(tmp_path / "logs") == transcripts


def test_transcribe_out_of_order_completions_print_in_spoken_order(
    three_tones: Path, tmp_path: Path
) -> None:
    with RealtimeServer(transcripts=["one", "two", "three"], out_of_order=True) as server:
        result = run_cli(
            "transcribe", str(three_tones), "--url", server.url, "--no-log", tmp_path=tmp_path
        )
        completions = [
            e["transcript"]
            for e in server.connections[0].events(
                "conversation.item.input_audio_transcription.completed"
            )
        ]
    assert completions != ["one", "two", "three"]  # the server really did reorder them
    assert result.stdout.splitlines() == ["one", "two", "three"]


def test_transcribe_failed_item_is_reported_not_dropped(three_tones: Path, tmp_path: Path) -> None:
    failure = ("server_error", "Input transcription failed for item '{item_id}'.")
    with RealtimeServer(transcripts=["one", "two", "three"], fail_items={1: failure}) as server:
        result = run_cli(
            "transcribe", str(three_tones), "--url", server.url, "--no-log", tmp_path=tmp_path
        )
    assert result.returncode == 5
    assert result.stdout.splitlines() == ["one", "three"]
    assert "Could not transcribe the utterance at" in result.stderr
    assert "Input transcription failed" in result.stderr


def test_transcribe_session_expiry_rolls_over(three_tones: Path, tmp_path: Path) -> None:
    with RealtimeServer(transcripts=["one", "two", "three"], session_max_s=1.5) as server:
        result = run_cli(
            "transcribe",
            str(three_tones),
            "--url",
            server.url,
            "--realtime",
            "--no-log",
            tmp_path=tmp_path,
        )
        assert server.connections[0].close_code == 1001
        assert server.violations == []
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["one", "two", "three"]


def test_transcribe_auto_dialect_on_a_beta_server(three_tones: Path, tmp_path: Path) -> None:
    with RealtimeServer(transcripts=["one", "two", "three"], dialect="beta") as server:
        result = run_cli(
            "transcribe",
            str(three_tones),
            "--url",
            server.url,
            "--dialect",
            "auto",
            "--model",
            "whisper-1",
            "--no-log",
            tmp_path=tmp_path,
        )
        assert server.violations == []
        assert server.connections[0].client_events[0]["type"] == "transcription_session.update"
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["one", "two", "three"]
    assert "whisper-1 is scheduled to shut down on 2027-02-26" in result.stderr


def test_transcribe_manual_turns_with_a_streaming_model(three_tones: Path, tmp_path: Path) -> None:
    with RealtimeServer(transcripts=["everything at once"]) as server:
        result = run_cli(
            "transcribe",
            str(three_tones),
            "--url",
            server.url,
            "--model",
            "gpt-live-transcribe",
            "--turn",
            "manual",
            "--no-log",
            tmp_path=tmp_path,
        )
        assert server.violations == []
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["everything at once"]


def test_transcribe_local_turns_commit_once_per_spoken_sentence(
    spoken: Path, tmp_path: Path
) -> None:
    """A streaming model defaults to client-side turn detection: one manual commit per sentence."""
    with RealtimeServer(transcripts=SENTENCES) as server:
        result = run_cli(
            "transcribe",
            str(spoken),
            "--url",
            server.url,
            "--model",
            "gpt-live-transcribe",
            "--no-log",
            tmp_path=tmp_path,
        )
        assert server.violations == []
        events = [event["type"] for event in server.connections[0].client_events]
        session = server.connections[0].client_events[0]["session"]
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == SENTENCES
    assert events.count("input_audio_buffer.commit") == len(SENTENCES)
    assert session["audio"]["input"]["turn_detection"] is None


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.write_text("just some text\n"), "not an audio or video file"),
        (lambda p: write_wav(p, np.zeros(0, dtype=np.int16), 24000), "no audio"),
    ],
    ids=["missing", "not-audio", "empty"],
)
def test_transcribe_bad_file_is_refused_before_connecting(
    tmp_path: Path, make: object, expected: str
) -> None:
    path = tmp_path / "input.wav"
    make(path)  # type: ignore[operator]
    with RealtimeServer() as server:
        result = run_cli(
            "transcribe",
            str(path),
            "--url",
            server.url,
            "--log-dir",
            str(tmp_path / "logs"),
            tmp_path=tmp_path,
        )
        assert server.connections == []
    line = assert_clean_failure(result, 2)
    assert expected in line and "input.wav" in line
    assert not (tmp_path / "logs").exists()


def test_transcribe_invalid_config_is_refused(three_tones: Path, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('turn = "whenever"\n')
    result = run_cli(
        "transcribe", str(three_tones), tmp_path=tmp_path, env={"TRAY_STT_CONFIG": str(config)}
    )
    line = assert_clean_failure(result, 2)
    assert str(config) in line and "turn must be one of" in line


def test_transcribe_option_the_model_cannot_honour(three_tones: Path, tmp_path: Path) -> None:
    result = run_cli(
        "transcribe",
        str(three_tones),
        "--model",
        "gpt-realtime-whisper",
        "--turn",
        "server",
        tmp_path=tmp_path,
    )
    line = assert_clean_failure(result, 2)
    assert "gpt-realtime-whisper does not support server turn detection" in line


def test_transcribe_without_key_on_openai_says_how_to_set_it(
    three_tones: Path, tmp_path: Path
) -> None:
    result = run_cli("transcribe", str(three_tones), tmp_path=tmp_path, env={"OPENAI_API_KEY": ""})
    line = assert_clean_failure(result, 3)
    assert "`tray-stt set-key`" in line and "OPENAI_API_KEY" in line


def test_transcribe_unreachable_endpoint_is_a_network_error(
    three_tones: Path, tmp_path: Path
) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_cli(
        "transcribe",
        str(three_tones),
        "--url",
        f"ws://127.0.0.1:{port}/v1/realtime",
        "--no-log",
        tmp_path=tmp_path,
    )
    assert result.returncode == 5
    assert "Traceback" not in result.stderr
    assert "Could not keep a connection" in result.stderr.strip().splitlines()[-1]


def test_transcribe_progress_bar_goes_to_a_terminal_stderr_only(
    three_tones: Path, tmp_path: Path
) -> None:
    with RealtimeServer(transcripts=["one", "two", "three"]) as server:
        environment = {**os.environ, "OPENAI_API_KEY": "test-key", "HOME": str(tmp_path)}
        command = [sys.executable, "-m", "tray_stt", "transcribe", str(three_tones)]
        result, shown = run_on_a_terminal([*command, "--url", server.url, "--no-log"], environment)
    assert result.returncode == 0
    assert result.stdout.splitlines() == ["one", "two", "three"]  # no bar on stdout
    assert b"\rtones.wav [" in shown and b"\x1b[K" in shown


@pytest.mark.desktop
def test_transcribe_clipboard_holds_the_last_transcript(
    three_tones: Path, tmp_path: Path, xvfb_env: str
) -> None:
    if shutil.which("xclip") is None:
        pytest.skip("xclip is not installed (apt install xclip)")
    with RealtimeServer(transcripts=["one", "two", "three"]) as server:
        result = run_cli(
            "transcribe",
            str(three_tones),
            "--url",
            server.url,
            "--no-log",
            "--clipboard",
            tmp_path=tmp_path,
            env={"DISPLAY": xvfb_env},
        )
    assert result.returncode == 0, result.stderr
    pasted = subprocess.run(
        ["xclip", "-o", "-selection", "clipboard"],
        env={**os.environ, "DISPLAY": xvfb_env},
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert pasted.stdout == "three"


def test_transcribe_refuses_clear_text_ws_to_another_host_before_connecting(
    three_tones: Path, tmp_path: Path
) -> None:
    url = "ws://gpu-box.invalid:8000/v1/realtime"
    result = run_cli("transcribe", str(three_tones), "--url", url, "--no-log", tmp_path=tmp_path)
    line = assert_clean_failure(result, 2)
    assert line.startswith("tray-stt: Refusing ws://gpu-box.invalid") and "insecure = true" in line
    assert "test-key" not in result.stderr


def test_transcribe_server_control_characters_never_reach_terminal_or_log(
    three_tones: Path, tmp_path: Path
) -> None:
    hostile = ["\x1b]0;pwned\x07one\x1b[2J", "two\r\n09:00:00  forged", "\u202ethree\x9b31m"]
    with RealtimeServer(transcripts=hostile) as server:
        result = run_cli(
            "transcribe",
            str(three_tones),
            "--url",
            server.url,
            "--log-dir",
            str(tmp_path / "logs"),
            tmp_path=tmp_path,
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["one", "two 09:00:00 forged", "three"]
    assert log_lines(tmp_path / "logs") == ["one", "two 09:00:00 forged", "three"]
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]", result.stdout + result.stderr)


def test_transcribe_truncated_wav_warns_and_transcribes_what_is_there(tmp_path: Path) -> None:
    rate = 24000
    pcm = np.concatenate([silence(0.3, rate), tone(440, 0.8, rate), silence(1.0, rate)])
    path = tmp_path / "cut.wav"
    write_wav(path, pcm, rate)
    data = bytearray(path.read_bytes())
    data[40:44] = (rate * 2 * 20).to_bytes(4, "little")  # the header now promises 20 s
    path.write_bytes(bytes(data))
    with RealtimeServer(transcripts=["what is there"]) as server:
        result = run_cli(
            "transcribe", str(path), "--url", server.url, "--no-log", tmp_path=tmp_path
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["what is there"]
    assert "promises 20.0 s of audio but the file holds 2.1 s" in result.stderr


def test_transcribe_items_failing_for_no_credit_exit_with_billing_code_said_once(
    three_tones: Path, tmp_path: Path
) -> None:
    """No credit as the API also reports it: each item fails with ``insufficient_quota``."""
    with RealtimeServer(transcripts=["one", "two", "three"]) as server:
        server.quota = True
        result = run_cli(
            "transcribe", str(three_tones), "--url", server.url, "--no-log", tmp_path=tmp_path
        )
    line = assert_clean_failure(result, 4)
    assert "no credit" in line and "add credit" in line
    assert result.stderr.count("no credit") == 1
    assert "not transcribed: 00:00." in result.stderr and "of tones.wav" in result.stderr


def test_transcribe_sigterm_against_a_frozen_server_stops_and_names_what_is_missing(
    three_tones: Path, tmp_path: Path
) -> None:
    """Frozen after the first transcript: SIGTERM ends it within its grace, in file offsets."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config"),
        "OPENAI_API_KEY": "test-key",
    }
    with RealtimeServer(transcripts=["one", "two", "three"], freeze_after_items=1) as server:
        process = subprocess.Popen(
            [sys.executable, "-m", "tray_stt", "transcribe", str(three_tones)]
            + ["--url", server.url, "--no-log"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            assert process.stdout.readline() == "one\n"
            server.wait_for(lambda: server.frozen)
            process.send_signal(signal.SIGTERM)
            # Generous, yet short of the 30 s that a wait for a silent server would take.
            stdout, stderr = process.communicate(timeout=25)
        finally:
            process.kill()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stdout == ""
    missing = re.search(r"not transcribed: 00:0(\d\.\d)–.*00:05\.9 of tones\.wav", stderr)
    assert missing is not None, stderr
    assert 1.0 <= float(missing.group(1)) <= 2.3  # after the first tone, before the second ends


def run_on_a_terminal(
    command: list[str], env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], bytes]:
    """Run ``command`` with its stderr on a pseudo-terminal; its result, and all the terminal
    showed."""
    import pty

    controller, terminal = pty.openpty()
    try:
        result = subprocess.run(
            command, env=env, stdout=subprocess.PIPE, stderr=terminal, text=True, timeout=60
        )
    finally:
        os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the terminal's other end is closed and drained
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    return result, shown
