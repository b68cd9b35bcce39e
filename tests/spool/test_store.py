"""The spool on a real filesystem: its format, privacy, settling, bounds and recovery."""

from __future__ import annotations

import os
import stat
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tray_stt.realtime.pcm import BYTES_PER_MS
from tray_stt.spool.frames import MAGIC, Audio, Failed, Settled, encode, read_segment
from tray_stt.spool.pending import STOPPED, pending_runs, read_audio, read_run
from tray_stt.spool.store import Spool, default_spool_dir, open_spool, runs, segments

SECOND = 1000 * BYTES_PER_MS
T0 = datetime(2026, 3, 4, 9, 15, 30).astimezone()


def tone(seconds: float, value: int = 1) -> bytes:
    return bytes([value]) * int(seconds * SECOND)


def make(directory: Path, reports: list[str], **kwargs: int) -> Spool:
    kwargs.setdefault("max_bytes", 0)
    return Spool(directory, report=reports.append, **kwargs)  # type: ignore[arg-type]


def feed(spool: Spool, seconds: int, start: datetime = T0) -> None:
    for index in range(seconds * 25):  # 40 ms chunks
        spool.append(tone(0.04, index % 250 + 1), start + timedelta(milliseconds=40 * index))


def test_spool_files_are_private_and_hold_whole_records(tmp_path: Path) -> None:
    spool = make(tmp_path / "spool", [])
    feed(spool, 2)
    spool.sync()
    assert stat.S_IMODE((tmp_path / "spool").stat().st_mode) == 0o700
    assert stat.S_IMODE(spool.run.stat().st_mode) == 0o700
    (segment,) = segments(spool.run)
    assert stat.S_IMODE(segment.stat().st_mode) == 0o600
    result = read_segment(segment)
    assert result.problem is None
    audio = [r for r in result.records if isinstance(r, Audio)]
    assert sum(len(a.pcm) for a in audio) == 2 * SECOND
    assert audio[0].when == T0
    spool.close()


def test_spool_pending_audio_keeps_its_capture_times(tmp_path: Path) -> None:
    spool = make(tmp_path, [])
    feed(spool, 3)
    spool.settle(SECOND, [])
    spool.close()
    (state,) = pending_runs(tmp_path)
    (part,) = state.parts
    assert (part.start, part.end, part.reason) == (SECOND, 3 * SECOND, STOPPED)
    assert datetime.fromtimestamp(part.captured).astimezone() == T0 + timedelta(seconds=1)
    pieces = list(read_audio(state))
    assert sum(len(pcm) for _, pcm in pieces) == 2 * SECOND
    assert pieces[0][1][:1] == bytes([26])  # chunk 25, the first of the second second


def test_spool_settled_segments_are_deleted_and_a_settled_run_removed(tmp_path: Path) -> None:
    spool = make(tmp_path, [], segment_bytes=SECOND)
    feed(spool, 5)
    assert len(segments(spool.run)) >= 5
    spool.settle(3 * SECOND, [])
    assert len(segments(spool.run)) <= 3  # the first three seconds are gone
    assert read_run(spool.run).parts[0].start == 3 * SECOND
    spool.settle(5 * SECOND, [])
    spool.close()
    assert runs(tmp_path) == []


def test_spool_failed_spans_stay_pending_with_their_reason(tmp_path: Path) -> None:
    spool = make(tmp_path, [], segment_bytes=SECOND)
    feed(spool, 6)
    spool.settle(6 * SECOND, [(SECOND, 2 * SECOND, "insufficient_quota")])
    spool.close()
    (state,) = pending_runs(tmp_path)
    assert [(p.start, p.end, p.reason) for p in state.parts] == [
        (SECOND, 2 * SECOND, "insufficient_quota")
    ]
    (recording,) = state.recordings()
    assert recording.started == T0 + timedelta(seconds=1)
    assert round(recording.duration_s, 3) == 1.0


def test_spool_truncated_segment_is_recovered_up_to_its_last_whole_record(
    tmp_path: Path,
) -> None:
    spool = make(tmp_path, [])
    feed(spool, 2)
    spool.close("killed")
    (segment,) = segments(spool.run)
    data = segment.read_bytes()
    segment.write_bytes(data[:-100])  # a crash in the middle of the last record
    state = read_run(spool.run)
    assert state.parts[0].end == 2 * SECOND - 40 * BYTES_PER_MS
    assert len(state.problems) == 1 and "truncated" in state.problems[0]
    assert state.parts[0].reason == STOPPED  # the end note was in the lost tail


