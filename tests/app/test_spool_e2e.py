"""The audio spool end to end: a real ``tray-stt listen`` killed, out of credit, or on a full
disk, then ``tray-stt pending`` and ``tray-stt retry`` (README "What is kept, and for how long").

The microphone is the private PulseAudio of test_listen_e2e. The audio is tones, one pitch per
"word", and the loopback server transcribes an item by its pitch: a word sent twice, or lost,
shows in the log. Nothing is timed; logged times are compared with when the tones were heard.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from tests.app.test_listen_e2e import (
    STARTED,
    Listening,
    listen_env,
    play,
    run_cli,
    virtual_mic,  # noqa: F401  (a fixture)
)
from tests.support.audio_samples import pitch_transcriber, tone, write_wav
from tests.support.realtime_server import RealtimeServer
from tests.support.virtual_audio import needs_portaudio

RATE = 24_000
WORDS = {300.0: "alpha", 600.0: "bravo", 900.0: "charlie", 1200.0: "delta"}
by_pitch = pitch_transcriber(WORDS)
QUOTA = ("insufficient_quota", "insufficient_quota", "You exceeded your current quota.")


def tones_wav(path: Path, seconds: list[float], gap_s: float = 1.5) -> Path:
    """Silence, then one tone per word (300, 600, 900, 1200 Hz) with silence after each."""
    parts = [np.zeros(RATE, dtype=np.int16)]
    for freq, length in zip(WORDS, seconds, strict=False):
        parts += [tone(freq, length, RATE), np.zeros(int(gap_s * RATE), dtype=np.int16)]
    write_wav(path, np.concatenate(parts), RATE)
    return path


def log_entries(log_dir: Path) -> list[tuple[str, str]]:
    """(HH:MM:SS, text) of every line of today's log; every line must be whole."""
    path = log_dir / f"{datetime.now():%Y-%m-%d}.txt"
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        clock, _, text = line.partition("  ")
        datetime.strptime(clock, "%H:%M:%S")  # a torn line fails here
        entries.append((clock, text))
    return entries


def start(server: RealtimeServer, env: dict[str, str], logs: Path) -> Listening:
    args = ["--url", server.url, "--log-dir", str(logs), "--device", "pulse"]
    listening = Listening(args, env)
    listening.wait_for("listening", lambda: any("listening on" in x for x in listening.stderr))
    return listening


def retry(
    server: RealtimeServer, env: dict[str, str], logs: Path
) -> subprocess.CompletedProcess[str]:
    return run_cli(["retry", "--url", server.url, "--log-dir", str(logs)], env)


def pending(env: dict[str, str]) -> list[str]:
    result = run_cli(["pending"], env)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return result.stdout.splitlines()


@contextlib.contextmanager
def playing(wav: Path, pulse: dict[str, str]) -> Iterator[None]:
    player = threading.Thread(target=play, args=(wav, pulse))
    player.start()
    try:
        yield
    finally:
        player.join()


