"""Spooled dictation turns against the loopback server, and their retry into the log."""

from __future__ import annotations

import base64
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from tests.pushtotalk.test_dictation import LOUD, QUIET, FakeDeliverer
from tests.support.fake_sounddevice import FedMicrophone
from tests.support.realtime_server import RealtimeServer
from tray_stt.app.retry import count_pending, retry_pending
from tray_stt.config import Config
from tray_stt.pushtotalk.dictation import Dictation
from tray_stt.realtime.events import Event, SessionReady, TranscriptCompleted, TranscriptFailed
from tray_stt.realtime.models import TranscriptionSettings
from tray_stt.spool.pending import pending_runs
from tray_stt.spool.store import Spool, runs
from tray_stt.transcripts import DailyLog

QUOTA = ("insufficient_quota", "insufficient_quota", "You exceeded your current quota.")


def dictate_one_turn(server: RealtimeServer, tmp_path: Path, spool: Spool) -> list[Event]:
    config = replace(Config(), url=server.url, api_key="test-key")
    events: list[Event] = []
    ready, outcome = threading.Event(), threading.Event()

    def on_event(event: object) -> None:
        events.append(event)  # type: ignore[arg-type]
        if isinstance(event, SessionReady):
            ready.set()
        if isinstance(event, TranscriptFailed):
            outcome.set()

    mic, deliverer = FedMicrophone(), FakeDeliverer()
    dictation = Dictation(
        config,
        mic,
        deliverer,  # type: ignore[arg-type]
        log=DailyLog(tmp_path / "logs"),
        on_event=on_event,
        tail_ms=50,
        spool=spool,
    )
    dictation.start()
    assert ready.wait(10)
    dictation.press()
    mic.feed(LOUD, 25)
    dictation.release()
    mic.feed(QUIET, 10)
    if server.fail_items:
        assert outcome.wait(10)
    else:
        deliverer.delivered.get(timeout=10)
    dictation.close()
    return events


def test_retry_dictated_turn_logged_leaves_nothing_in_the_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=0, report=print)
    with RealtimeServer(transcripts=["said once"]) as server:
        dictate_one_turn(server, tmp_path, spool)
    assert runs(tmp_path / "spool") == []


def test_retry_failed_turn_is_pending_then_logged_at_its_spoken_time(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=0, report=print)
    with RealtimeServer(transcripts=["kept for later"], fail_items={0: QUOTA}) as server:
        events = dictate_one_turn(server, tmp_path, spool)
    (failed,) = [e for e in events if isinstance(e, TranscriptFailed)]
    (state,) = pending_runs(tmp_path / "spool")
    (recording,) = state.recordings()
    assert recording.reason == "You exceeded your current quota."
    assert 0.4 <= recording.duration_s <= 1.5

    config = replace(Config(), api_key="test-key", log_dir=tmp_path / "logs")
    logged: list[Event] = []
    log = DailyLog(tmp_path / "logs")
    with RealtimeServer(transcripts=["kept for later"]) as server:
        config = replace(config, url=server.url)

        def on_event(event: Event) -> None:
            logged.append(event)
            if isinstance(event, TranscriptCompleted):
                log.append(event.text, event.started_at)

        result = retry_pending(config, on_event, print, directory=tmp_path / "spool")
        assert server.violations == []
    assert result.runs == 1 and result.left == 0
    lines = (tmp_path / "logs").glob("*.txt")
    (text,) = [p.read_text(encoding="utf-8") for p in lines]
    assert text == f"{failed.started_at:%H:%M:%S}  kept for later\n"
    assert pending_runs(tmp_path / "spool") == []
    assert runs(tmp_path / "spool") == []


