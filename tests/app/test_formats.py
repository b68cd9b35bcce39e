"""The shapes of ``transcribe --format``, and the per-file output order of ``--jobs``."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

from tray_stt.app.formats import Cue, header, render
from tray_stt.app.transcribe import FileClock, OrderedOutput
from tray_stt.realtime.pcm import BYTES_PER_MS
from tray_stt.realtime.usage import Usage

CUE = Cue(3, 3723.4567, 3725.0, "Hello there.", Usage(seconds=1.6))


def test_srt_cue_numbers_and_comma_milliseconds() -> None:
    assert render("srt", CUE, "a.mp3") == "3\n01:02:03,457 --> 01:02:05,000\nHello there.\n\n"


def test_vtt_cue_and_its_header() -> None:
    assert header("vtt") == "WEBVTT\n\n"
    assert header("srt") == header("txt") == header("json") == ""
    assert render("vtt", CUE, "a.mp3") == "01:02:03.457 --> 01:02:05.000\nHello there.\n\n"


def test_txt_is_the_text_alone() -> None:
    assert render("txt", CUE, "a.mp3") == "Hello there.\n"


def test_json_is_one_line_per_transcript_with_its_usage() -> None:
    line = render("json", CUE, "a.mp3")
    assert line.endswith("\n") and line.count("\n") == 1
    assert json.loads(line) == {
        "file": "a.mp3",
        "start": 3723.457,
        "end": 3725.0,
        "text": "Hello there.",
        "usage": {"type": "duration", "seconds": 1.6},
    }
    tokens = Cue(1, 0, 1, "x", Usage(None, 20, 3, 18, 2))
    assert json.loads(render("json", tokens, "b"))["usage"] == {
        "type": "tokens",
        "input_tokens": 20,
        "output_tokens": 3,
        "input_token_details": {"audio_tokens": 18, "text_tokens": 2},
    }
    assert json.loads(render("json", Cue(1, 0, 1, "x"), "b"))["usage"] is None


def test_file_clock_dates_audio_by_its_offset_in_the_file() -> None:
    epoch = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    clock = FileClock(epoch)
    chunks = list(clock.count([b"\0" * 40 * BYTES_PER_MS] * 3))
    assert len(chunks) == 3
    # The session took the last 60 ms of the 120 ms fed so far.
    when = clock(b"\0" * 60 * BYTES_PER_MS)
    assert when == epoch + timedelta(milliseconds=60)
    assert clock.offset_s(when) == 0.06


def test_later_files_wait_for_the_earlier_ones() -> None:
    out = io.StringIO()
    ordered = OrderedOutput(3, out)
    ordered.write(1, "b1\n")
    ordered.write(2, "c1\n")
    ordered.write(0, "a1\n")
    assert out.getvalue() == "a1\n"
    ordered.finish(2)
    ordered.write(1, "b2\n")
    assert out.getvalue() == "a1\n"
    ordered.finish(0)  # b's held lines come out; c is done but waits for b
    assert out.getvalue() == "a1\nb1\nb2\n"
    ordered.write(1, "b3\n")
    assert out.getvalue() == "a1\nb1\nb2\nb3\n"
    ordered.finish(1)
    assert out.getvalue() == "a1\nb1\nb2\nb3\nc1\n"


def test_file_clock_knows_when_each_part_of_the_file_was_sent() -> None:
    """Fast mode sends an hour in seconds: latency counts from the sending, not the timeline."""
    epoch = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    walls = iter(epoch + timedelta(seconds=s) for s in range(100))
    clock = FileClock(epoch, now=lambda: next(walls))
    second = b"\0" * 1000 * BYTES_PER_MS
    for _ in clock.count([second] * 10):  # ten seconds of audio, one sent per wall second
        pass
    assert clock.sent_at(epoch + timedelta(seconds=2.5)) == epoch + timedelta(seconds=2)
    assert clock.sent_at(epoch + timedelta(seconds=1)) == epoch
