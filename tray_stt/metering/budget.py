"""Budget caps: daily and monthly spend limits, checked against the ledger (local arithmetic).

The spend is the sum of the known costs in the ledger (``meter.spend_usd``): items of a model
without a price count nothing, and ``tray-stt usage`` shows them with an unknown cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import Enum

from tray_stt.errors import BudgetExceeded
from tray_stt.metering.ledger import UsageLedger
from tray_stt.metering.meter import month_start, spend_usd
from tray_stt.metering.prices import Price

WARN_AT = 0.8  # one notice when the spend reaches this share of a cap


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
    items = ledger.items(month_start(today), today)
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
                f"The {name} budget of ${cap:.2f} is used up (${spent:.4f} spent): listening "
                f"stays off until it resets, or raise `{key}` in the config file "
                "(`tray-stt usage` shows the spend).",
            )
        if spent >= WARN_AT * cap and worst.level is Level.OK:
            worst = BudgetState(
                Level.WARNING,
                day,
                month,
                f"{spent / cap:.0%} of the {name} budget of ${cap:.2f} is spent "
                f"(${spent:.4f}); at 100 % listening stops (`{key}` in the config file).",
            )
    return worst
