"""The month's usage as a bar chart: a PNG the tray opens with the image viewer.

A picture opened by the desktop's default viewer works on every tray backend (xorg has no menu
to embed one in, AppIndicator menus take no images, notifications may show none).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from tray_stt import APP_NAME

WIDTH, HEIGHT = 760, 360
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 70, 20, 50, 40
BAR = (66, 133, 244)
UNKNOWN = (176, 190, 197)  # blue-grey: text antialiasing makes only neutral greys
TODAY = (234, 67, 53)
CAP = (219, 68, 55)
INK = (40, 40, 40)
GRID = (225, 225, 225)


@dataclass(frozen=True)
class Day:
    """One day's total: its cost (None when unknown) and the minutes of audio sent."""

    cost_usd: float | None
    minutes: float


def render_month(
    month: date,
    days: Mapping[date, Day],
    path: Path,
    *,
    today: date,
    daily_cap_usd: float = 0.0,
) -> Path:
    """Draw one bar per day of ``month`` (cost, or minutes if no cost is known) into ``path``."""
    from PIL import Image, ImageDraw

    priced = all(d.cost_usd is not None for d in days.values()) and bool(days)
    value = {day: (d.cost_usd or 0.0) if priced else d.minutes for day, d in days.items()}
    count = calendar.monthrange(month.year, month.month)[1]
    top = max([*value.values(), daily_cap_usd if priced else 0.0, 1e-9]) * 1.1
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    base = MARGIN_TOP + plot_h

    def y(amount: float) -> float:
        return base - amount / top * plot_h

    for step in range(5):
        amount = top * step / 4
        draw.line([(MARGIN_LEFT, y(amount)), (WIDTH - MARGIN_RIGHT, y(amount))], fill=GRID)
        label = (
            (f"${amount:.3f}" if top < 1 else f"${amount:.2f}") if priced else f"{amount:.0f} min"
        )
        draw.text((6, y(amount) - 6), label, fill=INK)
    slot = plot_w / count
    for n in range(1, count + 1):
        day = month.replace(day=n)
        x0 = MARGIN_LEFT + (n - 1) * slot + slot * 0.15
        x1 = MARGIN_LEFT + n * slot - slot * 0.15
        if day in value and value[day] > 0:
            colour = TODAY if day == today else BAR if priced else UNKNOWN
            draw.rectangle([x0, y(value[day]), x1, base], fill=colour)
        if n == 1 or n % 5 == 0:
            draw.text((x0, base + 6), str(n), fill=INK)
    if priced and daily_cap_usd > 0:
        draw.line([(MARGIN_LEFT, y(daily_cap_usd)), (WIDTH - MARGIN_RIGHT, y(daily_cap_usd))],
                  fill=CAP, width=2)  # fmt: skip
        draw.text((WIDTH - MARGIN_RIGHT - 120, y(daily_cap_usd) - 14), "daily cap", fill=CAP)
    total_cost = sum(d.cost_usd or 0.0 for d in days.values())
    minutes = sum(d.minutes for d in days.values())
    spend = f"${total_cost:.2f}" if priced else "cost unknown (a model without a price)"
    title = f"{APP_NAME}: {month:%B %Y}, {spend}, {minutes:.0f} min of audio sent"
    draw.text((MARGIN_LEFT, 16), title, fill=INK)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "PNG")
    return path
