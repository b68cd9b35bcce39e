"""``tray-stt transcribe`` on audio and video files people have: every format, timestamps,
subtitles, several files at once, damaged files, a two-hour file's memory.

The media are made here: espeak-ng speaks the sentences at known offsets, ffmpeg (Debian's, the
test tools' encoder) encodes them; the loopback realtime server hears them through its VAD.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.app.test_transcribe_e2e import (
    assert_clean_failure,
    log_lines,
    run_cli,
    run_on_a_terminal,
)
from tests.support.audio_samples import dominant_hz, silence, speak, tone, write_wav
from tests.support.realtime_server import RealtimeServer

SENTENCES = ["Hello from the tray.", "This is the second sentence.", "And a third to finish."]
TEXTS = ["one", "two", "three"]
RATE = 24000
GAPS_S = (1.0, 2.0, 1.6, 1.5)  # before each sentence, and after the last

# ffmpeg arguments of each format: the same speech in each, an mp4 with a video track too.
ENCODINGS: dict[str, list[str]] = {
    "mp3": ["-c:a", "libmp3lame", "-b:a", "64k"],
    "m4a": ["-c:a", "aac", "-b:a", "64k"],
    "ogg": ["-c:a", "libopus", "-b:a", "32k"],
    "flac": ["-c:a", "flac"],
    "webm": ["-c:a", "libopus", "-b:a", "32k"],
    "wav": ["-c:a", "pcm_s16le"],
}
VIDEO = ["-f", "lavfi", "-i", "color=c=blue:s=64x48:r=10"]
VIDEO_CODEC = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"]


def ffmpeg(*args: str) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (apt install ffmpeg)")
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def placed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[float]]:
    """A WAV of the sentences with silence between, and where each sentence starts (s)."""
    parts, starts, at = [], [], 0.0
    for index, sentence in enumerate(SENTENCES):
        parts.append(silence(GAPS_S[index], RATE))
        at += GAPS_S[index]
        starts.append(at)
        speech = speak(sentence, RATE)
        parts.append(speech)
        at += len(speech) / RATE
    parts.append(silence(GAPS_S[-1], RATE))
    path = tmp_path_factory.mktemp("media") / "master.wav"
    write_wav(path, np.concatenate(parts), RATE)
    return path, starts


@pytest.fixture(scope="module")
def media(placed: tuple[Path, list[float]]) -> dict[str, Path]:
    """The sentences in every format (the key), each named after its format."""
    master, _ = placed
    out = {}
    for ext, codec in ENCODINGS.items():
        path = master.with_name(f"speech-{ext}.{ext}")
        ffmpeg("-i", str(master), *codec, str(path))
        out[ext] = path
    video = master.with_name("speech-video.mp4")
    ffmpeg(*VIDEO, "-i", str(master), *VIDEO_CODEC, str(video))
    out["mp4"] = video
    return out


def json_lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.mark.parametrize("kind", ["mp3", "m4a", "ogg", "flac", "webm", "wav", "mp4"])
def test_every_format_gives_the_words_and_where_they_lie(
    kind: str, media: dict[str, Path], placed: tuple[Path, list[float]], tmp_path: Path
) -> None:
    _, starts = placed
    with RealtimeServer(transcripts=TEXTS) as server:
        result = run_cli(
            "transcribe",
            str(media[kind]),
            "--url",
            server.url,
            "--format",
            "json",
            "--log-dir",
            str(tmp_path / "logs"),
            tmp_path=tmp_path,
        )
        assert server.violations == []
    assert result.returncode == 0, result.stderr
    records = json_lines(result.stdout)
    assert [r["text"] for r in records] == TEXTS
    assert all(r["file"] == str(media[kind]) for r in records)
    for record, start in zip(records, starts, strict=True):
        assert abs(float(record["start"]) - start) <= 0.3, (record, start)  # type: ignore[arg-type]
        assert float(record["end"]) > float(record["start"])  # type: ignore[arg-type]
        usage = record["usage"]
        assert isinstance(usage, dict) and usage["type"] == "duration" and usage["seconds"] > 0
    assert log_lines(tmp_path / "logs") == TEXTS  # the daily log keeps its format


def test_local_turns_place_the_sentences_too(
    media: dict[str, Path], placed: tuple[Path, list[float]], tmp_path: Path
) -> None:
    """The client's own detector: only speech is sent, yet each start is in file time."""
    _, starts = placed
    with RealtimeServer(transcripts=TEXTS) as server:
        result = run_cli(
            "transcribe",
            str(media["flac"]),
            "--turn",
            "local",
            "--url",
            server.url,
            "--no-log",
            "--format",
            "json",
            tmp_path=tmp_path,
        )
        sent_s = len(server.connections[0].audio) / 48000
    assert result.returncode == 0, result.stderr
    records = json_lines(result.stdout)
    assert [r["text"] for r in records] == TEXTS
    assert sent_s < float(records[-1]["end"])  # type: ignore[arg-type]  # silence was not sent
    for record, start in zip(records, starts, strict=True):
        assert abs(float(record["start"]) - start) <= 0.3, (record, start)  # type: ignore[arg-type]


