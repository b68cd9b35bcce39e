"""``tray-stt usage`` and the status line: periods, grouping, JSON shape, latency."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest

from tray_stt.app.usage import today_line, usage_report
from tray_stt.config import Config
from tray_stt.errors import ConfigError
from tray_stt.metering.ledger import Item, UsageLedger
from tray_stt.realtime.usage import Usage

TODAY = date(2026, 12, 15)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    config = replace(Config(), usage_file=tmp_path / "usage.sqlite3")
    ledger = UsageLedger(config.usage_file)
    days = [date(2026, 11, 30), date(2026, 12, 1), TODAY, TODAY]
    models = ["whisper-1", "whisper-1", "whisper-1", "gpt-4o-transcribe"]
    for n, (day, model) in enumerate(zip(days, models, strict=True)):
        usage = Usage(seconds=60) if model == "whisper-1" else Usage(None, 1000, 10, 1000, 0)
        ledger.record(f"k{n}", Item(day, model, True, 61_000, usage, 400 + 100 * n), datetime.now())
    ledger.close()
    return config


def rows(config: Config, since: str | None = None, until: str | None = None, **kw: bool) -> list:
    text = usage_report(config, since, until, as_json=True, today=TODAY, **kw)
    return json.loads(text)["rows"]  # type: ignore[no-any-return]


def test_usage_report_defaults_to_this_month_by_day(config: Config) -> None:
    assert [(r["date"], r["model"], r["transcripts"]) for r in rows(config)] == [
        ("2026-12-01", None, 1),
        ("2026-12-15", None, 2),
    ]
    today = rows(config)[1]
    assert today["cost_usd"] == pytest.approx(0.006 + (1000 * 6 + 10 * 10) / 1e6)
    assert today["audio_s"] == 122.0 and today["billed_s"] == 60.0


def test_usage_report_since_until_and_by_model(config: Config) -> None:
    got = rows(config, "2026-11-01", "2026-11-30")
    assert [r["date"] for r in got] == ["2026-11-30"]
    by_model = rows(config, "2026-12-15", "2026-12-15", by_model=True)
    assert [r["model"] for r in by_model] == ["gpt-4o-transcribe", "whisper-1"]
    assert by_model[0]["input_tokens"] == 1000 and by_model[0]["billed_s"] == 0


def test_usage_report_table_has_a_total_and_todays_latency(config: Config) -> None:
    text = usage_report(config, None, None, today=TODAY)
    assert "total" in text and "$" in text
    assert "latency today (end of speech to transcript, 2 utterances): median 0.65 s" in text


def test_usage_report_refuses_bad_dates_with_a_sentence(config: Config) -> None:
    with pytest.raises(ConfigError, match="YYYY-MM-DD"):
        usage_report(config, "yesterday", None, today=TODAY)
    with pytest.raises(ConfigError, match="after"):
        usage_report(config, "2026-12-10", "2026-12-01", today=TODAY)


def test_usage_report_of_an_empty_ledger(tmp_path: Path) -> None:
    config = replace(Config(), usage_file=tmp_path / "none.sqlite3")
    assert json.loads(usage_report(config, None, None, as_json=True)) == {"rows": []}
    assert "nothing transcribed" in usage_report(config, None, None)
    assert not config.usage_file.exists()


def test_today_line_for_status(config: Config) -> None:
    line = today_line(config, TODAY)
    assert line == "$0.0121, 2:02 min sent, 2 transcripts, latency median 0.65 s p95 0.70 s"
