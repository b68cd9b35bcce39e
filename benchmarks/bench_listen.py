"""Benchmark of ``tray-stt listen``: CPU and memory while streaming live, local end-of-turn delay.

The microphone is a private PulseAudio daemon's null-sink monitor (as in
tests/app/test_listen_e2e.py) into which paplay speaks espeak-ng sentences in real time, over and
over. It sends to tray-stt as often as tray-stt asks, as a microphone nobody else records from
does; one more run in silence shares it with a recorder that keeps it at 12.5 ms packets (a call
or a recording program open at the same time), where libpulse's thread wakes ~90 times a second.
CPU and memory are read from /proc for the listening process alone; the loopback server runs
in this process, which notes when each client frame arrives. End of speech -> commit is measured
on those arrival times: from the last loud sample the server received before a commit to the
commit itself.

Run: .venv/bin/python -m benchmarks.bench_listen   (prints a table; asserts nothing)
"""

from __future__ import annotations

import base64
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from tests.support.audio_samples import spoken_wav
from tests.support.realtime_server import RealtimeServer, connection
from tests.support.virtual_audio import virtual_microphone
from tray_stt.audio.vad import LocalTurns

ROOT = Path(__file__).resolve().parent.parent

SENTENCES = [
    "Hello from the tray.",
    "This is the second sentence.",
    "And a third one to finish.",
    "The quick brown fox jumps over the lazy dog.",
    "Speech recognition runs in real time.",
]
WARMUP_S = 4.0
MEASURE_S = 40.0
LOUD = 300  # |sample| above this is speech: espeak-ng pauses are digital silence
TICKS = os.sysconf("SC_CLK_TCK")

Arrival = tuple[float, str]  # monotonic time, raw client frame


