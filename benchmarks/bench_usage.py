"""The usage ledger's cost per transcript: CPU and wall time of one ``meter`` call (one SQLite
transaction, WAL, synchronous=FULL), and bytes on disk per item; plus a month's report.

Run: python -m benchmarks.bench_usage
"""

from __future__ import annotations

import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from tray_stt.config import Config
from tray_stt.metering.budget import BudgetWatch, Caps
from tray_stt.metering.ledger import UsageLedger
from tray_stt.realtime.events import TranscriptCompleted
from tray_stt.realtime.usage import Metering, Usage

ITEMS = 2000


def main() -> None:
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "usage.sqlite3"
        watch = BudgetWatch(UsageLedger(path), Caps(), None)
        start = datetime(2026, 12, 1, 8, 0).astimezone()
        events = [
            TranscriptCompleted(
                f"utterance {n}",
                start + timedelta(seconds=5 * n),
                f"item_{n:06d}",
                Metering("gpt-transcribe", "sess_x", 3000, start, Usage(seconds=3.0)),
            )
            for n in range(ITEMS)
        ]
        cpu, wall = time.process_time(), time.perf_counter()
        for event in events:
            watch.record(event, print)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        rows.append(("meter() CPU per transcript", f"{cpu / ITEMS * 1e6:.0f} µs"))
        rows.append(("meter() wall per transcript (incl. fsync)", f"{wall / ITEMS * 1e3:.2f} ms"))
        capped = BudgetWatch(watch.ledger, Caps(daily_usd=1e6), None)
        more = [
            TranscriptCompleted(e.text, e.started_at, e.item_id + "c", e.meter)
            for e in events[:200]
        ]
        cpu = time.process_time()
        for event in more:
            capped.record(event, print)
        cpu = time.process_time() - cpu
        rows.append((f"with a cap on ({ITEMS} items this month)", f"{cpu / 200 * 1e6:.0f} µs CPU"))
        db = watch.ledger._open()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = path.stat().st_size
        rows.append(("bytes per item (after checkpoint)", f"{size / (ITEMS + 200):.0f} B"))
        watch.close()
        from tray_stt.app.usage import usage_report

        config = Config(usage_file=path)
        cpu = time.process_time()
        usage_report(config, None, None, today=date(2026, 12, 31))
        rows.append(
            (
                "`tray-stt usage` report of the month",
                f"{(time.process_time() - cpu) * 1e3:.1f} ms CPU",
            )
        )
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
