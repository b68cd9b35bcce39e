"""Tests of audio.wav and audio.convert: WAV decoding, resampling, chunking and pacing."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import pytest
import soxr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.audio_samples import (
    dominant_hz,
    energy_bursts,
    have_espeak,
    read_wav,
    silence,
    spoken_wav,
    tone,
    wav_bytes,
    write_wav,
)
from tray_stt.audio import wav as wav_module
from tray_stt.audio.convert import Rechunker, Resampler, paced
from tray_stt.audio.wav import WavFile, open_wav
from tray_stt.errors import AudioInputError, ConfigError
from tray_stt.realtime.pcm import BYTES_PER_MS, SAMPLE_RATE

CHUNK_40MS = 40 * BYTES_PER_MS


def decode(path: Path, chunk_ms: int = 40) -> list[bytes]:
    """Every chunk `pcm_chunks` yields for a file."""
    return list(open_wav(path).pcm_chunks(chunk_ms))


def snr_db(reference: npt.NDArray[Any], other: npt.NDArray[Any]) -> float:
    """Signal-to-noise ratio of `other` against `reference`, over their common length."""
    n = min(len(reference), len(other))
    ref, err = reference[:n].astype(np.float64), (other[:n].astype(np.float64) - reference[:n])
    return float(10 * np.log10(np.sum(ref**2) / max(np.sum(err**2), 1e-12)))


def test_pcm_chunks_44k_stereo_tone_becomes_24k_mono_1khz(tmp_path: Path) -> None:
    left = tone(1000, 2.0, 44100)
    path = tmp_path / "tone.wav"
    write_wav(path, np.stack([left, left], axis=1), 44100)
    wav = open_wav(path)
    assert (wav.sample_rate, wav.channels, wav.sample_width, wav.is_float) == (44100, 2, 2, False)
    assert wav.frames == 88200 and wav.duration_s == pytest.approx(2.0)
    chunks = list(wav.pcm_chunks(40))
    assert all(len(c) == CHUNK_40MS for c in chunks[:-1])
    assert 0 < len(chunks[-1]) <= CHUNK_40MS
    total_ms = sum(len(c) for c in chunks) / BYTES_PER_MS
    assert abs(total_ms - 2000) <= 40
    assert dominant_hz(b"".join(chunks)) == pytest.approx(1000, abs=2)


def _synth(path: Path, rate: int, channels: int, bits: int, encoding: str) -> None:
    """A 1 s 1 kHz sine in the given format: by sox when installed, else by hand."""
    if shutil.which("sox"):
        command = ["sox", "-n", "-r", str(rate), "-c", str(channels), "-b", str(bits)]
        command += ["-e", encoding, str(path), "synth", "1", "sine", "1000"]
        subprocess.run(command, check=True)
        return
    x = np.repeat(np.sin(2 * np.pi * 1000 * np.arange(rate) / rate)[:, None] * 0.5, channels, 1)
    if encoding == "floating-point":
        data, tag = x.astype(f"<f{bits // 8}").tobytes(), 3
    elif bits == 8:
        data, tag = np.round(x * 127 + 128).astype(np.uint8).tobytes(), 1
    else:
        ints = np.round(x * (2 ** (bits - 1) - 1)).astype("<i4").reshape(-1, 1).view(np.uint8)
        data, tag = ints.reshape(-1, 4)[:, : bits // 8].tobytes(), 1
    extensible = bits > 16 or channels > 2
    header = {"rate": rate, "channels": channels, "bits": bits}
    path.write_bytes(wav_bytes(data, format_tag=tag, extensible=extensible, **header))


@pytest.mark.parametrize(
    ("rate", "channels", "bits", "encoding", "is_float"),
    [
        (48000, 1, 32, "floating-point", True),
        (22050, 2, 64, "floating-point", True),
        (8000, 1, 8, "unsigned-integer", False),
        (16000, 1, 24, "signed-integer", False),
        (44100, 6, 16, "signed-integer", False),
        (96000, 2, 32, "signed-integer", False),
        (24000, 1, 16, "signed-integer", False),
    ],
)
def test_open_wav_decodes_every_supported_format(
    tmp_path: Path, rate: int, channels: int, bits: int, encoding: str, is_float: bool
) -> None:
    path = tmp_path / f"sine_{rate}_{channels}_{bits}.wav"
    _synth(path, rate, channels, bits, encoding)
    wav = open_wav(path)
    assert (wav.sample_rate, wav.channels, wav.sample_width) == (rate, channels, bits // 8)
    assert wav.is_float is is_float and wav.frames == rate
    pcm = b"".join(wav.pcm_chunks())
    assert abs(len(pcm) / BYTES_PER_MS - 1000) <= 40
    assert dominant_hz(pcm) == pytest.approx(1000, abs=2)
    assert np.abs(np.frombuffer(pcm, dtype="<i2")).max() > 8000  # scaled, not near-silent


@pytest.mark.parametrize(("bits", "tag"), [(32, 3), (64, 3), (32, 1), (24, 1)])
def test_open_wav_reads_extensible_subformats(tmp_path: Path, bits: int, tag: int) -> None:
    x = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(24000) / 24000)
    if tag == 3:
        data = x.astype(f"<f{bits // 8}").tobytes()
    else:
        ints = np.round(x * 2 ** (bits - 1)).astype("<i4")
        data = ints.view(np.uint8).reshape(-1, 4)[:, : bits // 8].tobytes()  # low bytes, LE
    path = tmp_path / "ext.wav"
    fields = {"rate": 24000, "channels": 1, "bits": bits, "format_tag": tag}
    path.write_bytes(wav_bytes(data, extensible=True, **fields))
    wav = open_wav(path)
    assert wav.is_float is (tag == 3)
    out = np.frombuffer(b"".join(wav.pcm_chunks()), dtype="<i2")
    expected = np.round(x * 32768).astype(np.int16)
    assert np.abs(out.astype(np.int32) - expected).max() <= 1


def _decode_bytes(tmp_path: Path, data: bytes, **fields: Any) -> npt.NDArray[np.int16]:
    path = tmp_path / "samples.wav"
    path.write_bytes(wav_bytes(data, rate=24000, **fields))
    return np.frombuffer(b"".join(open_wav(path).pcm_chunks()), dtype="<i2").astype(np.int16)


def test_pcm_chunks_scales_and_clips_each_sample_width(tmp_path: Path) -> None:
    u8 = _decode_bytes(tmp_path, bytes([0, 128, 255, 192]), channels=1, bits=8)
    assert u8.tolist() == [-32768, 0, 32512, 16384]
    s24 = b"".join(v.to_bytes(3, "little", signed=True) for v in (-(2**23), 256, 2**23 - 1, 127))
    assert _decode_bytes(tmp_path, s24, channels=1, bits=24).tolist() == [-32768, 1, 32767, 0]
    s32 = np.array([-(2**31), 2**16, 2**31 - 1], dtype="<i4").tobytes()
    assert _decode_bytes(tmp_path, s32, channels=1, bits=32).tolist() == [-32768, 1, 32767]
    floats = np.array([1.5, -1.5, np.nan, 0.5, -np.inf], dtype="<f4").tobytes()
    decoded = _decode_bytes(tmp_path, floats, channels=1, bits=32, format_tag=3)
    assert decoded.tolist() == [32767, -32768, 0, 16384, -32768]


def test_pcm_chunks_downmixes_by_averaging_channels(tmp_path: Path) -> None:
    stereo = np.array([[1000, -1000], [1000, 3000], [-32768, -32768]], dtype="<i2").tobytes()
    assert _decode_bytes(tmp_path, stereo, channels=2, bits=16).tolist() == [0, 2000, -32768]


def test_pcm_chunks_passes_24k_mono_pcm16_through_unchanged(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    samples = rng.integers(-32768, 32767, 24000 * 3 + 77, dtype=np.int16)
    path = tmp_path / "noise.wav"
    write_wav(path, samples, 24000)
    chunks = decode(path, 20)
    assert b"".join(chunks) == samples.astype("<i2").tobytes()
    assert [len(c) for c in chunks[:-1]] == [20 * BYTES_PER_MS] * (len(chunks) - 1)
    assert len(chunks[-1]) == 77 * 2


@pytest.mark.parametrize("chunk_ms", [19, 101, 0, -40])
def test_pcm_chunks_rejects_chunk_length_out_of_range(tmp_path: Path, chunk_ms: int) -> None:
    path = tmp_path / "t.wav"
    write_wav(path, tone(440, 0.1, 24000), 24000)
    with pytest.raises(ConfigError, match=str(chunk_ms)):
        open_wav(path).pcm_chunks(chunk_ms)  # raised at the call, not at iteration


@pytest.mark.parametrize("chunk_ms", [20, 100])
def test_pcm_chunks_accepts_limits(tmp_path: Path, chunk_ms: int) -> None:
    path = tmp_path / "t.wav"
    write_wav(path, tone(440, 1.0, 24000), 24000)
    assert {len(c) for c in decode(path, chunk_ms)} == {chunk_ms * BYTES_PER_MS}


def test_pcm_chunks_streams_a_block_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "long.wav"
    write_wav(path, tone(300, 20.0, 48000), 48000)  # 1.9 MB of samples
    reads: list[int] = []

    class SpyFile:
        def __init__(self, name: str, mode: str) -> None:
            self._f: BinaryIO = open(name, "rb")  # noqa: SIM115 - closed by __exit__

        def __enter__(self) -> SpyFile:
            return self

        def __exit__(self, *exc: object) -> None:
            self._f.close()

        def __getattr__(self, attr: str) -> Any:
            return getattr(self._f, attr)

        def read(self, n: int = -1) -> bytes:
            reads.append(n)
            return self._f.read(n)

    wav = open_wav(path)
    monkeypatch.setattr(wav_module, "open", SpyFile, raising=False)
    first = next(wav.pcm_chunks())
    assert first and len(reads) == 1
    rest = list(wav.pcm_chunks())
    assert max(reads) <= 65536 and len(reads) > 20
    assert abs(len(b"".join(rest)) / BYTES_PER_MS - 20000) <= 40


def _resample_in_pieces(signal: npt.NDArray[np.int16], rate: int, seed: int) -> bytes:
    resampler, rng, out, i = Resampler(rate), np.random.default_rng(seed), b"", 0
    while i < len(signal):
        n = int(rng.integers(1, 2000))
        out += resampler.process(signal[i : i + n].astype("<i2").tobytes())
        i += n
    return out + resampler.flush()


@pytest.mark.parametrize("rate", [44100, 48000, 16000, 8000])
def test_resampler_streaming_equals_whole_signal(rate: int) -> None:
    t = np.arange(rate * 2) / rate
    chirp = 0.4 * np.sin(2 * np.pi * (200 + 1500 * t) * t)
    signal = np.round(chirp * 32767).astype(np.int16)
    whole = np.asarray(soxr.resample(signal, rate, SAMPLE_RATE, quality="HQ"), dtype=np.int16)
    streamed = np.frombuffer(_resample_in_pieces(signal, rate, seed=rate), dtype="<i2")
    assert abs(len(streamed) - len(whole)) <= 2
    assert snr_db(whole, streamed) > 80
    # The same comparison catches the stateless per-chunk resampling that clicks at the edges.
    pieces = np.array_split(signal, 100)
    naive = np.concatenate([soxr.resample(p, rate, SAMPLE_RATE, quality="HQ") for p in pieces])
    assert snr_db(whole, naive) < 60


def test_resampler_is_reusable_after_flush_and_deterministic() -> None:
    signal = tone(1000, 0.5, 44100).astype("<i2").tobytes()
    resampler = Resampler(44100)
    first = resampler.process(signal) + resampler.flush()
    second = resampler.process(signal) + resampler.flush()
    assert first == second and len(first) == pytest.approx(12000 * 2, abs=4)


def test_resampler_passes_24k_through_and_keeps_odd_bytes() -> None:
    resampler = Resampler(SAMPLE_RATE)
    assert resampler.process(b"\x01\x02\x03") == b"\x01\x02"
    assert resampler.process(b"\x04\x05") == b"\x03\x04"
    assert resampler.flush() == b""
    with pytest.raises(ValueError):
        Resampler(0)


def test_rechunker_cuts_exact_chunks_and_flushes_remainder() -> None:
    rechunker = Rechunker(4)
    assert rechunker.push(b"abc") == []
    assert rechunker.push(b"defghij") == [b"abcd", b"efgh"]
    assert rechunker.push(b"k") == []
    assert rechunker.flush() == b"ijk"[:2]  # the dangling half sample is dropped
    assert rechunker.flush() == b""
    for bad in (0, 3, -2):
        with pytest.raises(ValueError):
            Rechunker(bad)


@given(st.lists(st.binary(max_size=300), max_size=30), st.integers(1, 200))
def test_rechunker_preserves_even_aligned_stream(pieces: list[bytes], half: int) -> None:
    rechunker, out = Rechunker(half * 2), []
    for piece in pieces:
        out += rechunker.push(piece)
    assert all(len(c) == half * 2 for c in out)
    data = b"".join(pieces)
    assert b"".join(out) + rechunker.flush() == data[: len(data) & ~1]


class FakeClock:
    """A monotonic clock that only `sleep` advances, plus a constant oversleep."""

    def __init__(self, oversleep: float = 0.0) -> None:
        self.now, self.oversleep, self.sleeps = 100.0, oversleep, list[float]()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds + self.oversleep


def test_paced_realtime_yields_on_absolute_schedule_despite_oversleep() -> None:
    clock = FakeClock(oversleep=0.005)
    times = []
    for _ in paced([b"\0" * CHUNK_40MS] * 6, realtime=True, clock=clock, sleep=clock.sleep):
        times.append(clock.now - 100.0)
    assert times[0] == 0.0
    for i, t in enumerate(times):
        assert i * 0.04 <= t <= i * 0.04 + 0.005 + 1e-9  # late by one oversleep, never more
    # The first wait is a whole chunk; later ones are shortened by the previous oversleep.
    assert clock.sleeps == pytest.approx([0.04] + [0.035] * 4)


def test_paced_schedules_by_bytes_of_audio() -> None:
    clock = FakeClock()
    sizes = [960, 4800, 48, 1920]  # 20 ms, 100 ms, 1 ms, 40 ms
    chunks = [b"\0" * n for n in sizes]
    times = [clock.now - 100 for _ in paced(chunks, realtime=True, clock=clock, sleep=clock.sleep)]
    assert times == pytest.approx([0.0, 0.020, 0.120, 0.121])


def test_paced_does_not_sleep_when_consumer_is_behind() -> None:
    clock = FakeClock()
    for _ in paced([b"\0" * CHUNK_40MS] * 4, realtime=True, clock=clock, sleep=clock.sleep):
        clock.now += 0.1  # the consumer takes longer than the audio lasts
    assert clock.sleeps == []


def test_paced_not_realtime_never_sleeps() -> None:
    clock = FakeClock()
    chunks = [b"\0" * CHUNK_40MS] * 50
    assert list(paced(chunks, realtime=False, clock=clock, sleep=clock.sleep)) == chunks
    assert clock.sleeps == []


def _assert_one_sentence_naming(error: pytest.ExceptionInfo[AudioInputError], name: str) -> str:
    message = str(error.value)
    assert name in message and "\n" not in message and message.endswith(".")
    return message


def test_open_wav_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.wav"
    with pytest.raises(AudioInputError) as error:
        open_wav(path)
    assert "does not exist" in _assert_one_sentence_naming(error, str(path))


def test_open_wav_directory(tmp_path: Path) -> None:
    with pytest.raises(AudioInputError) as error:
        open_wav(tmp_path)
    assert "directory" in _assert_one_sentence_naming(error, str(tmp_path))


def test_open_wav_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.wav"
    write_wav(path, tone(440, 0.1, 24000), 24000)
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: make open() fail as it would for a user

        def refuse(name: str, mode: str) -> None:
            raise PermissionError(13, "Permission denied", name)

        monkeypatch.setattr(wav_module, "open", refuse, raising=False)
    with pytest.raises(AudioInputError) as error:
        open_wav(path)
    assert "permission denied" in _assert_one_sentence_naming(error, str(path))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 100, "looks like MP3"),
        (b"\xff\xfb\x90\x00" * 100, "looks like MP3"),
        (b"fLaC\x00\x00\x00\x22" + bytes(200), "looks like FLAC"),
        (b"Hello, this is a text file.\n" * 3, "RIFF/WAVE"),
        (b"RIFF\x24\x00\x00\x00AVI LIST", "RIFF/WAVE"),
    ],
)
def test_open_wav_not_a_wav_file(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "song.mp3"
    path.write_bytes(content)
    with pytest.raises(AudioInputError) as error:
        open_wav(path)
    message = _assert_one_sentence_naming(error, str(path))
    assert "not a WAV file" in message and expected in message
    assert "sox in.mp3 out.wav" in message and "ffmpeg" in message


@pytest.mark.parametrize(("tag", "name"), [(0x0011, "IMA ADPCM"), (0x0055, "MP3"), (0x1234, "")])
def test_open_wav_compressed_codec_names_format_tag(tmp_path: Path, tag: int, name: str) -> None:
    path = tmp_path / "adpcm.wav"
    path.write_bytes(wav_bytes(bytes(512), rate=8000, channels=1, bits=4, format_tag=tag))
    with pytest.raises(AudioInputError) as error:
        open_wav(path)
    message = _assert_one_sentence_naming(error, str(path))
    assert f"0x{tag:04X}" in message and name in message and "compressed" in message


def test_open_wav_unknown_extensible_subformat(tmp_path: Path) -> None:
    data = wav_bytes(bytes(64), rate=8000, channels=1, bits=16, extensible=True)
    path = tmp_path / "odd.wav"
    path.write_bytes(data.replace(b"\x00\x00\x00\x00\x10\x00\x80\x00", b"\x01" * 8, 1))
    with pytest.raises(AudioInputError) as error:
        open_wav(path)
    assert "subformat" in _assert_one_sentence_naming(error, str(path))


@pytest.mark.parametrize("keep", [3, 11, 20, 30, 36, 60])
def test_open_wav_truncated_header(tmp_path: Path, keep: int) -> None:
    full = wav_bytes(bytes(100), rate=16000, channels=1, bits=24, extensible=True)
    path = tmp_path / "cut.wav"
    path.write_bytes(full[:keep])
    with pytest.raises(AudioInputError) as error:
        open_wav(path)
    assert "truncated" in _assert_one_sentence_naming(error, str(path))


@pytest.mark.parametrize(
    "content",
    [
        b"",
        wav_bytes(b"", rate=24000, channels=1, bits=16),
        wav_bytes(b"\x01", rate=24000, channels=1, bits=16),  # half a frame is no audio
        wav_bytes(b"", rate=24000, channels=1, bits=16)[:36],  # format, but no data chunk
        wav_bytes(bytes(6), rate=192000, channels=1, bits=16),  # 3 frames: under a 24 kHz sample
    ],
)
def test_open_wav_without_audio(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(content)
    with pytest.raises(AudioInputError) as error:
        open_wav(path)
    assert "contains no audio" in _assert_one_sentence_naming(error, str(path))


@pytest.mark.parametrize(
    ("rate", "channels", "expected"),
    [(4000, 1, "4000 Hz"), (384000, 1, "384000 Hz"), (16000, 0, "zero channels")],
)
def test_open_wav_rejects_impossible_headers(
    tmp_path: Path, rate: int, channels: int, expected: str
) -> None:
    path = tmp_path / "weird.wav"
    path.write_bytes(wav_bytes(bytes(64), rate=rate, channels=channels, bits=16))
    with pytest.raises(AudioInputError) as error:
        open_wav(path)
    assert expected in _assert_one_sentence_naming(error, str(path))


def test_open_wav_plays_cut_recording_and_unknown_data_size(tmp_path: Path) -> None:
    samples = tone(1000, 0.5, 24000).astype("<i2").tobytes()
    path = tmp_path / "cut.wav"
    for declared in (len(samples) * 3, 0xFFFFFFFF):
        path.write_bytes(wav_bytes(samples, rate=24000, channels=1, bits=16, data_size=declared))
        assert b"".join(open_wav(path).pcm_chunks()) == samples


def test_open_wav_reads_rf64(tmp_path: Path) -> None:
    samples = tone(1000, 0.2, 24000).astype("<i2").tobytes()
    plain = wav_bytes(samples, rate=24000, channels=1, bits=16, data_size=0xFFFFFFFF)
    ds64 = b"ds64" + struct.pack("<I", 28) + bytes(28)
    path = tmp_path / "big.wav"
    path.write_bytes(b"RF64" + b"\xff" * 4 + b"WAVE" + ds64 + plain[12:])
    assert b"".join(open_wav(path).pcm_chunks()) == samples


_WAV_HEADERS = st.builds(
    wav_bytes,
    st.binary(max_size=600),
    rate=st.sampled_from([0, 7999, 8000, 11025, 24000, 44100, 192000, 192001, 2**32 - 1]),
    channels=st.integers(0, 9),
    bits=st.sampled_from([0, 1, 4, 8, 12, 16, 20, 24, 32, 48, 64, 65535]),
    format_tag=st.sampled_from([1, 3, 2, 0x11, 0xFFFE, 0]),
    extensible=st.booleans(),
    data_size=st.one_of(st.none(), st.integers(0, 2**32 - 1)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=200), _WAV_HEADERS, _WAV_HEADERS.map(lambda b: b[:50])))
def test_open_wav_any_bytes_give_wavfile_or_audio_input_error(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.wav"
        path.write_bytes(content)
        try:
            wav = open_wav(path)
        except AudioInputError as e:
            assert str(path) in str(e)
            return
        assert isinstance(wav, WavFile) and wav.frames > 0
        chunks = list(wav.pcm_chunks(20))
        assert chunks and all(c and len(c) % 2 == 0 for c in chunks)


def test_spoken_wav_has_one_energy_burst_per_sentence(tmp_path: Path) -> None:
    if not have_espeak():
        pytest.skip("espeak-ng is not installed")
    path = tmp_path / "speech.wav"
    spoken_wav(path, ["Hello there.", "The quick brown fox jumps.", "Goodbye now."], gap_s=1.2)
    samples, rate = read_wav(path)
    assert rate == 24000 and samples.ndim == 1
    gap = len(silence(1.2, rate))
    assert not samples[:gap].any() and not samples[-gap:].any()  # digital silence
    bursts = energy_bursts(samples, rate)
    assert len(bursts) == 3
    assert bursts[0][0] == pytest.approx(1.2, abs=0.05)
    assert bursts[-1][1] == pytest.approx(len(samples) / rate - 1.2, abs=0.05)
    assert all(b[0] - a[1] >= 1.15 for a, b in zip(bursts, bursts[1:], strict=False))
    assert open_wav(path).duration_s == pytest.approx(len(samples) / rate)


def test_spoken_wav_resamples_to_requested_rate(tmp_path: Path) -> None:
    if not have_espeak():
        pytest.skip("espeak-ng is not installed")
    path = tmp_path / "speech16k.wav"
    spoken_wav(path, ["Testing."], gap_s=0.5, rate=16000)
    samples, rate = read_wav(path)
    assert rate == 16000 and len(energy_bursts(samples, rate)) == 1


def test_open_wav_truncated_file_warns_how_much_the_header_promised(tmp_path: Path) -> None:
    samples = tone(1000, 0.1, 24000).astype("<i2").tobytes()
    path = tmp_path / "cut.wav"
    promised = 24000 * 2 * 43 // 2  # 21.5 s
    path.write_bytes(wav_bytes(samples, rate=24000, channels=1, bits=16, data_size=promised))
    wav = open_wav(path)
    assert b"".join(wav.pcm_chunks()) == samples
    assert wav.warnings == (
        f"{path} is truncated: its header promises 21.5 s of audio but the file holds 0.1 s; "
        "transcribing what is there.",
    )
    whole = tmp_path / "whole.wav"
    whole.write_bytes(wav_bytes(samples, rate=24000, channels=1, bits=16))
    assert open_wav(whole).warnings == ()


def test_open_wav_zero_size_data_chunk_reads_to_the_end(tmp_path: Path) -> None:
    samples = tone(1000, 0.3, 24000).astype("<i2").tobytes()
    path = tmp_path / "recording.wav"
    path.write_bytes(wav_bytes(samples, rate=24000, channels=1, bits=16, data_size=0))
    wav = open_wav(path)
    assert b"".join(wav.pcm_chunks()) == samples and wav.warnings == ()
