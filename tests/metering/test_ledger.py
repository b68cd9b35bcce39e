"""The usage ledger: private, idempotent per item, per local date, intact after kill -9."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tray_stt.metering.ledger import Item, UsageLedger
from tray_stt.metering.meter import item_key, meter
from tray_stt.realtime.events import TranscriptCompleted, TranscriptFailed
from tray_stt.realtime.usage import Metering, Usage

T0 = datetime(2026, 12, 2, 9, 30, 0).astimezone()
TWO_S = Usage(seconds=2.0)


def completed(
    item: str = "item_1",
    session: str | None = "sess_1",
    at: datetime = T0,
    usage: Usage | None = TWO_S,
    model: str = "whisper-1",
) -> TranscriptCompleted:
    m = Metering(model, session, 2000, at + timedelta(seconds=2), usage)
    return TranscriptCompleted("hello", at, item, m)


def never(message: str) -> None:
    raise AssertionError(message)


def test_ledger_file_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    ledger = UsageLedger(tmp_path / "state" / "usage.sqlite3")
    assert meter(ledger, completed(), never)
    assert ledger.path.stat().st_mode & 0o777 == 0o600
    assert ledger.path.parent.stat().st_mode & 0o777 == 0o700
    mode = sqlite3.connect(ledger.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    ledger.close()


def test_ledger_counts_an_item_once_however_often_it_is_recorded(tmp_path: Path) -> None:
    ledger = UsageLedger(tmp_path / "usage.sqlite3")
    event = completed()
    assert meter(ledger, event, never)
    assert not meter(ledger, event, never)  # the same item handed over again
    assert not meter(UsageLedger(ledger.path), event, never)  # or by another process
    assert len(ledger.items(T0.date(), T0.date())) == 1


def test_ledger_keeps_apart_items_with_the_same_id_from_other_sessions(tmp_path: Path) -> None:
    ledger = UsageLedger(tmp_path / "usage.sqlite3")
    assert meter(ledger, completed("item_001", "sess_001"), never)
    assert meter(ledger, completed("item_001", "sess_002"), never)  # a reconnection's new item
    # a counter-id server run again later: same ids, another utterance
    later = T0 + timedelta(minutes=1)
    assert meter(ledger, completed("item_001", "sess_001", at=later), never)
    assert len(ledger.items(T0.date(), T0.date())) == 3


def test_ledger_files_items_under_the_local_date_they_were_spoken(tmp_path: Path) -> None:
    ledger = UsageLedger(tmp_path / "usage.sqlite3")
    before = datetime(2026, 12, 2, 23, 59, 59).astimezone()
    after = datetime(2026, 12, 3, 0, 0, 1).astimezone()
    meter(ledger, completed("a", at=before), never)
    meter(ledger, completed("b", at=after), never)
    days = [i.day for i in ledger.items(date(2026, 12, 1), date(2026, 12, 31))]
    assert days == [date(2026, 12, 2), date(2026, 12, 3)]
    assert [i.day for i in ledger.items(date(2026, 12, 3), date(2026, 12, 3))] == [days[1]]


def test_ledger_round_trips_both_usage_shapes_and_none(tmp_path: Path) -> None:
    ledger = UsageLedger(tmp_path / "usage.sqlite3")
    tokens = Usage(None, 42, 7, 40, 2)
    meter(ledger, completed("a", usage=Usage(seconds=2.5)), never)
    meter(ledger, completed("b", usage=tokens, model="gpt-4o-transcribe"), never)
    meter(ledger, completed("c", usage=None), never)
    usages = [i.usage for i in ledger.items(T0.date(), T0.date())]
    assert sorted(usages, key=repr) == sorted([Usage(seconds=2.5), tokens, None], key=repr)


def test_ledger_records_latency_from_end_of_speech(tmp_path: Path) -> None:
    ledger = UsageLedger(tmp_path / "usage.sqlite3")
    event = completed()
    assert event.meter is not None
    arrived = event.meter.ended_at + timedelta(milliseconds=730)
    meter(ledger, event, never, now=lambda: arrived.astimezone(UTC))
    [item] = ledger.items(T0.date(), T0.date())
    assert item.latency_ms == 730 and item.completed


def test_ledger_records_failed_items_without_latency(tmp_path: Path) -> None:
    ledger = UsageLedger(tmp_path / "usage.sqlite3")
    m = Metering("whisper-1", "s", 900, T0, None)
    assert meter(ledger, TranscriptFailed("boom", "", T0, "x", meter=m), never)
    [item] = ledger.items(T0.date(), T0.date())
    assert not item.completed and item.latency_ms is None and item.audio_ms == 900


def test_ledger_unmetered_events_are_not_recorded(tmp_path: Path) -> None:
    ledger = UsageLedger(tmp_path / "usage.sqlite3")
    event = TranscriptCompleted("typed", T0, "x")
    assert item_key(event) is None
    assert not meter(ledger, event, never)
    assert not ledger.path.exists()


def test_ledger_that_cannot_be_written_is_one_sentence_not_an_exception(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    ledger = UsageLedger(blocker / "usage.sqlite3")  # its directory is a file
    told: list[str] = []
    assert not meter(ledger, completed(), told.append)
    assert len(told) == 1 and "usage ledger" in told[0]


WRITER = """
import sys
from datetime import datetime, timedelta
from pathlib import Path
from tray_stt.metering.ledger import Item, UsageLedger
from tray_stt.realtime.usage import Usage
ledger = UsageLedger(Path(sys.argv[1]))
day = datetime.now().date()
n = 0
while True:
    ledger.record(f"k{n}", Item(day, "whisper-1", True, 1000, Usage(seconds=1.0), 300),
                  datetime.now().astimezone())
    n += 1
    if n == 20:
        print("started", flush=True)
"""


def test_ledger_is_intact_after_kill_9_mid_run(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite3"
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "started\n"
        time.sleep(0.3)  # writing at full speed when killed
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    keys = [row[0] for row in db.execute("SELECT key FROM items")]
    # every row is whole, and they are the first n the writer wrote: none lost in between
    assert len(keys) >= 20
    assert sorted(keys, key=lambda k: int(k[1:])) == [f"k{n}" for n in range(len(keys))]
    assert db.execute("SELECT count(*) FROM items WHERE billed_s IS NULL").fetchone()[0] == 0
    db.close()
    ledger = UsageLedger(path)  # and it opens and takes more
    today = datetime.now().date()
    assert ledger.record("after", Item(today, "whisper-1", True, 1, None, None), datetime.now())
    assert len(ledger.items(today, today)) == len(keys) + 1


def test_meter_an_unwritable_ledger_is_one_sentence_until_it_works_again(tmp_path: Path) -> None:
    """A full disk printed a traceback and the same sentence for every transcript."""
    blocked = tmp_path / "state"
    blocked.write_text("a file where the ledger's folder should be")
    ledger = UsageLedger(blocked / "usage.sqlite3")
    told: list[str] = []
    for index in range(3):
        assert not meter(ledger, completed(item=f"i{index}"), told.append)
    assert len(told) == 1 and told[0].startswith(f"Cannot write the usage ledger {ledger.path}")
    blocked.unlink()
    assert meter(ledger, completed(item="i9"), told.append)
    assert told[1:] == [f"The usage ledger {ledger.path} is being written again."]