@contextmanager
def timed_frames() -> Iterator[list[Arrival]]:
    """Note the arrival time of every client frame the loopback server receives."""
    arrivals: list[Arrival] = []
    original = connection.RealtimeSession._on_frame

    def on_frame(self: Any, message: str | bytes) -> None:
        arrivals.append((time.monotonic(), message if isinstance(message, str) else ""))
        original(self, message)

    connection.RealtimeSession._on_frame = on_frame  # type: ignore[method-assign]
    try:
        yield arrivals
    finally:
        connection.RealtimeSession._on_frame = original  # type: ignore[method-assign]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def memory_mb(pid: int) -> tuple[float, float]:
    """(resident, of which private anonymous memory) in MB; the rest is mapped library code."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(status["VmRSS"].split()[0]) / 1024, int(status["RssAnon"].split()[0]) / 1024


def speak_repeatedly(wav: Path, env: dict[str, str], stop: threading.Event) -> None:
    """Play `wav` into the virtual microphone again and again until `stop`."""
    while not stop.is_set():
        subprocess.run(["paplay", "--device=vmic", str(wav)], env=env, check=True)


def run_mode(
    wav: Path | None, pulse: dict[str, str], home: Path, extra: list[str]
) -> tuple[dict[str, float], list[Arrival]]:
    """Listen while speech plays (silence when ``wav`` is None); CPU % and memory of the
    listening process, Ctrl+C to exit."""
    env = {**pulse, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "cfg")}
    env["OPENAI_API_KEY"] = "test-key"
    with timed_frames() as arrivals, RealtimeServer(transcripts=lambda pcm: "words") as server:
        command = [sys.executable, "-m", "tray_stt", "listen", "--url", server.url, "--no-log"]
        listening = subprocess.Popen(
            [*command, "--device", "pulse", *extra],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert listening.stderr is not None
        first = listening.stderr.readline()  # "listening on ...": the device is open
        assert "listening on" in first, first + listening.stderr.read()
        stop = threading.Event()
        player = threading.Thread(
            target=speak_repeatedly if wav is not None else stop.wait,
            args=(wav, pulse, stop) if wav is not None else (),
        )
        player.start()
        time.sleep(WARMUP_S)
        cpu0, wall0 = cpu_seconds(listening.pid), time.monotonic()
        time.sleep(MEASURE_S)
        cpu1, wall1 = cpu_seconds(listening.pid), time.monotonic()
        rss, anon = memory_mb(listening.pid)
        stop.set()
        player.join()
        interrupted = time.monotonic()
        listening.send_signal(signal.SIGINT)
        try:
            _, errors = listening.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.system(f"{ROOT}/.venv/bin/py-spy dump --pid {listening.pid} >&2")
            raise
        stop_s = time.monotonic() - interrupted
        violations = list(server.violations)
    if violations:
        print(f"server violations: {violations[:3]}", file=sys.stderr)
    if listening.returncode != 0:
        print(f"listen exited {listening.returncode}: {errors[-300:]}", file=sys.stderr)
    cpu = (cpu1 - cpu0) / (wall1 - wall0) * 100
    return {"cpu": cpu, "rss": rss, "anon": anon, "stop": stop_s}, list(arrivals)


def end_of_speech_to_commit(arrivals: list[Arrival]) -> list[float]:
    """Seconds from the last loud sample before each commit to that commit's arrival."""
    delays: list[float] = []
    speech_end: float | None = None
    for when, text in arrivals:
        event = json.loads(text) if text else {}
        if event.get("type") == "input_audio_buffer.append":
            pcm = np.frombuffer(base64.b64decode(event["audio"]), dtype="<i2")
            loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > LOUD)
            if loud.size:
                # The chunk was sent when it was complete: its last sample is "now".
                speech_end = when - (len(pcm) - 1 - loud[-1]) / 24000
        elif event.get("type") == "input_audio_buffer.commit" and speech_end is not None:
            delays.append(when - speech_end)
            speech_end = None
    return delays


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        spoken_wav(wav, SENTENCES, gap_s=1.5)
        (Path(tmp) / "pulse").mkdir()
        (Path(tmp) / "home").mkdir()
        (Path(tmp) / "shared").mkdir()
        home = Path(tmp) / "home"
        with virtual_microphone(Path(tmp) / "pulse", feed_latency_ms=400) as pulse:
            quiet, _ = run_mode(None, pulse, home, [])
            server, _ = run_mode(wav, pulse, home, [])
            local_args = ["--model", "gpt-live-transcribe", "--turn", "local"]
            local, arrivals = run_mode(wav, pulse, home, local_args)
        with virtual_microphone(Path(tmp) / "shared", feed_latency_ms=50) as pulse:
            shared, _ = run_mode(None, pulse, home, [])
    delays = end_of_speech_to_commit(arrivals)
    turns = LocalTurns.__init__.__kwdefaults__ or {}
    silence_ms, hangover_ms = turns["end_silence_ms"], turns["hangover_ms"]
    median_ms = statistics.median(delays) * 1000 if delays else float("nan")
    rows = [
        ("CPU % of one core, server VAD, silence", quiet["cpu"], "<= 1"),
        ("CPU % of one core, server VAD", server["cpu"], "<= 1"),
        ("CPU % of one core, local VAD (Silero)", local["cpu"], "<= 4"),
        ("CPU %, server VAD, silence, source kept at 12.5 ms", shared["cpu"], "(info)"),
        ("resident memory MB, server VAD", server["rss"], "<= 60"),
        ("  of which private (not library code) MB", server["anon"], "(info)"),
        ("resident memory MB, local VAD", local["rss"], "<= 60"),
        ("  of which private (not library code) MB", local["anon"], "(info)"),
        ("local: end of speech -> commit sent, median ms", median_ms, "(info)"),
        (f"  configured end-of-turn silence ms ({hangover_ms} ms hangover sent)", silence_ms, ""),
        ("  detection + processing, median ms", median_ms - silence_ms, "(info)"),
        ("Ctrl+C -> exit ms, server VAD", server["stop"] * 1000, "(info)"),
        ("Ctrl+C -> exit ms, local VAD", local["stop"] * 1000, "(info)"),
    ]
    print(
        f"{MEASURE_S:.0f} s of espeak-ng speech (1.5 s pauses) per mode, captured from PulseAudio"
        f" at 24 kHz; {len(delays)} local turns; load average {os.getloadavg()[0]:.2f}"
    )
    print(f"{'measure':<60} {'value':>8}  target")
    print("-" * 80)
    for name, value, target in rows:
        print(f"{name:<60} {value:>8.1f}  {target}")


if __name__ == "__main__":
    main()
