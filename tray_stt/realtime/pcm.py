"""The audio format the realtime API takes, defined once: 24 kHz mono PCM16 little-endian.

See docs/protocol.md for where each limit comes from.
"""

from __future__ import annotations

from tray_stt.errors import ConfigError

SAMPLE_RATE = 24_000
"""Samples per second the API expects (``audio/pcm`` at rate 24000, mono, 16-bit LE)."""

BYTES_PER_MS = SAMPLE_RATE * 2 // 1000
"""Bytes of PCM16 mono audio per millisecond: 48."""

MIN_CHUNK_MS = 20
"""Shortest audio chunk a source may send per append, in milliseconds."""

MAX_CHUNK_MS = 100
"""Longest audio chunk a source may send per append, in milliseconds."""

MIN_COMMIT_BYTES = 100 * BYTES_PER_MS
"""The server refuses to commit a buffer shorter than 100 ms."""

MAX_APPEND_BYTES = 1000 * BYTES_PER_MS
"""One second per ``input_audio_buffer.append`` when audio is replayed after a reconnect."""


def checked_chunk_ms(chunk_ms: int) -> int:
    """``chunk_ms`` if a source may use it; ConfigError (it is a user setting) if not."""
    if not MIN_CHUNK_MS <= chunk_ms <= MAX_CHUNK_MS:
        raise ConfigError(
            f"The audio chunk length must be {MIN_CHUNK_MS}-{MAX_CHUNK_MS} ms, not {chunk_ms}."
        )
    return chunk_ms


def peak(pcm: bytes) -> int:
    """The largest absolute sample of PCM16 audio (0 for none): how loud it is at most."""
    samples = memoryview(pcm[: len(pcm) & ~1]).cast("h")  # native order: little-endian hosts
    if not samples:
        return 0
    return max(max(samples), -min(samples))


def duration_s(pcm_bytes: int) -> float:
    """Seconds of audio in ``pcm_bytes`` bytes of PCM16 mono at 24 kHz."""
    return pcm_bytes / (BYTES_PER_MS * 1000)
