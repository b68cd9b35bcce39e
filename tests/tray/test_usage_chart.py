"""The month's usage chart: a PNG with a bar per day, today marked, the daily cap drawn."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

from PIL import Image

from tray_stt.app.usage import usage_chart
from tray_stt.config import Config
from tray_stt.metering.ledger import Item, UsageLedger
from tray_stt.realtime.usage import Usage
from tray_stt.tray.usage_chart import BAR, CAP, TODAY, UNKNOWN, Day, render_month

MONTH = date(2026, 12, 1)


def colours(path: Path) -> set[tuple[int, int, int]]:
    image = Image.open(path).convert("RGB")
    return {colour for _count, colour in image.getcolors(maxcolors=1 << 20) or []}


def test_usage_chart_bars_today_and_cap(tmp_path: Path) -> None:
    days = {
        date(2026, 12, 1): Day(0.02, 4),
        date(2026, 12, 2): Day(0.05, 10),
        date(2026, 12, 3): Day(0.01, 2),
    }
    path = render_month(
        MONTH, days, tmp_path / "chart.png", today=date(2026, 12, 3), daily_cap_usd=0.04
    )
    image = Image.open(path)
    assert image.format == "PNG" and image.size == (760, 360)
    seen = colours(path)
    assert {BAR, TODAY, CAP} <= seen and UNKNOWN not in seen


def test_usage_chart_unknown_cost_shows_minutes_in_grey(tmp_path: Path) -> None:
    days = {date(2026, 12, 1): Day(None, 4), date(2026, 12, 2): Day(0.05, 10)}
    path = render_month(MONTH, days, tmp_path / "c.png", today=date(2026, 12, 5))
    seen = colours(path)
    assert UNKNOWN in seen and BAR not in seen


def test_usage_chart_from_the_ledger(tmp_path: Path) -> None:
    config = replace(Config(), usage_file=tmp_path / "usage.sqlite3", budget_daily_usd=0.1)
    ledger = UsageLedger(config.usage_file)
    for n in range(1, 4):
        item = Item(date(2026, 12, n), "whisper-1", True, 60_000 * n, Usage(seconds=60 * n), None)
        ledger.record(f"k{n}", item, datetime.now())
    ledger.close()
    path = usage_chart(config, today=date(2026, 12, 3))
    assert path == tmp_path / "usage-2026-12.png"
    assert {BAR, TODAY, CAP} <= colours(path)