def test_spool_damaged_record_stops_the_reading_there_and_says_so(tmp_path: Path) -> None:
    spool = make(tmp_path, [])
    feed(spool, 1)
    spool.close()
    (segment,) = segments(spool.run)
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0xFF
    segment.write_bytes(bytes(data))
    state = read_run(spool.run)
    assert 0 < state.parts[0].end < SECOND
    assert "damaged record" in state.problems[0]


def test_spool_garbage_file_is_reported_not_raised(tmp_path: Path) -> None:
    run = tmp_path / "run-20260101T000000.000000-1"
    run.mkdir()
    (run / "seg-000001.tsp").write_bytes(b"not a spool file at all")
    (run / "seg-000002.tsp").write_bytes(MAGIC[:4])
    (state,) = pending_runs(tmp_path)
    assert state.parts == []
    assert "not a spool file" in state.problems[0] and "truncated" in state.problems[1]


def test_spool_over_its_bound_drops_the_oldest_and_says_so_once(tmp_path: Path) -> None:
    reports: list[str] = []
    spool = make(tmp_path, reports, max_bytes=3 * SECOND, segment_bytes=SECOND)
    feed(spool, 8)
    spool.sync()
    size = sum(p.stat().st_size for p in segments(spool.run))
    assert size <= 3 * SECOND + SECOND // 10
    assert read_run(spool.run).parts[0].start >= 4 * SECOND  # the newest audio stays
    assert len(reports) == 1 and "limit of 0.144 MB (spool_max_mb)" in reports[0]
    assert "oldest audio not yet transcribed" in reports[0]
    spool.close()


def test_spool_of_a_live_session_is_not_listed_as_pending(tmp_path: Path) -> None:
    spool = make(tmp_path, [])
    feed(spool, 1)
    assert pending_runs(tmp_path) == []  # its lock is held: a retry must not take it
    spool.close()
    assert len(pending_runs(tmp_path)) == 1


def test_spool_directory_follows_xdg_state_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert default_spool_dir() == tmp_path / "state" / "tray-stt" / "spool"


def test_spool_off_when_max_mb_is_zero(tmp_path: Path) -> None:
    assert open_spool(0, print, tmp_path) is None
    assert not any(tmp_path.iterdir())


def test_spool_that_cannot_be_created_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    reports: list[str] = []
    assert open_spool(10, reports.append, blocker / "spool") is None
    assert reports and reports[0].startswith("Cannot create the audio spool in ")


def test_spool_record_encoding_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "seg-000001.tsp"
    records = [Settled(7), Failed(1, 5, "quota ✓"), Audio(9, 1.5, b"\x01\x02")]
    path.write_bytes(MAGIC + b"".join(encode(r) for r in records))
    assert read_segment(path).records == records
    os.truncate(path, len(MAGIC))
    assert read_segment(path).records == []


def test_spool_fsyncs_about_once_a_second_not_per_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [0.0]
    spool = Spool(tmp_path, max_bytes=0, report=print, clock=lambda: now[0])
    fsyncs: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        fsyncs.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    for index in range(250):  # ten seconds of 40 ms chunks, as a microphone delivers them
        spool.append(tone(0.04), T0 + timedelta(milliseconds=40 * index))
        now[0] += 0.04
    assert 9 <= len(fsyncs) <= 12  # once a second (and a directory sync), never per chunk
    spool.close()


def test_spool_many_failed_spans_are_each_pending_in_order(tmp_path: Path) -> None:
    spool = make(tmp_path, [], segment_bytes=SECOND)
    feed(spool, 20)
    half = SECOND // 2
    spans = [(s * SECOND, s * SECOND + half, f"failed {s}") for s in range(0, 20, 2)]
    spool.settle(20 * SECOND, spans)
    spool.close()
    (state,) = pending_runs(tmp_path)
    assert [(p.start, p.end, p.reason) for p in state.parts] == spans
    assert len(state.recordings()) == 10
    assert sum(len(pcm) for _, pcm in read_audio(state)) == 10 * half
