"""WAV files decoded to 24 kHz mono PCM16 chunks for the realtime API (a RIFF reader)."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from tray_stt.audio.convert import Rechunker, Resampler, downmix
from tray_stt.errors import AudioInputError
from tray_stt.realtime.pcm import BYTES_PER_MS, SAMPLE_RATE, checked_chunk_ms

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
    warnings: tuple[str, ...] = ()  # to tell the user before transcribing (a truncated file)

    @property
    def duration_s(self) -> float:
        """Length of the audio in seconds."""
        return self.frames / self.sample_rate

    @property
    def start_s(self) -> float:
        """Where the audio starts in the file's timeline: at once."""
        return 0.0

    @property
    def decoded_s(self) -> float:
        """The audio there is (the header said it before decoding)."""
        return self.duration_s

    def pcm_chunks(
        self, chunk_ms: int = 40, on_problem: Callable[[str], None] | None = None
    ) -> Iterator[bytes]:
        """Yield `chunk_ms` chunks of 24 kHz mono PCM16 LE; the last may be shorter, never empty.

        Raises ConfigError (at the call, not at the first `next`) unless 20 <= chunk_ms <= 100,
        since the value normally comes from the user's configuration. `on_problem` is unused:
        what can go wrong is found by `open_wav`, before any audio.
        """
        return self._chunks(checked_chunk_ms(chunk_ms) * BYTES_PER_MS)

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
    data: tuple[int, int, int] | None = None  # offset, bytes there, bytes the header declares
    while fmt is None or data is None:
        chunk = f.read(8)
        if len(chunk) < 8:
            break
        chunk_id, chunk_size = chunk[:4], int.from_bytes(chunk[4:], "little")
        start = f.tell()
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(f.read(min(chunk_size, 64)), chunk_size, name)
        elif chunk_id == b"data":
            data = (start, _data_size(chunk_size, start, size), chunk_size)
        # Chunks are padded to an even length; skipping past the end of the file ends the loop.
        f.seek(start + chunk_size + (chunk_size & 1))
    return _assemble(name, fmt, data)


def _assemble(name: str, fmt: _Format | None, data: tuple[int, int, int] | None) -> WavFile:
    if fmt is None:
        raise AudioInputError(f"{name} is truncated: its WAV header has no audio format chunk.")
    frame_bytes = fmt.channels * fmt.sample_width
    frames = 0 if data is None else data[1] // frame_bytes
    # Under half a sample at 24 kHz resamples to nothing, and a source must yield some audio.
    if data is None or frames * 2 * SAMPLE_RATE < fmt.sample_rate:
        raise AudioInputError(f"The WAV file {name} contains no audio.")
    warnings: tuple[str, ...] = ()
    declared = data[2]
    if declared not in (0, _UNKNOWN_SIZE) and declared > data[1]:
        promised = declared // frame_bytes / fmt.sample_rate
        warnings = (
            f"{name} is truncated: its header promises {_seconds(promised)} of audio but the "
            f"file holds {_seconds(frames / fmt.sample_rate)}; transcribing what is there.",
        )
    return WavFile(
        warnings=warnings,
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
    # A recording cut short still plays up to where it stops, as every player does. Size 0
    # followed by audio is a header some recorders write until they stop: the rest of the file
    # is the audio, as sox reads it.
    if declared in (0, _UNKNOWN_SIZE):
        return available
    return min(declared, available)


def _seconds(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:.0f} s"


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
    mono = downmix(_to_float(raw, wav.sample_width, wav.is_float), wav.channels)
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