@pytest.mark.desktop
@needs_portaudio
def test_spool_kill_9_mid_sentence_then_retry_logs_every_word_once_at_its_spoken_time(
    virtual_mic: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    wav = tones_wav(tmp_path / "words.wav", [1.5, 5.0])
    env, logs = listen_env(virtual_mic, tmp_path), tmp_path / "logs"
    with RealtimeServer(transcripts=by_pitch) as server:
        listening = start(server, env, logs)
        with playing(wav, virtual_mic):
            listening.wait_for("alpha", lambda: "alpha" in listening.finals)
            listening.wait_for("bravo begins", lambda: listening.markers.count(STARTED) >= 2)
            time.sleep(2.0)  # mid-sentence, past the spool's one-second sync
            killed_at = datetime.now()
            listening.process.send_signal(signal.SIGKILL)
            assert listening.finish() == -signal.SIGKILL
    assert [text for _, text in log_entries(logs)] == ["alpha"]
    (line,) = pending(env)
    assert line.endswith("tray-stt stopped before it was transcribed"), line

    with RealtimeServer(transcripts=by_pitch) as server:
        result = retry(server, env, logs)
        assert server.violations == []
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    entries = log_entries(logs)
    assert [text for _, text in entries] == ["alpha", "bravo"]  # each word exactly once
    # bravo's time is when it was spoken (before the kill), not when it was retried
    assert entries[0][0] <= entries[1][0] < f"{killed_at:%H:%M:%S}"
    assert pending(env) == []
    assert retry(RealtimeServer(), env, logs).returncode == 0  # none left: nothing to do


@pytest.mark.desktop
@needs_portaudio
def test_spool_no_credit_for_three_utterances_then_credit_back_logs_all_three(
    virtual_mic: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    wav = tones_wav(tmp_path / "words.wav", [1.2, 1.2, 1.2])
    env, logs = listen_env(virtual_mic, tmp_path), tmp_path / "logs"
    failed = "conversation.item.input_audio_transcription.failed"
    with RealtimeServer(transcripts=by_pitch, fail_items=dict.fromkeys(range(3), QUOTA)) as server:
        listening = start(server, env, logs)
        with playing(wav, virtual_mic):
            listening.wait_for(
                "three failures",
                lambda: sum(len(c.events(failed)) for c in server.connections) >= 3,
            )
        code = listening.interrupt()
    # No credit is said once, with where to add it, and listening went on (exit 4 at the end).
    said = [x for x in listening.stderr if "no credit left" in x]
    assert len(said) == 1 and "is kept" in said[0], listening.stderr
    assert code == 4, listening.stderr
    assert not (logs / f"{datetime.now():%Y-%m-%d}.txt").exists()
    lines = pending(env)
    assert len(lines) == 3 and all("current quota" in line for line in lines), lines
    spoken = [line[11:19] for line in lines]
    assert spoken == sorted(spoken) and len(set(spoken)) == 3

    with RealtimeServer(transcripts=by_pitch) as server:
        result = retry(server, env, logs)
    assert result.returncode == 0, result.stderr
    entries = log_entries(logs)
    assert [text for _, text in entries] == ["alpha", "bravo", "charlie"]
    assert [clock for clock, _ in entries] == spoken  # the times they were spoken
    assert pending(env) == []


@pytest.mark.desktop
@needs_portaudio
def test_listen_retries_what_failed_for_want_of_credit_by_itself_once_credit_is_back(
    virtual_mic: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    """The user story inside one `tray-stt listen`: three utterances fail for want of credit,
    credit is added, the next is transcribed, and the three follow by themselves, each once, at
    the time it was spoken; nothing is left pending and it exits 0."""
    wav = tones_wav(tmp_path / "words.wav", [1.2, 1.2, 1.2, 1.2])
    env, logs = listen_env(virtual_mic, tmp_path), tmp_path / "logs"
    with RealtimeServer(transcripts=by_pitch, fail_items=dict.fromkeys(range(3), QUOTA)) as server:
        listening = start(server, env, logs)
        with playing(wav, virtual_mic):
            pass
        listening.wait_for("every word logged", lambda: len(listening.finals) >= 4)
        code = listening.interrupt()
        assert server.violations == []
    assert code == 0, listening.stderr
    entries = log_entries(logs)
    assert sorted(text for _, text in entries) == ["alpha", "bravo", "charlie", "delta"]
    times = dict((text, clock) for clock, text in entries)
    order = [times[word] for word in ("alpha", "bravo", "charlie", "delta")]
    assert order == sorted(order) and len(set(order)) == 4  # spoken times, not retry times
    assert any("Transcribed 3 pending recordings" in line for line in listening.stderr)
    assert pending(env) == []


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs (about five seconds of audio) as the XDG state directory."""
    mount = tmp_path / "state"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs for a full disk: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.desktop
@needs_portaudio
def test_spool_on_a_full_disk_says_so_once_and_listening_goes_on(
    virtual_mic: dict[str, str],  # noqa: F811
    tmp_path: Path,
    full_disk: Path,
) -> None:
    wav = tones_wav(tmp_path / "words.wav", [2.0, 2.0, 2.0])
    env, logs = listen_env(virtual_mic, tmp_path), tmp_path / "logs"
    env["XDG_STATE_HOME"] = str(full_disk)
    # Transcripts come late, so the spool holds the audio long enough to fill the disk.
    with RealtimeServer(transcripts=by_pitch, completion_delay=4.0) as server:
        listening = start(server, env, logs)
        with playing(wav, virtual_mic):
            listening.wait_for("three words", lambda: len(listening.finals) >= 3)
        code = listening.interrupt()
    assert code == 0, listening.stderr
    full = [x for x in listening.stderr if "Cannot write the audio spool" in x]
    assert len(full) == 1 and "No space left on device" in full[0], listening.stderr
    assert "Traceback" not in "".join(listening.stderr), "\n".join(listening.stderr[-40:])
    assert listening.finals == ["alpha", "bravo", "charlie"]
    assert [text for _, text in log_entries(logs)] == ["alpha", "bravo", "charlie"]
