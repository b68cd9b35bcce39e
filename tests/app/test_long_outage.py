"""A network outage of several minutes with speech throughout: nothing is lost, memory stays
flat (README "What is kept, and for how long").

Listening as ``tray-stt listen`` and the tray build it (``live_options`` with a spool, and
``AutoRetry``), against the loopback server. Each utterance is a tone of its own pitch, and the
server transcribes an item by its pitch, so a word lost or sent twice shows in the log. The
outage's four minutes are fed faster than they could be spoken (the microphone runs in real time
before and after), with a clock that says when each chunk was "captured": the log times are
checked against it. Nothing is timed.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from tests.support.audio_samples import dominant_hz, silence, tone
from tests.support.realtime_server import RealtimeServer
from tray_stt.app.console import TranscriptOutput
from tray_stt.app.listening import SPOOLED_OFFLINE_AUDIO_MS, live_options
from tray_stt.app.retry import AutoRetry, Retrier, count_pending
from tray_stt.config import Config
from tray_stt.realtime.events import Event, Reconnecting
from tray_stt.realtime.pcm import BYTES_PER_MS
from tray_stt.realtime.session import Session
from tray_stt.realtime.transport import Transport, TransportClosed, websocket_connect
from tray_stt.spool.store import Spool
from tray_stt.transcripts import DailyLog

RATE = 24_000
CHUNK = 100 * BYTES_PER_MS
BASE_HZ, STEP_HZ = 200.0, 25.0
UTTERANCE_S, GAP_S = 1.0, 1.5
OUTAGE_UTTERANCES = 96  # four minutes of speech while no connection can be made


def paced(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Each chunk when a microphone would have it: the server then hears live audio as fast as
    it is spoken, while the backlog of the outage went at once."""
    for chunk in chunks:
        time.sleep(len(chunk) / BYTES_PER_MS / 1000)
        yield chunk


def word(index: int) -> str:
    return f"w{index:03d}"


def by_pitch(pcm: bytes) -> str:
    """The word of the item's loudest pitch ("" for silence)."""
    samples = np.frombuffer(pcm, dtype="<i2")
    if samples.size < 256 or np.abs(samples).max() < 1000:
        return ""
    return word(round((dominant_hz(pcm, RATE) - BASE_HZ) / STEP_HZ))


def utterance(index: int) -> bytes:
    pcm = np.concatenate([tone(BASE_HZ + STEP_HZ * index, UTTERANCE_S, RATE), silence(GAP_S, RATE)])
    return pcm.astype("<i2").tobytes()


class CaptureClock:
    """When each chunk was "heard": the feed's position from 09:00 today, not the wall clock."""

    def __init__(self) -> None:
        self.base = datetime.now().replace(hour=9, minute=0, second=0, microsecond=0).astimezone()
        self.fed = 0

    def __call__(self, pcm: bytes) -> datetime:
        when = self.base + timedelta(milliseconds=self.fed / BYTES_PER_MS)
        self.fed += len(pcm)
        return when

    def at(self, offset: int) -> datetime:
        return self.base + timedelta(milliseconds=offset / BYTES_PER_MS)


