"""The usage ledger: one row per transcribed item, in a private, crash-safe SQLite file.

Each completed or failed item is one row holding the usage the server reported, the audio the
client sent for it and the latency from the end of speech to the transcript, under the local date
the utterance was spoken (the daily log's date) and its model. Each row is written in its own
transaction in WAL mode with ``synchronous=FULL``: a kill -9 loses at most the item being
written, and the file is never left inconsistent.

Rows are keyed by (server session id, server item id, capture time of the utterance's start):
the server bills per item, and an item id is unique within its session, so each key is one
charge. Recording the same item twice (an event handed to two consumers, a retried write, a
spool replaying what it already recorded) is ignored; a resend after a reconnection is a new item
on a new session, which the server transcribes, and bills, again. The capture time keeps apart
servers whose ids are counters (the loopback test server, self-hosted endpoints).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import platformdirs

from tray_stt import APP_NAME
from tray_stt.realtime.usage import Usage

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    key TEXT PRIMARY KEY,
    day TEXT NOT NULL,
    model TEXT NOT NULL,
    outcome TEXT NOT NULL,
    audio_ms INTEGER NOT NULL,
    billed_s REAL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    audio_tokens INTEGER,
    text_tokens INTEGER,
    latency_ms INTEGER,
    recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS items_day ON items (day);
CREATE TABLE IF NOT EXISTS local_turns (
    day TEXT NOT NULL,
    model TEXT NOT NULL,
    heard_ms INTEGER NOT NULL,
    sent_ms INTEGER NOT NULL,
    PRIMARY KEY (day, model)
);
"""
_COLUMNS = (
    "day, model, outcome, audio_ms, billed_s, input_tokens, output_tokens, audio_tokens, "
    "text_tokens, latency_ms"
)


def default_ledger_path() -> Path:
    """The ledger under the user's state directory."""
    return platformdirs.user_state_path(APP_NAME) / "usage.sqlite3"


@dataclass(frozen=True)
class Item:
    """One metered item as stored."""

    day: date
    model: str
    completed: bool
    audio_ms: int
    usage: Usage | None
    latency_ms: int | None


class UsageLedger:
    """The ledger file, opened at first use; safe to call from several threads."""

    def __init__(self, path: Path) -> None:
        """Keep the ledger in ``path`` (created 0600, its directory 0700)."""
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.failure: str | None = None  # the last write failure told to the user, until it clears

    def record(
        self,
        key: str,
        item: Item,
        recorded_at: datetime,
    ) -> bool:
        """Store one item; False (nothing written) if ``key`` was recorded before.

        Raises ``sqlite3.Error`` or ``OSError``; ``meter`` turns those into one sentence.
        """
        u = item.usage
        values = (
            key,
            item.day.isoformat(),
            item.model,
            "completed" if item.completed else "failed",
            item.audio_ms,
            None if u is None else u.seconds,
            None if u is None or u.by_duration else u.input_tokens,
            None if u is None or u.by_duration else u.output_tokens,
            None if u is None or u.by_duration else u.audio_tokens,
            None if u is None or u.by_duration else u.text_tokens,
            item.latency_ms,
            recorded_at.isoformat(),
        )
        with self._lock:
            db = self._open()
            with db:  # one transaction per item: all of it is stored or none
                cursor = db.execute(
                    f"INSERT OR IGNORE INTO items (key, {_COLUMNS}, recorded_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
            return cursor.rowcount == 1

    def items(self, since: date, until: date) -> list[Item]:
        """Every item spoken from ``since`` to ``until`` (local dates, both included)."""
        if not self.path.exists():
            return []
        with self._lock:
            rows = self._open().execute(
                f"SELECT {_COLUMNS} FROM items WHERE day BETWEEN ? AND ? ORDER BY day, model",
                (since.isoformat(), until.isoformat()),
            )
            return [_item(row) for row in rows.fetchall()]

    def sums(self, since: date, until: date) -> list[Item]:
        """The items of ``since``..``until`` added up per day, model, outcome and usage shape:
        costs are linear in usage, so these cost what the items do, read in one query."""
        if not self.path.exists():
            return []
        query = (
            "SELECT day, model, outcome, SUM(audio_ms), SUM(billed_s), SUM(input_tokens), "
            "SUM(output_tokens), SUM(audio_tokens), SUM(text_tokens), NULL FROM items "
            "WHERE day BETWEEN ? AND ? "
            "GROUP BY day, model, outcome, billed_s IS NULL, input_tokens IS NULL"
        )
        with self._lock:
            rows = self._open().execute(query, (since.isoformat(), until.isoformat()))
            return [_item(row) for row in rows.fetchall()]

    def add_local_turns(self, day: date, model: str, heard_ms: int, sent_ms: int) -> None:
        """Add audio client-side turn detection heard, and the part of it that it sent."""
        with self._lock:
            db = self._open()
            with db:
                db.execute(
                    "INSERT INTO local_turns VALUES (?, ?, ?, ?) ON CONFLICT (day, model) DO "
                    "UPDATE SET heard_ms = heard_ms + excluded.heard_ms, "
                    "sent_ms = sent_ms + excluded.sent_ms",
                    (day.isoformat(), model, heard_ms, sent_ms),
                )

    def local_turns(self, since: date, until: date) -> tuple[int, int]:
        """Audio heard and sent by client-side turn detection from ``since`` to ``until``."""
        if not self.path.exists():
            return 0, 0
        with self._lock:
            row = (
                self._open()
                .execute(
                    "SELECT SUM(heard_ms), SUM(sent_ms) FROM local_turns WHERE day BETWEEN ? AND ?",
                    (since.isoformat(), until.isoformat()),
                )
                .fetchone()
            )
        return int(row[0] or 0), int(row[1] or 0)

    def close(self) -> None:
        """Close the file; a later call opens it again."""
        with self._lock:
            db, self._db = self._db, None
            if db is not None:
                db.close()

    def _open(self) -> sqlite3.Connection:
        if self._db is not None:
            return self._db
        directory = self.path.parent
        if not directory.is_dir():
            os.makedirs(directory, mode=0o700, exist_ok=True)
        # Created 0600 before SQLite opens it; SQLite gives its -wal and -shm files the same mode.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=5000")  # the tray and a CLI may write at once
            db.executescript(_SCHEMA)
        except sqlite3.Error:
            db.close()
            raise
        self._db = db
        return db


def _item(row: tuple[object, ...]) -> Item:
    day, model, outcome, audio_ms, billed_s, inp, out, audio, text, latency = row
    usage: Usage | None = None
    if isinstance(billed_s, float | int):
        usage = Usage(seconds=float(billed_s))
    elif isinstance(inp, int) and isinstance(out, int):
        usage = Usage(None, inp, out, int(audio or 0), int(text or 0))  # type: ignore[call-overload]
    return Item(
        date.fromisoformat(str(day)),
        str(model),
        outcome == "completed",
        int(audio_ms),  # type: ignore[call-overload]
        usage,
        latency if isinstance(latency, int) else None,
    )