def test_txt_stays_the_default_one_line_per_transcript(
    media: dict[str, Path], tmp_path: Path
) -> None:
    with RealtimeServer(transcripts=TEXTS) as server:
        result = run_cli(
            "transcribe", str(media["m4a"]), "--url", server.url, "--no-log", tmp_path=tmp_path
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == TEXTS


SRT_CUE = re.compile(r"^(\d+)\n(\d\d:\d\d:\d\d,\d\d\d) --> (\d\d:\d\d:\d\d,\d\d\d)\n(.+)$")
VTT_CUE = re.compile(r"^(\d\d:\d\d:\d\d\.\d\d\d) --> (\d\d:\d\d:\d\d\.\d\d\d)\n(.+)$")


def seconds(stamp: str) -> float:
    hours, minutes, rest = stamp.replace(",", ".").split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)


def test_srt_into_an_output_directory_named_after_each_input(
    media: dict[str, Path], placed: tuple[Path, list[float]], tmp_path: Path
) -> None:
    _, starts = placed
    out = tmp_path / "subs"
    with RealtimeServer(transcripts=TEXTS) as server:
        result = run_cli(
            "transcribe",
            str(media["mp3"]),
            "--url",
            server.url,
            "--no-log",
            "--format",
            "srt",
            "--output",
            str(out),
            tmp_path=tmp_path,
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert sorted(p.name for p in out.iterdir()) == ["speech-mp3.srt"]
    blocks = (out / "speech-mp3.srt").read_text(encoding="utf-8").strip().split("\n\n")
    cues = [SRT_CUE.match(block) for block in blocks]
    assert all(cues), blocks
    assert [c.group(1) for c in cues] == ["1", "2", "3"]  # type: ignore[union-attr]
    assert [c.group(4) for c in cues] == TEXTS  # type: ignore[union-attr]
    for cue, start in zip(cues, starts, strict=True):
        assert abs(seconds(cue.group(2)) - start) <= 0.3  # type: ignore[union-attr]
        assert seconds(cue.group(3)) > seconds(cue.group(2))  # type: ignore[union-attr]


def test_vtt_on_stdout(media: dict[str, Path], tmp_path: Path) -> None:
    with RealtimeServer(transcripts=TEXTS) as server:
        result = run_cli(
            "transcribe",
            str(media["webm"]),
            "--url",
            server.url,
            "--no-log",
            "--format",
            "vtt",
            tmp_path=tmp_path,
        )
    assert result.returncode == 0, result.stderr
    head, *blocks = result.stdout.strip().split("\n\n")
    assert head == "WEBVTT"
    cues = [VTT_CUE.match(block) for block in blocks]
    assert all(cues), blocks
    assert [c.group(3) for c in cues] == TEXTS  # type: ignore[union-attr]


def test_timestamps_stay_in_file_time_across_reconnects_and_rollovers(
    media: dict[str, Path], placed: tuple[Path, list[float]], tmp_path: Path
) -> None:
    """A drop mid-file (the audio is resent) and a session that expires (rolled over): every
    transcript once, in order, still where it lies in the file."""
    _, starts = placed
    with RealtimeServer(
        transcripts=TEXTS, drop_after_ms=[3500], session_max_s=4.0, drop_before_completion=[]
    ) as server:
        result = run_cli(
            "transcribe",
            str(media["ogg"]),
            "--url",
            server.url,
            "--no-log",
            "--realtime",
            "--format",
            "json",
            tmp_path=tmp_path,
        )
        assert server.violations == []
        assert len(server.connections) >= 3
    assert result.returncode == 0, result.stderr
    records = json_lines(result.stdout)
    assert [r["text"] for r in records] == TEXTS
    for record, start in zip(records, starts, strict=True):
        assert abs(float(record["start"]) - start) <= 0.3, (record, start)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["mp3", "m4a", "ogg", "flac", "webm", "mp4"])