def test_an_outage_of_minutes_with_speech_throughout_loses_nothing_and_memory_stays_flat(
    tmp_path: Path,
) -> None:
    down = threading.Event()
    reconnecting = threading.Event()
    clock = CaptureClock()
    spoken: dict[str, int] = {}  # word -> input offset where its tone begins
    held: list[int] = []  # audio in memory after each chunk of the outage, in ms
    logs = tmp_path / "logs"
    stderr = io.StringIO()

    def connect(url: str, headers: dict[str, str], timeout: float) -> Transport:
        if down.is_set() and "intent=transcription" in url:
            raise TransportClosed(None, "Name or service not known")  # DNS: the Wi-Fi is down
        return websocket_connect(url, headers, timeout)

    def microphone(session: Session) -> Iterator[bytes]:
        offset = 0

        def say(index: int | None, seconds: float = 0.0) -> Iterator[bytes]:
            nonlocal offset
            pcm = (
                utterance(index) if index is not None else bytes(int(seconds * 1000) * BYTES_PER_MS)
            )
            if index is not None:
                spoken[word(index)] = offset
            for at in range(0, len(pcm), CHUNK):
                offset += len(pcm[at : at + CHUNK])
                yield pcm[at : at + CHUNK]

        yield from paced(say(0))  # transcribed live
        while not reconnecting.is_set():  # the server dropped the connection: down from here
            yield from paced(say(None, 0.1))
        for index in range(1, OUTAGE_UTTERANCES + 1):
            for chunk in say(index):
                held.append(session.held_ms)
                yield chunk
        down.clear()  # the network is back; from here the microphone runs in real time
        yield from paced(say(OUTAGE_UTTERANCES + 1))
        expected = OUTAGE_UTTERANCES + 2
        while len(logged(logs)) < expected and offset < 40 * 60 * 1000 * BYTES_PER_MS:
            yield from paced(say(None, 0.1))  # live silence, until every word is in the log

    def watch(event: Event) -> None:
        if isinstance(event, Reconnecting):
            down.set()
            reconnecting.set()

    with RealtimeServer(transcripts=by_pitch, drop_after_ms=[4000]) as server:
        config = replace(Config(), url=server.url, api_key="test-key", log_dir=logs)
        spool_dir = tmp_path / "spool"
        with DailyLog(logs) as log:
            output = TranscriptOutput(log, None, stdout=io.StringIO(), stderr=stderr)

            def on_event(event: Event) -> None:
                output(event)
                watch(event)

            retries = AutoRetry(
                config,
                on_event,  # type: ignore[arg-type]
                output.note,
                retrier=Retrier(spool_dir, connect=connect),
            )
            spool = Spool(spool_dir, max_bytes=500_000_000, report=output.note)
            options = replace(live_options(spooled=True), backoff_s=0.05, backoff_max_s=0.2)
            session = Session(
                config.endpoint,
                config.transcription,
                retries,
                options=options,
                spool=spool,
                clock=clock,
                connect=connect,
            )
            session.run(microphone(session))
            retries.close()
            spool.close(finished=True)
        assert server.violations == []

    entries = logged(logs)
    words = [text for _, text in entries]
    assert sorted(words) == sorted(spoken), stderr.getvalue()  # every word exactly once
    for when, text in entries:  # each at the second its speech began, also the retried ones
        began = clock.at(spoken[text]).replace(tzinfo=None)
        # The log has whole seconds, and server VAD starts an item 300 ms before the speech.
        assert timedelta(0) <= began - when < timedelta(seconds=1.3), (text, when, began)
    # Memory stayed flat while four minutes were spoken: past the first minute of the outage it
    # held what it held then (the newest minute, and a turn the lost connection left unanswered),
    # give or take where the cut fell (at a pause, within 5 s).
    minute = int(SPOOLED_OFFLINE_AUDIO_MS / 1000 / (UTTERANCE_S + GAP_S)) + 2
    after_a_minute = held[minute * int((UTTERANCE_S + GAP_S) * 10) :]
    assert after_a_minute and max(after_a_minute) - min(after_a_minute) <= 6000, held
    assert max(held) <= held[0] + SPOOLED_OFFLINE_AUDIO_MS + 6000
    notices = [line for line in stderr.getvalue().splitlines() if "kept on disk" in line]
    assert len(notices) == 1, stderr.getvalue()  # the outage is told once
    assert count_pending(spool_dir) == 0
    assert not list(spool_dir.glob("run-*")), "the run is removed once everything is logged"


def logged(logs: Path) -> list[tuple[datetime, str]]:
    """(time, text) of every line of the logs."""
    entries = []
    for path in sorted(logs.glob("*.txt")) if logs.is_dir() else []:
        for line in path.read_text(encoding="utf-8").splitlines():
            clock, _, text = line.partition("  ")
            day = datetime.strptime(path.stem, "%Y-%m-%d")
            entries.append(
                (datetime.combine(day, datetime.strptime(clock, "%H:%M:%S").time()), text)
            )
    return entries
