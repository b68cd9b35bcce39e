"""``tray-stt history``: the daily logs read back, one day or all of them, optionally searched.

The logs are read through ``transcripts`` (which knows their format); this module decides what
is shown and how: ``HH:MM:SS  text`` per transcript, a date line before each day's group when
the answer spans more than one day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from tray_stt.errors import ConfigError
from tray_stt.transcripts import LogLine, log_days, matches, read_log

DATE_WORDS = {"today": 0, "yesterday": 1}


def parse_day(text: str, today: date) -> date:
    """``--date``: YYYY-MM-DD, ``today`` or ``yesterday``; a ConfigError says what it takes."""
    word = text.strip().lower()
    if word in DATE_WORDS:
        return today - timedelta(days=DATE_WORDS[word])
    try:
        return date.fromisoformat(word)
    except ValueError:
        raise ConfigError(
            f"--date takes a day as YYYY-MM-DD (e.g. {today.isoformat()}), today or yesterday, "
            f"not {text!r}."
        ) from None


@dataclass(frozen=True)
class History:
    """What ``history`` prints: ``lines`` on standard output, or ``empty``, the sentence that
    says why nothing is shown (then the command exits 1, like grep finding nothing)."""

    lines: list[str]
    empty: str = ""


def history(directory: Path, day: date | None, words: list[str], today: date) -> History:
    """The transcripts of ``day`` (every day when searching without one; else today) whose
    text holds every word of ``words``."""
    days = log_days(directory)
    if not days:
        return History([], f"No transcripts are logged in {directory} yet.")
    if day is None and not words:
        day = today
    chosen = [day] if day is not None else days
    found = [
        (d, [line for line in read_log(directory, d) if matches(line.text, words)]) for d in chosen
    ]
    groups = [(d, lines) for d, lines in found if lines]
    if not groups:
        where = f"on {day.isoformat()}" if day is not None else f"in {directory}"
        if words:
            return History([], f"No transcript {where} has all of: {' '.join(words)}.")
        return History([], f"No transcripts were logged {where} (the logs are in {directory}).")
    return History(format_groups(groups))


def format_groups(groups: list[tuple[date, list[LogLine]]]) -> list[str]:
    """``HH:MM:SS  text`` lines; with more than one day, each day's lines after its date and
    the days apart by a blank line."""
    if len(groups) == 1:
        return [_line(line) for line in groups[0][1]]
    out: list[str] = []
    for index, (day, lines) in enumerate(groups):
        if index:
            out.append("")
        out.append(day.isoformat())
        out.extend(_line(line) for line in lines)
    return out


def _line(line: LogLine) -> str:
    return f"{line.when:%H:%M:%S}  {line.text}"