def test_retry_with_a_model_without_server_turns_commits_each_recording(tmp_path: Path) -> None:
    loud = LOUD * 50  # one second
    quiet = QUIET * 50
    spoken = datetime(2026, 3, 4, 9, 15, 30).astimezone()
    spool = Spool(tmp_path / "spool", max_bytes=0, report=print)
    for index, pcm in enumerate((quiet, loud, quiet, loud, quiet)):
        spool.append(pcm, spoken + timedelta(seconds=index))
    second = len(loud)
    spool.settle(5 * second, [(second, 2 * second, "quota"), (3 * second, 4 * second, "quota")])
    spool.close()

    settings = TranscriptionSettings(model="gpt-live-transcribe")
    config = replace(Config(), api_key="test-key", transcription=settings)
    log = DailyLog(tmp_path / "logs")

    def on_event(event: Event) -> None:
        if isinstance(event, TranscriptCompleted):
            log.append(event.text, event.started_at)

    with RealtimeServer(transcripts=["one", "two"]) as server:
        config = replace(config, url=server.url)
        result = retry_pending(config, on_event, print, directory=tmp_path / "spool")
        assert server.violations == []
        commits = [
            e for c in server.connections for e in c.client_events if e["type"].endswith("commit")
        ]
    assert result.left == 0 and len(commits) == 2
    text = (tmp_path / "logs" / "2026-03-04.txt").read_text(encoding="utf-8")
    assert text == "09:15:31  one\n09:15:33  two\n"


def live_run_with_failures(directory: Path, spoken: datetime) -> tuple[Spool, int]:
    """A live run still open (its session listening), two seconds of it failed (no credit),
    then audio the session still has on its way: (spool, bytes per second)."""
    loud, quiet = LOUD * 50, QUIET * 50
    spool = Spool(directory, max_bytes=0, report=print)
    for index, pcm in enumerate((quiet, loud, quiet, loud, quiet, loud)):
        spool.append(pcm, spoken + timedelta(seconds=index))
    second = len(loud)
    spool.settle(3 * second, [(second, 2 * second, "quota")])
    return spool, second


def test_retry_takes_the_failed_audio_of_a_live_run_once_while_it_listens(tmp_path: Path) -> None:
    """No credit, then credit back while listening goes on: the failed utterance is logged from
    the live run at once, its audio still in flight is left alone, and it is never sent twice."""
    spoken = datetime(2026, 3, 4, 9, 15, 30).astimezone()
    directory = tmp_path / "spool"
    spool, second = live_run_with_failures(directory, spoken)
    assert pending_runs(directory) == []  # locked: `tray-stt pending` elsewhere cannot take it
    assert count_pending(directory) == 1  # but this process counts it (the tray's menu item)
    config = replace(Config(), api_key="test-key")
    log = DailyLog(tmp_path / "logs")

    def on_event(event: Event) -> None:
        if isinstance(event, TranscriptCompleted):
            log.append(event.text, event.started_at)

    with RealtimeServer(transcripts=["retried while listening", "never"]) as server:
        config = replace(config, url=server.url)
        first = retry_pending(config, on_event, print, directory=directory)
        again = retry_pending(config, on_event, print, directory=directory)
        sent = [
            e for c in server.connections for e in c.client_events if e["type"].endswith("append")
        ]
        assert server.violations == []
    assert (first.runs, first.left, again.runs) == (1, 0, 0)
    total = sum(len(base64.b64decode(e["audio"])) for e in sent)
    assert second <= total <= 3 * second  # the failed second and padding, not the live tail
    text = (tmp_path / "logs" / "2026-03-04.txt").read_text(encoding="utf-8")
    assert text == "09:15:31  retried while listening\n"
    spool.close(finished=True)  # listening ends: everything else was transcribed live
    assert runs(directory) == []


def test_closing_a_live_run_waits_for_a_retry_borrowing_it(tmp_path: Path) -> None:
    spool, _second = live_run_with_failures(tmp_path / "spool", datetime.now().astimezone())
    closed = threading.Event()
    with spool.borrowed() as lent:
        assert lent and not spool.closing
        closer = threading.Thread(target=lambda: (spool.close(), closed.set()))
        closer.start()
        while not spool.closing:
            threading.Event().wait(0.01)
        assert not closed.is_set()  # the retry may still mark what it logged as done
        spool.done(0, 10)
    closer.join(5)
    assert closed.is_set()
    with spool.borrowed() as lent:
        assert not lent  # a closed run is not lent again
    assert Spool.live_in(tmp_path / "spool") == []
