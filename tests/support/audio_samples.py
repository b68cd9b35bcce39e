"""Test helpers that make audio: WAV writers, tones, silence and espeak-ng speech.

Independent of `tray_stt.audio.wav` on purpose (the stdlib `wave` module and `soxr.resample` on the
whole signal), so tests of that module compare it against a separate implementation.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import wave
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soxr

Int16Array = npt.NDArray[np.int16]

# Every KSDATAFORMAT_SUBTYPE_* GUID is the format tag followed by these 14 bytes.
_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


def write_wav(path: str | os.PathLike[str], samples: Int16Array, rate: int) -> None:
    """Write int16 samples, shape (n,) mono or (n, channels), as a plain PCM16 WAV file."""
    data = np.asarray(samples, dtype=np.int16)
    channels = 1 if data.ndim == 1 else data.shape[1]
    with wave.open(os.fspath(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data.astype("<i2").tobytes())


def read_wav(path: str | os.PathLike[str]) -> tuple[Int16Array, int]:
    """Read a PCM16 WAV file (as `write_wav` or espeak-ng write them) into (samples, rate)."""
    with wave.open(os.fspath(path), "rb") as w:
        assert w.getsampwidth() == 2, "read_wav handles 16-bit files only"
        raw = w.readframes(w.getnframes())
        samples = np.frombuffer(raw, dtype="<i2").astype(np.int16)
        if w.getnchannels() > 1:
            samples = samples.reshape(-1, w.getnchannels())
        return samples, w.getframerate()


def wav_bytes(
    data: bytes,
    *,
    rate: int,
    channels: int,
    bits: int,
    format_tag: int = 1,
    extensible: bool = False,
    data_size: int | None = None,
) -> bytes:
    """Build a WAV file around raw sample bytes: any format tag, or WAVE_FORMAT_EXTENSIBLE."""
    block_align = channels * ((bits + 7) // 8)
    tag = 0xFFFE if extensible else format_tag
    byte_rate, block_align = (rate * block_align) & 0xFFFFFFFF, block_align & 0xFFFF
    fmt = struct.pack("<HHIIHH", tag, channels, rate, byte_rate, block_align, bits)
    if extensible:
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", format_tag) + _GUID_TAIL
    size = len(data) if data_size is None else data_size
    body = b"WAVE" + _chunk(b"fmt ", fmt) + b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", len(body) & 0xFFFFFFFF) + body


def _chunk(chunk_id: bytes, body: bytes) -> bytes:
    return chunk_id + struct.pack("<I", len(body)) + body + b"\x00" * (len(body) & 1)


def tone(freq: float, seconds: float, rate: int, amplitude: float = 0.3) -> Int16Array:
    """A mono int16 sine of `freq` Hz, `amplitude` of full scale."""
    t = np.arange(round(seconds * rate)) / rate
    return np.round(amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def silence(seconds: float, rate: int) -> Int16Array:
    """Mono digital silence (all zeros)."""
    return np.zeros(round(seconds * rate), dtype=np.int16)


def dominant_hz(pcm: bytes, rate: int = 24_000) -> float:
    """The strongest frequency in PCM16 audio: which test tone it holds."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))


def pitch_transcriber(words: Mapping[float, str], rate: int = 24_000) -> Callable[[bytes], str]:
    """A loopback server's transcriber: the word of the tone (Hz -> word) an item holds, "" for
    silence. Each utterance gets its own word whichever connection carries it; a script hands
    out words by order, per connection, so a retry beside the live connection gets them wrong."""

    def transcribe(pcm: bytes) -> str:
        samples = np.frombuffer(pcm, dtype="<i2")
        if samples.size < 256 or np.abs(samples).max() < 1000:
            return ""
        hz = dominant_hz(pcm, rate)
        return words[min(words, key=lambda f: abs(f - hz))]

    return transcribe


def have_espeak() -> bool:
    """True when the espeak-ng speech synthesiser is on PATH."""
    return shutil.which("espeak-ng") is not None


def speak(sentence: str, rate: int) -> Int16Array:
    """One sentence spoken by espeak-ng, mono int16 at `rate`, its leading/trailing zeros cut."""
    if not have_espeak():
        pytest.skip("espeak-ng is not installed (apt install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        # --stdin, so a sentence starting with "-" is not taken for an option
        command = ["espeak-ng", "-w", str(out), "--stdin"]
        subprocess.run(command, input=sentence.encode(), check=True, capture_output=True)
        samples, native_rate = read_wav(out)
    voiced = np.flatnonzero(samples)
    if voiced.size:
        samples = samples[voiced[0] : voiced[-1] + 1]
    if native_rate == rate:
        return samples
    return np.asarray(soxr.resample(samples, native_rate, rate, quality="HQ"), dtype=np.int16)


def spoken_wav(
    path: str | os.PathLike[str], sentences: list[str], *, gap_s: float = 1.2, rate: int = 24000
) -> None:
    """Write the sentences as speech, mono 16-bit at `rate`, with `gap_s` of silence around each."""
    gap = silence(gap_s, rate)
    parts = [gap]
    for sentence in sentences:
        parts += [speak(sentence, rate), gap]
    write_wav(path, np.concatenate(parts), rate)


def energy_bursts(
    samples: Int16Array, rate: int, *, frame_ms: int = 20, threshold: float = 0.01
) -> list[tuple[float, float]]:
    """(start_s, end_s) of each run of frames whose RMS exceeds `threshold` of full scale.

    Gaps shorter than 300 ms (pauses between words) are bridged, so a sentence is one burst.
    """
    frame = rate * frame_ms // 1000
    count = len(samples) // frame
    frames = samples[: count * frame].astype(np.float64).reshape(count, frame) / 32768.0
    loud = np.sqrt((frames**2).mean(axis=1)) > threshold
    bursts: list[tuple[float, float]] = []
    for index in np.flatnonzero(loud):
        start, end = index * frame_ms / 1000, (index + 1) * frame_ms / 1000
        if bursts and start - bursts[-1][1] < 0.3:
            bursts[-1] = (bursts[-1][0], end)
        else:
            bursts.append((start, end))
    return bursts
