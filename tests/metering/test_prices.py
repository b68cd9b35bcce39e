"""Prices: the dated table, overrides, both billing shapes, unknown models never guessed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tray_stt.config import load_config
from tray_stt.errors import ConfigError
from tray_stt.metering.ledger import Item
from tray_stt.metering.meter import Row, latency, summarize
from tray_stt.metering.prices import PRICES, PRICES_DATE, Price, cost_usd, price_of
from tray_stt.realtime.usage import Usage

DAY = date(2026, 12, 2)


def test_prices_duration_model_costs_per_minute() -> None:
    assert cost_usd(price_of("whisper-1"), Usage(seconds=90)) == pytest.approx(0.009)
    assert cost_usd(price_of("gpt-transcribe"), Usage(seconds=60)) == pytest.approx(0.0045)


def test_prices_token_model_costs_per_million_audio_text_in_and_out() -> None:
    usage = Usage(
        None, input_tokens=1_000_002, output_tokens=100_000, audio_tokens=1_000_000, text_tokens=2
    )
    expected = 6.00 + 2 * 2.50 / 1e6 + 0.1 * 10.00
    assert cost_usd(price_of("gpt-4o-transcribe"), usage) == pytest.approx(expected)


def test_prices_unknown_model_or_usage_or_shape_is_none() -> None:
    assert price_of("acme-transcribe") is None
    assert cost_usd(None, Usage(seconds=60)) is None
    assert cost_usd(price_of("whisper-1"), None) is None
    assert cost_usd(price_of("whisper-1"), Usage(None, 10, 2, 10, 0)) is None
    assert cost_usd(price_of("gpt-4o-transcribe"), Usage(seconds=60)) is None


def test_prices_table_is_dated_and_covers_the_issue_figures() -> None:
    assert date.fromisoformat(PRICES_DATE)
    assert PRICES["gpt-live-transcribe"].per_minute == 0.017
    assert PRICES["gpt-4o-mini-transcribe"] == Price(audio_in=3.0, text_in=1.25, text_out=5.0)


def test_prices_override_from_the_config_file_wins(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        'prices = { "whisper-1" = { per_minute = 0.01 }, '
        '"my-azure" = { audio_in = 1, text_in = 0, text_out = 2 } }\n'
        "budget_daily_usd = 0.5\n"
    )
    config = load_config(path, must_exist=True, env={}, overrides={})
    assert config.prices["whisper-1"] == Price(per_minute=0.01)
    assert config.budget_daily_usd == 0.5
    assert cost_usd(price_of("whisper-1", config.prices), Usage(seconds=60)) == 0.01
    assert price_of("my-azure", config.prices) == Price(audio_in=1.0, text_out=2.0)
    assert price_of("gpt-transcribe", config.prices) == PRICES["gpt-transcribe"]


def test_prices_override_from_the_environment(tmp_path: Path) -> None:
    env = {"TRAY_STT_PRICES": '{ "x" = { per_minute = 0.02 } }'}
    config = load_config(tmp_path / "none.toml", must_exist=False, env=env, overrides={})
    assert config.prices == {"x": Price(per_minute=0.02)}


@pytest.mark.parametrize(
    "text",
    [
        "prices = 3",
        'prices = { "x" = { per_second = 1 } }',
        'prices = { "x" = { per_minute = -1 } }',
        'prices = { "x" = { per_minute = 1, audio_in = 2 } }',
    ],
)
def test_prices_bad_override_is_refused_with_a_sentence(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError, match="prices"):
        load_config(path, must_exist=True, env={}, overrides={})


def item(
    model: str,
    usage: Usage | None,
    *,
    day: date = DAY,
    completed: bool = True,
    latency_ms: int | None = 500,
) -> Item:
    return Item(day, model, completed, 1500, usage, latency_ms)


def test_summarize_by_day_and_by_model() -> None:
    items = [
        item("whisper-1", Usage(seconds=60)),
        item("gpt-4o-transcribe", Usage(None, 100, 10, 100, 0)),
        item("whisper-1", None, completed=False),  # failed, nothing billed
        item("whisper-1", Usage(seconds=30), day=date(2026, 12, 3)),
    ]
    by_day = summarize(items, None)
    assert by_day[0] == Row("2026-12-02", None, 4.5, 60.0, 100, 10, 2, pytest.approx(0.0067))
    assert by_day[1].date == "2026-12-03" and by_day[1].cost_usd == pytest.approx(0.003)
    by_model = summarize(items, None, by_model=True)
    assert [(r.date, r.model, r.transcripts) for r in by_model] == [
        ("2026-12-02", "gpt-4o-transcribe", 1),
        ("2026-12-02", "whisper-1", 1),
        ("2026-12-03", "whisper-1", 1),
    ]


def test_summarize_model_without_price_is_metered_with_unknown_cost() -> None:
    [row] = summarize([item("acme-transcribe", Usage(seconds=60))], None, by_model=True)
    assert row.cost_usd is None and row.billed_s == 60 and row.transcripts == 1
    [priced] = summarize(
        [item("acme-transcribe", Usage(seconds=60))], {"acme-transcribe": Price(per_minute=1)}
    )
    assert priced.cost_usd == 1


def test_latency_median_and_nearest_rank_p95() -> None:
    items = [item("m", None, latency_ms=ms) for ms in range(100, 2100, 100)]  # 20 values
    items.append(item("m", None, latency_ms=None, completed=False))
    result = latency(items)
    assert result is not None
    assert (result.count, result.median_ms, result.p95_ms) == (20, 1050, 1900)
    assert latency([]) is None
