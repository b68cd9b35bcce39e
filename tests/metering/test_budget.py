"""Budget caps against the ledger: off by default, a notice at 80 %, over at 100 %."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from tray_stt.errors import ExitCode
from tray_stt.metering.budget import Caps, Level, budget_state
from tray_stt.metering.ledger import Item, UsageLedger
from tray_stt.realtime.usage import Usage

TODAY = date(2026, 12, 15)


def spend(ledger: UsageLedger, minutes: float, day: date = TODAY, key: str = "k") -> None:
    # whisper-1: $0.006 a minute
    usage = Usage(seconds=minutes * 60)
    ledger.record(key, Item(day, "whisper-1", True, 1000, usage, 100), datetime.now())


def test_budget_off_by_default(tmp_path: Path) -> None:
    ledger = UsageLedger(tmp_path / "u.sqlite3")
    spend(ledger, 1000)
    state = budget_state(ledger, Caps(), None, TODAY)
    assert state.level is Level.OK and state.today_usd == 6.0


def test_budget_daily_warns_at_80_percent_and_stops_at_100(tmp_path: Path) -> None:
    ledger = UsageLedger(tmp_path / "u.sqlite3")
    caps = Caps(daily_usd=0.06)  # ten minutes
    spend(ledger, 7.9, key="a")
    assert budget_state(ledger, caps, None, TODAY).level is Level.OK
    spend(ledger, 0.2, key="b")
    warning = budget_state(ledger, caps, None, TODAY)
    assert warning.level is Level.WARNING and "81%" in warning.message
    spend(ledger, 1.9, key="c")
    over = budget_state(ledger, caps, None, TODAY)
    assert over.level is Level.OVER
    assert "daily budget of $0.06" in over.message and "budget_daily_usd" in over.message
    assert over.error().exit_code is ExitCode.BUDGET == 6


def test_budget_daily_resets_the_next_day_but_the_month_counts_on(tmp_path: Path) -> None:
    ledger = UsageLedger(tmp_path / "u.sqlite3")
    spend(ledger, 10, day=date(2026, 12, 14))
    caps = Caps(daily_usd=0.06, monthly_usd=0.1)
    state = budget_state(ledger, caps, None, TODAY)
    assert state.level is Level.OK and state.month_usd == 0.06
    spend(ledger, 7, key="today")
    over = budget_state(ledger, caps, None, TODAY)
    assert over.level is Level.OVER and "monthly budget" in over.message
    assert budget_state(ledger, caps, None, date(2027, 1, 1)).level is Level.OK


def test_budget_price_override_changes_the_arithmetic(tmp_path: Path) -> None:
    from tray_stt.metering.prices import Price

    ledger = UsageLedger(tmp_path / "u.sqlite3")
    spend(ledger, 1)
    caps = Caps(daily_usd=0.5)
    assert budget_state(ledger, caps, None, TODAY).level is Level.OK
    dear = {"whisper-1": Price(per_minute=1.0)}
    assert budget_state(ledger, caps, dear, TODAY).level is Level.OVER


def test_budget_sums_cost_what_the_items_cost(tmp_path: Path) -> None:
    from tray_stt.metering.meter import spend_usd

    ledger = UsageLedger(tmp_path / "u.sqlite3")
    tokens = Usage(None, 1000, 10, 990, 10)
    for n, (model, usage, done) in enumerate(
        [
            ("whisper-1", Usage(seconds=30), True),
            ("whisper-1", Usage(seconds=45), True),
            ("whisper-1", None, True),  # no usage reported: unknown, not counted
            ("whisper-1", None, False),
            ("gpt-4o-transcribe", tokens, True),
            ("gpt-4o-transcribe", tokens, False),
            ("acme", Usage(seconds=60), True),
        ]
    ):
        ledger.record(f"k{n}", Item(TODAY, model, done, 1000, usage, None), datetime.now())
    items = ledger.items(TODAY, TODAY)
    sums = ledger.sums(TODAY, TODAY)
    assert len(sums) < len(items)
    assert spend_usd(sums, None) == pytest.approx(spend_usd(items, None))
    assert spend_usd(items, None) > 0


def test_budget_message_shows_a_cap_below_a_cent() -> None:
    from tray_stt.metering.budget import usd

    assert (usd(0.07), usd(1.0), usd(0.0005), usd(1500)) == (
        "$0.07",
        "$1.00",
        "$0.0005",
        "$1,500.00",
    )
