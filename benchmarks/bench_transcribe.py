"""Benchmarks of the realtime core: client CPU, fast-mode speed, completed-to-fsync latency.

The loopback server runs in a child process so its CPU is not counted as the client's.
Run: .venv/bin/python -m benchmarks.bench_transcribe   (prints a table; asserts nothing)
"""

from __future__ import annotations

import json
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np

from tests.support.audio_samples import silence, tone, write_wav
from tray_stt.audio.convert import paced
from tray_stt.audio.wav import open_wav
from tray_stt.realtime.endpoint import Endpoint
from tray_stt.realtime.events import Event, TranscriptCompleted
from tray_stt.realtime.models import TranscriptionSettings
from tray_stt.realtime.session import Session, SessionOptions
from tray_stt.realtime.transport import Transport, websocket_connect
from tray_stt.transcripts import DailyLog

RATE_IN = 44100  # a typical file or microphone rate: the client resamples it
COMPLETED = "conversation.item.input_audio_transcription.completed"


def serve(port_out: multiprocessing.connection.Connection) -> None:  # type: ignore[name-defined]
    """Child process: the loopback realtime server until killed."""
    from tests.support.realtime_server import RealtimeServer

    with RealtimeServer(completion_delay=0.0) as server:
        port_out.send(server.url)
        while True:
            time.sleep(3600)


def make_wav(path: Path, seconds: float) -> None:
    """Speech-like bursts: 1.2 s of tone, 0.8 s of silence, repeated."""
    parts = []
    for index in range(int(seconds / 2)):
        parts += [tone(300 + 20 * (index % 10), 1.2, RATE_IN), silence(0.8, RATE_IN)]
    write_wav(path, np.concatenate(parts), RATE_IN)


class TimedTransport:
    """Wraps a transport to note when each ``completed`` frame arrived."""

    def __init__(self, inner: Transport, arrivals: dict[str, float]) -> None:
        self._inner = inner
        self._arrivals = arrivals

    def send(self, text: str) -> None:
        self._inner.send(text)

    def receive(self) -> str:
        text = self._inner.receive()
        if COMPLETED in text:
            self._arrivals[json.loads(text)["item_id"]] = time.perf_counter()
        return text

    def close(self) -> None:
        self._inner.close()

    def abort(self) -> None:
        self._inner.abort()


def run_once(url: str, wav_path: Path, log_dir: Path, *, realtime: bool) -> dict[str, float]:
    arrivals: dict[str, float] = {}
    latencies: list[float] = []
    log = DailyLog(log_dir)

    def sink(event: Event) -> None:
        if isinstance(event, TranscriptCompleted):
            log.append(event.text, event.started_at)
            latencies.append(time.perf_counter() - arrivals[event.item_id])

    def connect(url: str, headers: dict[str, str], timeout: float) -> Transport:
        return TimedTransport(websocket_connect(url, headers, timeout), arrivals)

    wav = open_wav(wav_path)
    options = SessionOptions(live_silence_ms=5000 if realtime else None)
    session = Session(
        Endpoint(url=url, api_key="test-key"),
        TranscriptionSettings(),
        sink,
        options=options,
        connect=connect,
        today=date.today(),
    )
    chunks: Iterator[bytes] = paced(wav.pcm_chunks(40), realtime=realtime)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    session.run(chunks, wait_ready=not realtime)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    log.close()
    return {
        "audio_s": wav.duration_s,
        "cpu_s": cpu,
        "wall_s": wall,
        "utterances": len(latencies),
        "latency_median_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "latency_p95_ms": (
            statistics.quantiles(latencies, n=20)[-1] * 1000 if len(latencies) > 1 else float("nan")
        ),
    }


def main() -> None:
    receiver, sender = multiprocessing.Pipe(duplex=False)
    server = multiprocessing.Process(target=serve, args=(sender,), daemon=True)
    server.start()
    url = receiver.recv()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            long_wav, short_wav = Path(tmp) / "long.wav", Path(tmp) / "short.wav"
            make_wav(long_wav, 600)
            make_wav(short_wav, 20)
            fast = run_once(url, long_wav, Path(tmp) / "logs", realtime=False)
            live = run_once(url, short_wav, Path(tmp) / "logs", realtime=True)
    finally:
        server.kill()
    rows = [
        (
            "client CPU s per audio minute, fast mode",
            fast["cpu_s"] / fast["audio_s"] * 60,
            "<= 0.3",
        ),
        (
            "client CPU s per audio minute, real time",
            live["cpu_s"] / live["audio_s"] * 60,
            "<= 0.3",
        ),
        ("fast mode speed (x real time)", fast["audio_s"] / fast["wall_s"], ">= 200"),
        ("completed -> fsynced, median ms", fast["latency_median_ms"], "<= 2"),
        ("completed -> fsynced, p95 ms", fast["latency_p95_ms"], "(info)"),
        ("completed -> fsynced, median ms, real time", live["latency_median_ms"], "<= 2"),
    ]
    print(
        f"audio: {fast['audio_s']:.0f} s fast ({fast['utterances']} utterances), "
        f"{live['audio_s']:.0f} s real time; input {RATE_IN} Hz resampled to 24 kHz"
    )
    print(f"{'measure':<44} {'value':>10}  target")
    print("-" * 66)
    for name, value, target in rows:
        print(f"{name:<44} {value:>10.3f}  {target}")


if __name__ == "__main__":
    main()
