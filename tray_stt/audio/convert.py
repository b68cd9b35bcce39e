"""Decoded audio on its way to the API: channel downmix, resampling to 24 kHz, chunks, pacing.

Shared by every source (files and the microphone), so each step is written once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from tray_stt.realtime.pcm import SAMPLE_RATE, duration_s

if TYPE_CHECKING:  # numpy is imported where it is used: 24 kHz mono capture never loads it
    import numpy as np
    import numpy.typing as npt


def downmix(samples: npt.NDArray[Any], channels: int) -> npt.NDArray[np.float64]:
    """The mean of the interleaved ``channels`` of ``samples``, one value per frame."""
    mono: npt.NDArray[np.float64] = samples.reshape(-1, channels).mean(axis=1)
    return mono


class Resampler:
    """Streaming, stateful resampler of mono PCM16 to 24 kHz (soxr HQ); passthrough at 24 kHz."""

    def __init__(self, in_rate: int) -> None:
        """Resample from `in_rate` Hz; a ValueError means the caller passed a nonsensical rate."""
        if in_rate <= 0:
            raise ValueError(f"in_rate must be positive, got {in_rate}")
        self.in_rate = in_rate
        self._pending = b""  # an odd trailing byte, half a sample, waits for its other half
        self._stream: Any = self._new_stream()

    def _new_stream(self) -> Any:
        if self.in_rate == SAMPLE_RATE:
            return None
        import soxr  # imported here so that 24 kHz input never loads the extension

        return soxr.ResampleStream(self.in_rate, SAMPLE_RATE, 1, dtype="int16", quality="HQ")

    def process(self, pcm: bytes) -> bytes:
        """Resample the next piece of the signal; output lags input by the filter delay."""
        return self._run(pcm, last=False)

    def flush(self) -> bytes:
        """Return the delayed tail of the signal and reset, ready for a new signal."""
        out = self._run(b"", last=True)
        self._pending = b""
        # A fresh stream rather than clear(): clear() keeps soxr's rounding state, so the same
        # input would not give byte-identical output the second time.
        self._stream = self._new_stream()
        return out

    def _run(self, pcm: bytes, *, last: bool) -> bytes:
        data = self._pending + pcm
        even = len(data) & ~1
        self._pending = data[even:]
        if self._stream is None:
            return data[:even]
        import numpy as np

        samples = np.frombuffer(data[:even], dtype="<i2").astype(np.int16)
        out = self._stream.resample_chunk(samples, last=last)
        return np.asarray(out, dtype="<i2").tobytes()


class Rechunker:
    """Cuts a byte stream into chunks of exactly `chunk_bytes` (an even number: whole samples)."""

    def __init__(self, chunk_bytes: int) -> None:
        """Chunk to `chunk_bytes`; ValueError unless it is a positive even number."""
        if chunk_bytes <= 0 or chunk_bytes % 2:
            raise ValueError(f"chunk_bytes must be a positive even number, got {chunk_bytes}")
        self.chunk_bytes = chunk_bytes
        self._buffer = bytearray()

    def push(self, data: bytes) -> list[bytes]:
        """Add data; return every chunk that is now complete, oldest first."""
        self._buffer += data
        full = len(self._buffer) - len(self._buffer) % self.chunk_bytes
        if not full:
            return []
        chunks = [
            bytes(self._buffer[i : i + self.chunk_bytes]) for i in range(0, full, self.chunk_bytes)
        ]
        del self._buffer[:full]
        return chunks

    def flush(self) -> bytes:
        """Return the incomplete remainder (whole samples only; a dangling odd byte is dropped)."""
        rest = bytes(self._buffer[: len(self._buffer) & ~1])
        self._buffer.clear()
        return rest


def paced(
    chunks: Iterable[bytes],
    *,
    realtime: bool,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
) -> Iterator[bytes]:
    """Yield 24 kHz PCM16 chunks, in realtime no earlier than their audio start time."""
    if not realtime:
        yield from chunks
        return
    start: float | None = None
    sent_bytes = 0
    for chunk in chunks:
        now = clock()
        if start is None:
            start = now
        # Each deadline is counted from the absolute start, so sleep overshoot never accumulates.
        delay = start + duration_s(sent_bytes) - now
        if delay > 0:
            sleep(delay)
        yield chunk
        sent_bytes += len(chunk)
