"""``tray-stt usage``: the usage ledger added up per day (and model), as a table or JSON."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import asdict
from datetime import date
from pathlib import Path

from tray_stt.config import Config
from tray_stt.errors import ConfigError, TraySttError
from tray_stt.metering.ledger import Item, UsageLedger
from tray_stt.metering.meter import Latency, Row, item_cost, latency, month_start, summarize
from tray_stt.metering.prices import PRICES_DATE, PRICES_SOURCE, Price

_HEADER = ("date", "model", "audio", "billed", "tokens in", "tokens out", "transcripts", "cost")


def usage_report(
    config: Config,
    since: str | None,
    until: str | None,
    *,
    by_model: bool = False,
    as_json: bool = False,
    today: date | None = None,
) -> str:
    """The report of ``since``..``until`` (default: this month up to today)."""
    today = today or date.today()
    first = _day(since, "--since") if since else month_start(today)
    last = _day(until, "--until") if until else today
    if first > last:
        raise ConfigError(f"--since {first} is after --until {last}: swap them.")
    ledger = UsageLedger(config.usage_file)
    try:
        items = ledger.items(first, last)
        todays = ledger.items(today, today)
        heard_ms, sent_ms = ledger.local_turns(first, last)
    except (sqlite3.Error, OSError) as exc:
        raise TraySttError(f"Cannot read the usage ledger {ledger.path}: {exc}.") from None
    finally:
        ledger.close()
    rows = summarize(items, config.prices, by_model=by_model)
    lag = latency(todays)
    if as_json:
        return json.dumps({"rows": [asdict(r) for r in rows]}, indent=2)
    text = _table(rows, items, lag, first, last, config.prices)
    if heard_ms:
        kept = heard_ms - sent_ms
        text += (
            f"\nclient-side turn detection (--turn local) heard {_duration(heard_ms / 1000)}, "
            f"sent {_duration(sent_ms / 1000)}: {_duration(kept / 1000)} of silence "
            f"({kept / heard_ms:.0%}) was never sent"
        )
    return text


def _day(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{flag} {text!r} is not a date: use YYYY-MM-DD.") from None


def _table(
    rows: list[Row],
    items: list[Item],
    lag: Latency | None,
    first: date,
    last: date,
    prices: Mapping[str, Price],
) -> str:
    lines = [f"Usage from {first} to {last} (prices of {PRICES_DATE}, {PRICES_SOURCE}):"]
    cells = [_HEADER] + [_cells(r) for r in rows]
    if len(rows) > 1:
        total = Row(
            "total",
            None,
            sum(r.audio_s for r in rows),
            sum(r.billed_s for r in rows),
            sum(r.input_tokens for r in rows),
            sum(r.output_tokens for r in rows),
            sum(r.transcripts for r in rows),
            None if any(r.cost_usd is None for r in rows) else sum(r.cost_usd or 0 for r in rows),
        )
        cells.append(_cells(total))
    widths = [max(len(c[i]) for c in cells) for i in range(len(_HEADER))]
    for row in cells:
        lines.append(
            "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
    if not rows:
        lines.append("(nothing transcribed in this period)")
    if any(r.cost_usd is None for r in rows):
        unpriced = sorted({i.model for i in items if item_cost(i, prices) is None})
        lines.append(
            "cost ? = a model without a price or usage the server did not report; add it to "
            f"`prices` in the config file (unknown for: {', '.join(unpriced)})."
        )
    if lag is not None:
        lines.append(
            f"latency today (end of speech to transcript, {lag.count} utterances): "
            f"median {lag.median_ms / 1000:.2f} s, p95 {lag.p95_ms / 1000:.2f} s"
        )
    return "\n".join(lines)


def _cells(row: Row) -> tuple[str, ...]:
    return (
        row.date,
        row.model or "",
        _duration(row.audio_s),
        _duration(row.billed_s) if row.billed_s else "-",
        str(row.input_tokens) if row.input_tokens else "-",
        str(row.output_tokens) if row.output_tokens else "-",
        str(row.transcripts),
        "?" if row.cost_usd is None else f"${row.cost_usd:.4f}",
    )


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"


def today_line(config: Config, today: date | None = None) -> str:
    """Today's spend, minutes and latency in one line, for ``tray-stt status``."""
    today = today or date.today()
    ledger = UsageLedger(config.usage_file)
    try:
        items = ledger.items(today, today)
    except (sqlite3.Error, OSError) as exc:
        return f"unknown: cannot read the usage ledger {ledger.path} ({exc})"
    finally:
        ledger.close()
    [row] = summarize(items, config.prices) or [Row(today.isoformat(), None, 0, 0, 0, 0, 0, 0.0)]
    cost = "cost unknown" if row.cost_usd is None else f"${row.cost_usd:.4f}"
    line = f"{cost}, {_duration(row.audio_s)} min sent, {row.transcripts} transcripts"
    lag = latency(items)
    if lag is not None:
        line += f", latency median {lag.median_ms / 1000:.2f} s p95 {lag.p95_ms / 1000:.2f} s"
    return line


def usage_chart(config: Config, today: date | None = None, path: Path | None = None) -> Path:
    """Render this month's bar chart next to the ledger; the PNG's path, to open."""
    from tray_stt.tray.usage_chart import Day, render_month

    today = today or date.today()
    ledger = UsageLedger(config.usage_file)
    try:
        items = ledger.items(month_start(today), today)
    except (sqlite3.Error, OSError) as exc:
        raise TraySttError(f"Cannot read the usage ledger {ledger.path}: {exc}.") from None
    finally:
        ledger.close()
    days = {
        date.fromisoformat(row.date): Day(row.cost_usd, row.audio_s / 60)
        for row in summarize(items, config.prices)
    }
    target = path or config.usage_file.parent / f"usage-{today:%Y-%m}.png"
    return render_month(
        month_start(today), days, target, today=today, daily_cap_usd=config.budget_daily_usd
    )