@pytest.mark.parametrize("damage", ["cut", "garbage"])
def test_a_damaged_file_is_one_sentence_and_exit_2(
    kind: str, damage: str, media: dict[str, Path], tmp_path: Path
) -> None:
    data = media[kind].read_bytes()
    if damage == "cut":  # the header and no audio
        data = data[:100]
    else:  # the right name, random bytes inside
        noise = random.Random(kind).randbytes(len(data))
        data = data[:4] + noise
    path = tmp_path / f"broken.{'mp4' if kind == 'mp4' else kind}"
    path.write_bytes(data)
    with RealtimeServer() as server:
        result = run_cli("transcribe", str(path), "--url", server.url, tmp_path=tmp_path)
        assert server.connections == []
    line = assert_clean_failure(result, 2)
    assert str(path) in line
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_video_without_sound_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "silent-film.mp4"
    ffmpeg(*VIDEO, "-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path))
    result = run_cli("transcribe", str(path), tmp_path=tmp_path)
    line = assert_clean_failure(result, 2)
    assert "no audio" in line and "video" in line


def _tone_file(path: Path, freq: int, bursts: int) -> None:
    parts = [silence(0.5, RATE)]
    for _ in range(bursts):
        parts += [tone(freq, 0.8, RATE), silence(1.0, RATE)]
    wav = path.with_suffix(".wav")
    write_wav(wav, np.concatenate(parts), RATE)
    ffmpeg("-i", str(wav), "-c:a", "libopus", str(path))


def _pitch(pcm: bytes) -> str:
    """The transcriber of the jobs test: which tone the committed audio holds."""
    return "low" if dominant_hz(pcm, RATE) < 600 else "high"


def test_two_files_at_once_each_on_its_session_output_in_input_order(tmp_path: Path) -> None:
    # The first file is the longer: it finishes last, and is still printed first.
    first, second = tmp_path / "first.ogg", tmp_path / "second.ogg"
    _tone_file(first, 440, 4)
    _tone_file(second, 880, 2)
    with RealtimeServer(transcripts=_pitch) as server:
        most_open = 0

        def watch() -> None:
            nonlocal most_open
            while not stop.is_set():
                live = [c for c in list(server.connections) if not c.finished.is_set()]
                most_open = max(most_open, len(live))
                stop.wait(0.02)

        stop = threading.Event()
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            result = run_cli(
                "transcribe",
                str(first),
                str(second),
                "--jobs",
                "2",
                "--realtime",
                "--url",
                server.url,
                "--no-log",
                "--format",
                "json",
                tmp_path=tmp_path,
            )
        finally:
            stop.set()
            watcher.join()
        assert server.violations == []
        assert len(server.connections) == 2
    assert most_open == 2  # each file on its own session, at the same time
    assert result.returncode == 0, result.stderr
    records = json_lines(result.stdout)
    assert [(Path(str(r["file"])).name, r["text"]) for r in records] == [
        *[("first.ogg", "low")] * 4,
        *[("second.ogg", "high")] * 2,
    ]
    done = [line for line in result.stderr.splitlines() if ": done " in line]
    assert len(done) == 2 and "2/2 files" in done[-1] and "x realtime" in done[-1]
    assert done[0].startswith("tray-stt: done second.ogg")  # the shorter one ended first


def test_two_inputs_writing_the_same_output_file_are_refused(
    media: dict[str, Path], tmp_path: Path
) -> None:
    twin = tmp_path / "speech-mp3.wav"
    shutil.copy(media["wav"], twin)
    result = run_cli(
        "transcribe",
        str(media["mp3"]),
        str(twin),
        "--output",
        str(tmp_path / "o"),
        tmp_path=tmp_path,
    )
    line = assert_clean_failure(result, 2)
    assert "both be written to" in line


MEMORY_PROBE = """
import resource, sys
from tray_stt.audio.media import open_audio
source = open_audio(sys.argv[1])
total = sum(len(chunk) for chunk in source.pcm_chunks(40))
print(total, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _decode_peak_kb(path: Path) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout.split()
    return int(out[0]), int(out[1])


def test_a_two_hour_file_decodes_in_flat_memory(tmp_path: Path) -> None:
    """Two hours are 345 MB of 24 kHz PCM: the decoder streams, so its peak memory is the
    same as for a short file."""
    long, short = tmp_path / "long.flac", tmp_path / "short.flac"
    ffmpeg("-f", "lavfi", "-t", "7200", "-i", "anullsrc=r=8000:cl=mono", "-c:a", "flac", str(long))
    ffmpeg("-f", "lavfi", "-t", "5", "-i", "anullsrc=r=8000:cl=mono", "-c:a", "flac", str(short))
    long_bytes, long_peak = _decode_peak_kb(long)
    _, short_peak = _decode_peak_kb(short)
    assert long_bytes == 7200 * RATE * 2
    assert long_peak - short_peak < 30 * 1024, (long_peak, short_peak)


def test_jobs_progress_is_one_line_redrawn_on_a_terminal(tmp_path: Path) -> None:
    import os

    first, second = tmp_path / "first.ogg", tmp_path / "second.ogg"
    _tone_file(first, 440, 2)
    _tone_file(second, 880, 2)
    with RealtimeServer(transcripts=_pitch) as server:
        environment = {**os.environ, "OPENAI_API_KEY": "test-key", "HOME": str(tmp_path)}
        command = [sys.executable, "-m", "tray_stt", "transcribe", str(first), str(second)]
        arguments = ["--jobs", "2", "--realtime", "--url", server.url, "--no-log"]
        result, shown = run_on_a_terminal([*command, *arguments], environment)
    assert result.returncode == 0
    assert result.stdout.splitlines() == ["low", "low", "high", "high"]
    assert re.search(rb"\r\d/2 files, [\d.]+/[\d.]+ min of audio, [\d.]+x realtime\x1b\[K", shown)
    assert b"done " not in shown  # the line is redrawn, not repeated
