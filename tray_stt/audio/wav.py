"""Audio for the realtime API: WAV files decoded to 24 kHz mono PCM16, resampled, chunked and paced.

The microphone source lives elsewhere and reuses `Resampler` and `Rechunker` from here.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from tray_stt.errors import AudioInputError, ConfigError
from tray_stt.realtime.journal import (
    BYTES_PER_MS as BYTES_PER_MS,  # the one definition, re-exported
)

SAMPLE_RATE = 24_000
"""The sample rate the realtime API expects (mono PCM16 little-endian)."""

MIN_CHUNK_MS = 20
"""Shortest chunk `WavFile.pcm_chunks` accepts, in milliseconds."""

MAX_CHUNK_MS = 100
"""Longest chunk `WavFile.pcm_chunks` accepts, in milliseconds."""

MIN_FILE_RATE = 8_000
"""Lowest sample rate `open_wav` accepts, in Hz."""

MAX_FILE_RATE = 192_000
"""Highest sample rate `open_wav` accepts, in Hz."""

_FORMAT_PCM = 0x0001
_FORMAT_FLOAT = 0x0003
_FORMAT_EXTENSIBLE = 0xFFFE
# Every KSDATAFORMAT_SUBTYPE_* GUID is the 16-bit format tag followed by these 14 bytes.
_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
_COMPRESSED_NAMES = {
    0x0002: "Microsoft ADPCM",
    0x0006: "A-law",
    0x0007: "mu-law",
    0x0011: "IMA ADPCM",
    0x0031: "GSM 6.10",
    0x0050: "MPEG",
    0x0055: "MP3",
    0x00FF: "AAC",
    0x2000: "AC-3",
    0xF1AC: "FLAC",
}
# Other containers people mistake for WAV, recognised by their first bytes, to name them in errors.
_MAGIC_NAMES = (
    (b"ID3", "MP3"),
    (b"\xff\xfb", "MP3"),
    (b"\xff\xf3", "MP3"),
    (b"\xff\xf2", "MP3"),
    (b"fLaC", "FLAC"),
    (b"OggS", "Ogg"),
    (b"FORM", "AIFF"),
    (b"\x1aE\xdf\xa3", "WebM/Matroska"),
    (b"RIFX", "big-endian RIFX WAV"),
)
_ACCEPTED = "PCM 8/16/24/32-bit or float 32/64-bit WAV files"
_READ_BLOCK_BYTES = 1 << 16
_UNKNOWN_SIZE = 0xFFFFFFFF  # RF64, and writers that could not seek back, leave this in "data"


@dataclass(frozen=True)
class WavFile:
    """A parsed WAV header; `pcm_chunks` streams its audio as 24 kHz mono PCM16."""

    path: str
    sample_rate: int
    channels: int
    sample_width: int
    is_float: bool
    frames: int
    data_offset: int

    @property
    def duration_s(self) -> float:
        """Length of the audio in seconds."""
        return self.frames / self.sample_rate

    def pcm_chunks(self, chunk_ms: int = 40) -> Iterator[bytes]:
        """Yield `chunk_ms` chunks of 24 kHz mono PCM16 LE; the last may be shorter, never empty.

        Raises ConfigError (at the call, not at the first `next`) unless 20 <= chunk_ms <= 100,
        since the value normally comes from the user's configuration.
        """
        if not MIN_CHUNK_MS <= chunk_ms <= MAX_CHUNK_MS:
            raise ConfigError(
                f"The audio chunk length must be {MIN_CHUNK_MS}-{MAX_CHUNK_MS} ms, not {chunk_ms}."
            )
        return self._chunks(chunk_ms * BYTES_PER_MS)

    def _chunks(self, chunk_bytes: int) -> Iterator[bytes]:
        resampler = Resampler(self.sample_rate)
        rechunker = Rechunker(chunk_bytes)
        for block in self._mono_blocks():
            yield from rechunker.push(resampler.process(block))
        yield from rechunker.push(resampler.flush())
        rest = rechunker.flush()
        if rest:
            yield rest

    def _mono_blocks(self) -> Iterator[bytes]:
        frame_bytes = self.channels * self.sample_width
        frames_per_block = max(1, _READ_BLOCK_BYTES // frame_bytes)
        remaining = self.frames
        try:
            with open(self.path, "rb") as f:
                f.seek(self.data_offset)
                while remaining > 0:
                    count = min(remaining, frames_per_block)
                    raw = f.read(count * frame_bytes)
                    got = len(raw) // frame_bytes
                    if got == 0:
                        return  # the file shrank since it was opened: what is there is played
                    remaining -= got
                    yield _to_mono_int16(raw[: got * frame_bytes], self).tobytes()
        except OSError as e:
            raise AudioInputError(f"Cannot read the audio file {self.path}: {_cause(e)}.") from e


def open_wav(path: str | os.PathLike[str]) -> WavFile:
    """Parse the header of a WAV file; raise AudioInputError with one sentence if it is unusable."""
    name = os.fspath(path)
    if os.path.isdir(name):
        raise AudioInputError(f"{name} is a directory, not a WAV file.")
    try:
        with open(name, "rb") as f:
            return _parse(f, name, os.fstat(f.fileno()).st_size)
    except FileNotFoundError as e:
        raise AudioInputError(f"The audio file {name} does not exist.") from e
    except PermissionError as e:
        raise AudioInputError(f"Cannot read the audio file {name}: permission denied.") from e
    except OSError as e:
        raise AudioInputError(f"Cannot read the audio file {name}: {_cause(e)}.") from e
    except ValueError as e:  # open() refuses names with an embedded NUL byte
        raise AudioInputError(f"{name!r} is not a valid file name.") from e


@dataclass(frozen=True)
class _Format:
    sample_rate: int
    channels: int
    sample_width: int
    is_float: bool


def _parse(f: BinaryIO, name: str, size: int) -> WavFile:
    head = f.read(12)
    if not head:
        raise AudioInputError(f"The audio file {name} is empty: it contains no audio.")
    if head[:4] not in (b"RIFF", b"RF64", b"BW64") or head[8:12] != b"WAVE":
        if len(head) < 12 and b"RIFF".startswith(head[:4]):
            raise AudioInputError(f"{name} is truncated: its WAV header is incomplete.")
        raise AudioInputError(_not_wav_message(name, head))
    fmt: _Format | None = None
    data: tuple[int, int] | None = None
    while fmt is None or data is None:
        chunk = f.read(8)
        if len(chunk) < 8:
            break
        chunk_id, chunk_size = chunk[:4], int.from_bytes(chunk[4:], "little")
        start = f.tell()
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(f.read(min(chunk_size, 64)), chunk_size, name)
        elif chunk_id == b"data":
            data = (start, _data_size(chunk_size, start, size))
        # Chunks are padded to an even length; skipping past the end of the file ends the loop.
        f.seek(start + chunk_size + (chunk_size & 1))
    return _assemble(name, fmt, data)


def _assemble(name: str, fmt: _Format | None, data: tuple[int, int] | None) -> WavFile:
    if fmt is None:
        raise AudioInputError(f"{name} is truncated: its WAV header has no audio format chunk.")
    frames = 0 if data is None else data[1] // (fmt.channels * fmt.sample_width)
    # Under half a sample at 24 kHz resamples to nothing, and a source must yield some audio.
    if data is None or frames * 2 * SAMPLE_RATE < fmt.sample_rate:
        raise AudioInputError(f"The WAV file {name} contains no audio.")
    return WavFile(
        path=name,
        sample_rate=fmt.sample_rate,
        channels=fmt.channels,
        sample_width=fmt.sample_width,
        is_float=fmt.is_float,
        frames=frames,
        data_offset=data[0],
    )


def _data_size(declared: int, start: int, file_size: int) -> int:
    available = max(0, file_size - start)
    # A recording cut short still plays up to where it stops, as every player does.
    return available if declared == _UNKNOWN_SIZE else min(declared, available)


def _parse_fmt(body: bytes, declared: int, name: str) -> _Format:
    if declared < 16 or len(body) < 16:
        raise AudioInputError(f"{name} is truncated: its WAV format chunk is incomplete.")
    tag, channels, rate, _, block_align, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == _FORMAT_EXTENSIBLE:
        tag = _extensible_subformat(body, name)
    if tag not in (_FORMAT_PCM, _FORMAT_FLOAT):
        codec = _COMPRESSED_NAMES.get(tag, "an unknown codec")
        raise AudioInputError(
            f"{name} is compressed with {codec} (WAV format tag 0x{tag:04X}), but only {_ACCEPTED}"
            f" can be read: convert it with `sox {name} -e signed -b 16 out.wav`."
        )
    if channels == 0:
        raise AudioInputError(f"{name} is damaged: its WAV header declares zero channels.")
    if not MIN_FILE_RATE <= rate <= MAX_FILE_RATE:
        raise AudioInputError(
            f"{name} has a sample rate of {rate} Hz; only {MIN_FILE_RATE}-{MAX_FILE_RATE} Hz"
            f" can be read: convert it with `sox {name} -r 24000 out.wav`."
        )
    width = _sample_width(block_align, channels, bits)
    is_float = tag == _FORMAT_FLOAT
    if width not in ((4, 8) if is_float else (1, 2, 3, 4)):
        kind = "float" if is_float else "integer PCM"
        raise AudioInputError(
            f"{name} uses {bits}-bit {kind} samples, but only {_ACCEPTED} can be read:"
            f" convert it with `sox {name} -e signed -b 16 out.wav`."
        )
    return _Format(rate, channels, width, is_float)


def _extensible_subformat(body: bytes, name: str) -> int:
    if len(body) < 40:
        raise AudioInputError(f"{name} is truncated: its WAVE_FORMAT_EXTENSIBLE header is cut.")
    guid = body[24:40]
    if guid[2:] != _GUID_TAIL:
        raise AudioInputError(
            f"{name} uses an unknown WAVE_FORMAT_EXTENSIBLE subformat; only {_ACCEPTED} can be"
            f" read: convert it with `sox {name} -e signed -b 16 out.wav`."
        )
    return int.from_bytes(guid[:2], "little")


def _sample_width(block_align: int, channels: int, bits: int) -> int:
    # The container width (block_align / channels) is what is on disk; bits may be fewer, e.g.
    # 20 valid bits left-justified in 3 bytes, which decode correctly as the wider container.
    if block_align and block_align % channels == 0:
        return block_align // channels
    return (bits + 7) // 8


def _to_mono_int16(raw: bytes, wav: WavFile) -> npt.NDArray[np.int16]:
    """Decode interleaved frames to mono int16: average the channels, scale, round and clip."""
    if wav.sample_width == 2 and wav.channels == 1 and not wav.is_float:
        return np.frombuffer(raw, dtype="<i2").astype(np.int16)
    samples = _to_float(raw, wav.sample_width, wav.is_float)
    mono: npt.NDArray[np.float64] = samples.reshape(-1, wav.channels).mean(axis=1)
    scaled = np.clip(np.rint(mono * 32768.0), -32768.0, 32767.0)
    return scaled.astype(np.int16)


def _to_float(raw: bytes, width: int, is_float: bool) -> npt.NDArray[np.float64]:
    """Samples as float64 in [-1, 1) (integers) or as stored (floats, NaN made silent)."""
    if is_float:
        values = np.frombuffer(raw, dtype="<f4" if width == 4 else "<f8").astype(np.float64)
        return np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=-1.0)
    if width == 1:  # 8-bit WAV is the one unsigned format
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    if width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        # Shift the 24 bits to the top of an int32 so the sign extends, then back down.
        packed = (b[:, 0] << 8) | (b[:, 1] << 16) | (b[:, 2] << 24)
        return (packed >> 8).astype(np.float64) / float(1 << 23)
    dtype = "<i2" if width == 2 else "<i4"
    return np.frombuffer(raw, dtype=dtype).astype(np.float64) / float(1 << (8 * width - 1))


def _not_wav_message(name: str, head: bytes) -> str:
    kind = next((label for magic, label in _MAGIC_NAMES if head.startswith(magic)), None)
    looks = f"it looks like {kind}" if kind else "it does not start with a RIFF/WAVE header"
    return (
        f"{name} is not a WAV file ({looks}); tray-stt reads {_ACCEPTED}:"
        f" convert it with `sox in.mp3 out.wav` or `ffmpeg -i in.mp3 out.wav`."
    )


def _cause(e: OSError) -> str:
    return (e.strerror or str(e)).rstrip(".").lower()


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
        delay = start + sent_bytes / (BYTES_PER_MS * 1000) - now
        if delay > 0:
            sleep(delay)
        yield chunk
        sent_bytes += len(chunk)
