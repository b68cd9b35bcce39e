"""What the command line prints for session events: outages once, file offsets, no credit."""

from __future__ import annotations

import io
from datetime import datetime

from tray_stt.app.console import TranscriptOutput, clock
from tray_stt.realtime.events import (
    Outage,
    Reconnecting,
    SessionState,
    StateChanged,
    TranscriptFailed,
)
from tray_stt.realtime.wire import ErrorKind

T0 = datetime(2026, 12, 2, 6, 41, 28, 900000).astimezone()


def output() -> tuple[TranscriptOutput, io.StringIO]:
    stderr = io.StringIO()
    return TranscriptOutput(None, None, stdout=io.StringIO(), stderr=stderr), stderr


def test_output_tells_an_outage_once_and_its_end() -> None:
    out, stderr = output()
    out.ready_note = "listening on pulse"
    for attempt in range(1, 30):  # a live source retrying for a minute
        out(Reconnecting("cannot resolve the host", 2.0, Outage.NETWORK, attempt))
    out(StateChanged(SessionState.RECONNECTING))
    out(StateChanged(SessionState.STREAMING))
    out(Reconnecting("connection lost", 0.2, Outage.NETWORK, 1))
    out(StateChanged(SessionState.STREAMING))
    assert stderr.getvalue().splitlines() == [
        "tray-stt: Connection problem (cannot resolve the host); retrying in 2.0 s.",
        "tray-stt: listening on pulse",
        "tray-stt: Connection problem (connection lost); retrying in 0.2 s.",
        "tray-stt: Connected again.",
    ]


def test_output_names_untranscribed_parts_of_a_file_in_its_offsets() -> None:
    out, stderr = output()
    out.source = "talk.wav"
    out(TranscriptFailed("gave up", "", T0, "a", ErrorKind.UNKNOWN, 72_400, 80_000))
    out(TranscriptFailed("gave up", "", T0, "", ErrorKind.UNKNOWN, 80_000, 118_300))
    out.report_missed(118_000)
    lines = stderr.getvalue().splitlines()
    assert (
        lines[0] == "tray-stt: Could not transcribe the utterance at 01:12.4 of talk.wav: gave up"
    )
    assert lines[-1] == "tray-stt: not transcribed: 01:12.4–01:58.0 of talk.wav"
    assert clock(3_725_000) == "1:02:05.0"


def test_output_leaves_no_credit_to_the_one_error_sentence() -> None:
    out, stderr = output()
    for item in "abc":
        out(TranscriptFailed("429 Too Many Requests", "", T0, item, ErrorKind.BILLING))
    assert (out.failed, out.no_credit) == (3, 3)
    assert stderr.getvalue() == ""
