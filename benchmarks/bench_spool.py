"""The audio spool's cost per minute of audio: CPU, fsyncs, bytes written and kept on disk.

The spool is fed 40 ms chunks of 24 kHz PCM16 as a microphone delivers them, with a clock that
advances 40 ms a chunk (so the once-a-second fsync happens as it would live) but no waiting:

- listening: an utterance is logged and settled every 5 s, so segments are deleted as it goes;
- no credit: nothing is ever settled, everything stays on disk;
- pending scan: reading the no-credit spool back (``tray-stt pending``, then the audio a retry
  sends).

Run: .venv/bin/python -m benchmarks.bench_spool [--minutes 5] [--dir DIR]  (prints a table)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from tray_stt.realtime.pcm import BYTES_PER_MS
from tray_stt.spool.pending import read_audio, read_run
from tray_stt.spool.store import Spool, segments

CHUNK_MS = 40
CHUNK = (bytes(range(256)) * 8)[: CHUNK_MS * BYTES_PER_MS]
PCM_PER_MINUTE = 60_000 * BYTES_PER_MS


class Counter:
    """Counts os.fsync calls and bytes passed to os.write while installed."""

    def __init__(self) -> None:
        self.fsyncs = 0
        self.written = 0
        self._fsync, self._write = os.fsync, os.write

    def __enter__(self) -> Counter:
        def fsync(fd: int) -> None:
            self.fsyncs += 1
            self._fsync(fd)

        def write(fd: int, data: bytes | memoryview) -> int:
            done = self._write(fd, data)
            self.written += done
            return done

        os.fsync, os.write = fsync, write  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        os.fsync, os.write = self._fsync, self._write  # type: ignore[assignment]


def feed(directory: Path, minutes: float, *, settle_every_s: float | None) -> dict[str, float]:
    now = [0.0]
    spool = Spool(directory, max_bytes=0, report=print, clock=lambda: now[0])
    start = datetime.now().astimezone()
    chunks = int(minutes * 60_000 / CHUNK_MS)
    settle_every = None if settle_every_s is None else int(settle_every_s * 1000 / CHUNK_MS)
    peak = 0
    with Counter() as counter:
        cpu, wall = time.process_time(), time.perf_counter()
        for index in range(chunks):
            spool.append(CHUNK, start + timedelta(milliseconds=CHUNK_MS * index))
            now[0] += CHUNK_MS / 1000
            if settle_every and index % settle_every == settle_every - 1:
                spool.settle(max(spool.offset - 5000 * BYTES_PER_MS, 0), [])
                peak = max(peak, sum(p.stat().st_size for p in segments(spool.run)))
        spool.sync()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    on_disk = sum(p.stat().st_size for p in segments(spool.run))
    peak = max(peak, on_disk)
    spool.close()
    return {
        "cpu_ms": cpu * 1000 / minutes,
        "wall_ms": wall * 1000 / minutes,
        "fsyncs": counter.fsyncs / minutes,
        "written": counter.written / minutes,
        "kept": on_disk / minutes if settle_every is None else float(peak),
    }


def scan(directory: Path, minutes: float) -> dict[str, float]:
    (run,) = [p for p in directory.iterdir() if p.is_dir()]
    cpu = time.process_time()
    state = read_run(run)
    audio = sum(len(pcm) for _, pcm in read_audio(state))
    cpu = time.process_time() - cpu
    assert audio == int(minutes * 60_000 / CHUNK_MS) * len(CHUNK), audio
    return {"cpu_ms": cpu * 1000 / minutes, "parts": len(state.parts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--dir", type=Path, help="where to spool (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        listening = feed(Path(tmp) / "listening", args.minutes, settle_every_s=5.0)
        no_credit = feed(Path(tmp) / "no-credit", args.minutes, settle_every_s=None)
        read = scan(Path(tmp) / "no-credit", args.minutes)
    print(f"audio: {args.minutes:g} min of 24 kHz PCM16 in {CHUNK_MS} ms chunks")
    print(f"raw PCM: {PCM_PER_MINUTE / 1e6:.2f} MB per audio minute\n")
    print(
        f"{'case':<12} {'CPU ms/min':>11} {'fsync/min':>10} {'MB written/min':>15} {'on disk':>16}"
    )
    for name, row in (("listening", listening), ("no credit", no_credit)):
        kept = (
            f"{row['kept'] / 1e6:.2f} MB peak"
            if name == "listening"
            else f"{row['kept'] / 1e6:.2f} MB/min"
        )
        print(
            f"{name:<12} {row['cpu_ms']:>11.1f} {row['fsyncs']:>10.0f} "
            f"{row['written'] / 1e6:>15.3f} {kept:>16}"
        )
    print(f"{'scan back':<12} {read['cpu_ms']:>11.1f} {'-':>10} {'-':>15} {'-':>16}")
    print(f"\nCPU share while listening: {listening['cpu_ms'] / 600:.3f} % of one core")


if __name__ == "__main__":
    main()
