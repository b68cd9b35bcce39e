"""``tray-stt history`` and the log reader behind it and the tray's Recent submenu."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from tray_stt.__main__ import main
from tray_stt.app.history import format_groups, history, parse_day
from tray_stt.errors import ConfigError
from tray_stt.transcripts import (
    DailyLog,
    LogLine,
    log_days,
    matches,
    parse_log_line,
    read_log,
    recent_lines,
)

DEC1 = date(2026, 12, 1)


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    directory = tmp_path / "logs"
    with DailyLog(directory) as log:  # written as the app writes them
        log.append("Guten Morgen, STRASSE eins.", datetime(2026, 11, 30, 8, 0, 1))
        log.append("회의는 세 시에 시작합니다.", datetime(2026, 11, 30, 9, 30, 0))
        log.append("Morning call\nwith Anna.", datetime(2026, 12, 1, 7, 45, 10))
        log.append("Café à la straße.", datetime(2026, 12, 1, 12, 0, 0))
    with (directory / "2026-12-01.txt").open("a", encoding="utf-8") as file:
        file.write("edited by hand\n25:00:00  not a time\n")
    (directory / "notes.txt").write_text("not a log\n")
    return directory


def test_reader_reads_what_daily_log_writes(logs: Path) -> None:
    assert log_days(logs) == [date(2026, 11, 30), DEC1]
    assert read_log(logs, DEC1) == [
        LogLine(datetime(2026, 12, 1, 7, 45, 10), "Morning call with Anna."),
        LogLine(datetime(2026, 12, 1, 12, 0, 0), "Café à la straße."),
    ]
    # Read from the end, past the lines edited by hand that end the file.
    assert read_log(logs, DEC1, last=1) == [
        LogLine(datetime(2026, 12, 1, 12, 0, 0), "Café à la straße.")
    ]
    assert read_log(logs, DEC1, last=5) == read_log(logs, DEC1)
    assert read_log(logs, date(2026, 1, 1)) == []
    assert log_days(logs / "missing") == []
    assert [line.text for line in recent_lines(logs, 3)] == [
        "회의는 세 시에 시작합니다.",
        "Morning call with Anna.",
        "Café à la straße.",
    ]
    assert recent_lines(logs, 0) == []
    assert parse_log_line("12:00:00  ", DEC1) is None
    assert parse_log_line("12:00:00  x\r\n", DEC1) == LogLine(datetime(2026, 12, 1, 12), "x")


def test_matches_every_word_in_any_case_and_script() -> None:
    assert matches("Café à la straße.", ["STRASSE", "café"])
    assert matches("회의는 세 시에 시작합니다.", ["회의는", "시작"])
    assert not matches("Café à la straße.", ["café", "bar"])
    assert matches("anything", [])


def test_parse_day_words_and_dates() -> None:
    assert parse_day("today", DEC1) == DEC1
    assert parse_day("Yesterday", DEC1) == DEC1 - timedelta(days=1)
    assert parse_day("2026-11-30", DEC1) == date(2026, 11, 30)
    for bad in ("30/11/2026", "2026-13-01", "tomorrow", ""):
        with pytest.raises(ConfigError, match="--date takes a day as YYYY-MM-DD"):
            parse_day(bad, DEC1)


def test_history_one_day_has_no_date_line_several_days_do(logs: Path) -> None:
    assert history(logs, None, [], DEC1).lines == [
        "07:45:10  Morning call with Anna.",
        "12:00:00  Café à la straße.",
    ]
    assert history(logs, None, ["strasse"], DEC1).lines == [
        "2026-11-30",
        "08:00:01  Guten Morgen, STRASSE eins.",
        "",
        "2026-12-01",
        "12:00:00  Café à la straße.",
    ]
    assert history(logs, date(2026, 11, 30), ["strasse"], DEC1).lines == [
        "08:00:01  Guten Morgen, STRASSE eins."
    ]
    assert format_groups([]) == []


def test_history_says_why_nothing_is_shown(logs: Path, tmp_path: Path) -> None:
    none = history(tmp_path / "empty", None, [], DEC1)
    assert none.lines == [] and "No transcripts are logged in" in none.empty
    day = history(logs, date(2026, 10, 1), [], DEC1)
    assert day.empty.startswith("No transcripts were logged on 2026-10-01")
    missing = history(logs, None, ["zebra", "café"], DEC1)
    assert missing.empty == f"No transcript in {logs} has all of: zebra café."


def run(
    argv: list[str], logs: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    monkeypatch.setenv("TRAY_STT_LOG_DIR", str(logs))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(logs.parent / "config"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    code = main(["history", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_history_command_output_and_exit_codes(
    logs: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["--date", "2026-12-01"], logs, monkeypatch, capsys)
    assert (code, err) == (0, "")
    assert out == "07:45:10  Morning call with Anna.\n12:00:00  Café à la straße.\n"
    code, out, _ = run(["--search", "시작합니다", "회의는"], logs, monkeypatch, capsys)
    assert (code, out) == (0, "09:30:00  회의는 세 시에 시작합니다.\n")
    code, out, _ = run(["--search", "morning ANNA"], logs, monkeypatch, capsys)  # one argument
    assert (code, out) == (0, "07:45:10  Morning call with Anna.\n")
    code, out, err = run(["--date", "1.12.2026"], logs, monkeypatch, capsys)
    assert code == 2 and out == "" and err.startswith("tray-stt: --date takes a day as")
    code, out, err = run(["--date", "2020-01-01"], logs, monkeypatch, capsys)
    assert code == 1 and out == ""
    assert err == f"tray-stt: No transcripts were logged on 2020-01-01 (the logs are in {logs}).\n"
    code, out, err = run([], logs.parent / "nothing", monkeypatch, capsys)
    assert code == 1 and "No transcripts are logged in" in err
    code, out, _ = run(
        ["--log-dir", str(logs), "--date", "2026-11-30"], logs.parent, monkeypatch, capsys
    )
    assert code == 0 and out.splitlines()[0] == "08:00:01  Guten Morgen, STRASSE eins."
