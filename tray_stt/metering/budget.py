"""Budget caps: daily and monthly spend limits, checked against the ledger (local arithmetic).

The spend is the sum of the known costs in the ledger (``meter.spend_usd``): items of a model
without a price count nothing, and ``tray-stt usage`` shows them with an unknown cost.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import TYPE_CHECKING

from tray_stt.errors import BudgetExceeded
from tray_stt.metering.ledger import UsageLedger
from tray_stt.metering.meter import meter, month_start, spend_usd
from tray_stt.metering.prices import Price
from tray_stt.realtime.events import TranscriptCompleted, TranscriptFailed

if TYPE_CHECKING:
    from tray_stt.config import Config

WARN_AT = 0.8  # one notice when the spend reaches this share of a cap


def usd(amount: float) -> str:
    """An amount as the user set it: cents, or more digits for a cap below a cent."""
    return f"${amount:,.2f}" if round(amount, 2) == amount else f"${amount:.4g}"


class Level(Enum):
    """How close the spend is to the nearest cap."""

    OK = "ok"
    WARNING = "warning"
    OVER = "over"


@dataclass(frozen=True)
class Caps:
    """The caps in USD; 0 is off."""

    daily_usd: float = 0.0
    monthly_usd: float = 0.0

    @property
    def any(self) -> bool:
        """Whether any cap is on."""
        return self.daily_usd > 0 or self.monthly_usd > 0


@dataclass(frozen=True)
class BudgetState:
    """The spend against the caps, with the sentence to show (empty when OK)."""

    level: Level
    today_usd: float
    month_usd: float
    message: str = ""

    def error(self) -> BudgetExceeded:
        """The error that ends a command (exit code 6)."""
        return BudgetExceeded(self.message)


def budget_state(
    ledger: UsageLedger, caps: Caps, prices: Mapping[str, Price] | None, today: date
) -> BudgetState:
    """Today's and this month's spend against ``caps``."""
    items = ledger.sums(month_start(today), today)
    month = spend_usd(items, prices)
    day = spend_usd((i for i in items if i.day == today), prices)
    checks = [
        ("daily", "budget_daily_usd", day, caps.daily_usd),
        ("monthly", "budget_monthly_usd", month, caps.monthly_usd),
    ]
    worst = BudgetState(Level.OK, day, month)
    for name, key, spent, cap in checks:
        if cap <= 0:
            continue
        if spent >= cap:
            return BudgetState(
                Level.OVER,
                day,
                month,
                f"The {name} budget of {usd(cap)} is used up (${spent:.4f} spent): listening "
                f"stays off until it resets, or raise `{key}` in the config file "
                "(`tray-stt usage` shows the spend).",
            )
        if spent >= WARN_AT * cap and worst.level is Level.OK:
            worst = BudgetState(
                Level.WARNING,
                day,
                month,
                f"{spent / cap:.0%} of the {name} budget of {usd(cap)} is spent "
                f"(${spent:.4f}); at 100 % listening stops (`{key}` in the config file).",
            )
    return worst


class BudgetWatch:
    """The ledger with its caps: records each released item and says when a cap is near or
    reached, each once per level (a notice at 80 %, a stop at 100 %)."""

    def __init__(
        self,
        ledger: UsageLedger,
        caps: Caps,
        prices: Mapping[str, Price] | None,
        *,
        today: Callable[[], date] = date.today,
    ) -> None:
        """Watch ``ledger`` against ``caps``; ``today`` is the local date (a day boundary)."""
        self.ledger = ledger
        self.caps = caps
        self.prices = prices
        self._today = today
        self._told = Level.OK

    def state(self) -> BudgetState:
        """The spend now; OK without reading the ledger when no cap is on."""
        if not self.caps.any:
            return BudgetState(Level.OK, 0.0, 0.0)
        try:
            return budget_state(self.ledger, self.caps, self.prices, self._today())
        except (sqlite3.Error, OSError):
            # An unreadable ledger must not stop the user from listening; meter reports it.
            return BudgetState(Level.OK, 0.0, 0.0)

    def refuse_if_over(self) -> BudgetState:
        """Before listening starts: raise ``BudgetExceeded`` (exit code 6) when a cap is
        reached; otherwise the state, whose message the caller shows if it is a warning."""
        state = self.state()
        if state.level is Level.OVER:
            raise state.error()
        self._told = state.level
        return state

    def record(
        self, event: TranscriptCompleted | TranscriptFailed, report: Callable[[str], None]
    ) -> BudgetState | None:
        """Meter one item; the new state when it crossed a level not yet told, else None."""
        if not meter(self.ledger, event, report) or not self.caps.any:
            return None
        state = self.state()
        order = [Level.OK, Level.WARNING, Level.OVER]
        if order.index(state.level) <= order.index(self._told):
            return None
        self._told = state.level
        return state

    def today_text(self) -> str:
        """Today's known spend and minutes of audio sent, for a status line."""
        day = self._today()
        try:
            items = self.ledger.sums(day, day)
        except (sqlite3.Error, OSError):
            return ""
        if not items:
            return ""
        minutes = sum(i.audio_ms for i in items) / 60_000
        return f"{usd(round(spend_usd(items, self.prices), 2))} · {minutes:.0f} min today"

    def close(self) -> None:
        """Close the ledger file."""
        self.ledger.close()


def budget_watch(config: Config) -> BudgetWatch:
    """The ledger and caps the configuration asks for."""
    caps = Caps(config.budget_daily_usd, config.budget_monthly_usd)
    return BudgetWatch(UsageLedger(config.usage_file), caps, config.prices)
