"""The one place a released item enters the ledger, and what the ledger adds up to.

Every consumer of transcripts (the console, tray listening, dictation) calls ``meter`` after
``transcripts.log_first``: the log comes first, and a ledger that fails costs no transcript.
"""

from __future__ import annotations

import logging
import sqlite3
import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from tray_stt.metering.ledger import Item, UsageLedger
from tray_stt.metering.prices import Price, cost_usd, price_of
from tray_stt.realtime.events import TranscriptCompleted, TranscriptFailed

_log = logging.getLogger(__name__)


def item_key(event: TranscriptCompleted | TranscriptFailed) -> str | None:
    """The ledger key of an item (see ``ledger``), or None for an unmetered event."""
    if event.meter is None:
        return None
    return f"{event.meter.session_id or '-'}|{event.item_id}|{event.started_at.isoformat()}"


def meter(
    ledger: UsageLedger | None,
    event: TranscriptCompleted | TranscriptFailed,
    report: Callable[[str], None],
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> bool:
    """Record one released item; whether it was new. A failing ledger is told to ``report``
    once per failure, as one sentence, and never raises."""
    key = item_key(event)
    if ledger is None or key is None or event.meter is None:
        return False
    m = event.meter
    received = now()
    ended = m.ended_at
    if ended.tzinfo is None:  # a naive capture time is local time, as in the daily log
        ended = ended.astimezone()
    latency = int((received - ended).total_seconds() * 1000)
    spoken = event.started_at.astimezone() if event.started_at.tzinfo else event.started_at
    item = Item(
        spoken.date(),
        m.model,
        isinstance(event, TranscriptCompleted),
        m.audio_ms,
        m.usage,
        max(latency, 0) if isinstance(event, TranscriptCompleted) else None,
    )
    try:
        new = ledger.record(key, item, received)
    except (sqlite3.Error, OSError) as exc:
        _log.debug("usage ledger write failed", exc_info=True)  # the sentence says what to know
        sentence = (
            f"Cannot write the usage ledger {ledger.path}: {exc}; usage is not being counted."
        )
        if sentence != ledger.failure:  # a full disk is one sentence, not one per transcript
            ledger.failure = sentence
            report(sentence)
        return False
    if ledger.failure is not None:
        ledger.failure = None
        report(f"The usage ledger {ledger.path} is being written again.")
    return new


@dataclass(frozen=True)
class Row:
    """One line of ``tray-stt usage``: a day, or a day and model."""

    date: str
    model: str | None
    audio_s: float
    billed_s: float
    input_tokens: int
    output_tokens: int
    transcripts: int
    cost_usd: float | None


def item_cost(item: Item, prices: Mapping[str, Price] | None) -> float | None:
    """What one item cost; a failed item the server reported no usage for cost nothing."""
    if not item.completed and item.usage is None:
        return 0.0
    return cost_usd(price_of(item.model, prices), item.usage)


def summarize(
    items: Iterable[Item], prices: Mapping[str, Price] | None, *, by_model: bool = False
) -> list[Row]:
    """Add items up per day (and model): a cost is None if any item's cost is unknown."""
    groups: dict[tuple[str, str | None], list[Item]] = {}
    for item in items:
        key = (item.day.isoformat(), item.model if by_model else None)
        groups.setdefault(key, []).append(item)
    rows = []
    for (day, model), group in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        costs = [item_cost(i, prices) for i in group]
        known = [c for c in costs if c is not None]
        usages = [i.usage for i in group if i.usage is not None]
        rows.append(
            Row(
                day,
                model,
                round(sum(i.audio_ms for i in group) / 1000, 3),
                round(sum(u.seconds or 0.0 for u in usages), 3),
                sum(u.input_tokens for u in usages),
                sum(u.output_tokens for u in usages),
                sum(1 for i in group if i.completed),
                round(sum(known), 6) if len(known) == len(costs) else None,
            )
        )
    return rows


def spend_usd(items: Iterable[Item], prices: Mapping[str, Price] | None) -> float:
    """The known cost of ``items``: what a budget cap is checked against."""
    return sum(c for i in items if (c := item_cost(i, prices)) is not None)


@dataclass(frozen=True)
class Latency:
    """End of speech to completed transcript, over some items."""

    count: int
    median_ms: int
    p95_ms: int


def latency(items: Iterable[Item]) -> Latency | None:
    """Median and 95th percentile of the items' latencies; None if none has one."""
    values = sorted(i.latency_ms for i in items if i.latency_ms is not None)
    if not values:
        return None
    # Nearest rank: the p95 is a latency that really happened, never an interpolation.
    rank = max(0, -(-95 * len(values) // 100) - 1)
    return Latency(len(values), int(statistics.median(values)), values[rank])


def month_start(day: date) -> date:
    """The first day of ``day``'s month."""
    return day.replace(day=1)
