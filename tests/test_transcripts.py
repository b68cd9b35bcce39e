"""Tests of tray_stt.transcripts: the daily log and the clipboard sink."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyperclip
import pytest

from tray_stt.config import Config, default_log_dir
from tray_stt.desktop.clipboard import ClipboardSink
from tray_stt.errors import LogWriteError
from tray_stt.transcripts import DailyLog, daily_log, flatten, log_file, log_first

NOV23 = datetime(2026, 11, 23, 14, 5, 9)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[DailyLog]:
    """A DailyLog in a not yet existing directory."""
    with DailyLog(tmp_path / "logs") as daily:
        yield daily


@pytest.fixture
def seoul_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is Asia/Seoul (UTC+9, no DST) for the test."""
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is POSIX only")
    monkeypatch.setenv("TZ", "Asia/Seoul")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_daily_log_appends_timestamped_line_and_fsyncs(
    log: DailyLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    at_fsync: list[str] = []
    writes: list[bytes] = []
    real_fsync, real_write = os.fsync, os.write

    def spy_write(fd: int, data: bytes) -> int:
        writes.append(bytes(data))
        return real_write(fd, data)

    def spy_fsync(fd: int) -> None:
        real_fsync(fd)
        at_fsync.append(log.path_for(NOV23.date()).read_text(encoding="utf-8"))

    monkeypatch.setattr(os, "write", spy_write)
    monkeypatch.setattr(os, "fsync", spy_fsync)
    path = log.append("hello world", NOV23)
    log.append("  second  ", NOV23 + timedelta(seconds=1))
    assert path == log.directory / "2026-11-23.txt"
    expected = "14:05:09  hello world\n14:05:10  second\n"
    assert path.read_text(encoding="utf-8") == expected
    assert writes == [b"14:05:09  hello world\n", b"14:05:10  second\n"]  # one write per line
    assert at_fsync == ["14:05:09  hello world\n", expected]  # on disk when fsync returns


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("one\ntwo\r\nthree\rfour", "one two three four"),
        ("a\u2028b\u2029c\x85d\ve\ff", "a b c d e f"),
        ("  lead and trail  \n", "lead and trail"),
        ("gap \n\n\n  wide", "gap wide"),
        ("tabs\tstay", "tabs\tstay"),
    ],
)
def test_daily_log_flattens_line_breaks(log: DailyLog, text: str, line: str) -> None:
    assert flatten(text) == line
    path = log.append(text, NOV23)
    assert path is not None
    assert path.read_text(encoding="utf-8") == f"14:05:09  {line}\n"


@pytest.mark.parametrize("text", ["", "   ", "\n\r\u2028 \t"])
def test_daily_log_skips_empty_transcript(log: DailyLog, text: str) -> None:
    assert log.append(text, NOV23) is None
    assert not log.directory.exists()


def test_daily_log_files_each_line_under_its_own_date(log: DailyLog) -> None:
    before = datetime(2026, 11, 23, 23, 59, 59, 900_000)
    after = datetime(2026, 11, 24, 0, 0, 1)
    late = datetime(2026, 11, 23, 23, 59, 58)  # spoken before midnight, completed after it
    assert log.append("last words", before) == log.directory / "2026-11-23.txt"
    assert log.append("new day", after) == log.directory / "2026-11-24.txt"
    assert log.append("straggler", late) == log.directory / "2026-11-23.txt"
    old = log.path_for(date(2026, 11, 23)).read_text(encoding="utf-8")
    assert old == "23:59:59  last words\n23:59:58  straggler\n"
    assert log.path_for(date(2026, 11, 24)).read_text(encoding="utf-8") == "00:00:01  new day\n"
    assert sorted(p.name for p in log.directory.iterdir()) == ["2026-11-23.txt", "2026-11-24.txt"]


@pytest.mark.usefixtures("seoul_time")
def test_daily_log_converts_aware_times_to_local(log: DailyLog) -> None:
    utc = datetime(2026, 11, 23, 15, 30, 0, tzinfo=UTC)  # 00:30 next day in Seoul
    path = log.append("annyeong", utc)
    assert path == log.directory / "2026-11-24.txt"
    assert path.read_text(encoding="utf-8") == "00:30:00  annyeong\n"
    naive = datetime(2026, 11, 23, 15, 30, 0)  # naive means local already
    assert log.append("local", naive) == log.directory / "2026-11-23.txt"


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o277])
def test_daily_log_creates_private_directory_and_file(tmp_path: Path, umask: int) -> None:
    (tmp_path / "data").mkdir()  # only the leaf is ours to create: parents keep the umask
    old = os.umask(umask)
    try:
        with DailyLog(tmp_path / "data" / "logs") as log:
            path = log.append("secret", NOV23)
    finally:
        os.umask(old)
    assert path is not None
    assert stat.S_IMODE(log.directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 & ~umask


def test_daily_log_tightens_loose_permissions_with_one_notice_each(tmp_path: Path) -> None:
    directory = tmp_path / "logs"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)  # as restored from a backup
    existing = log_file(directory, NOV23.date())
    existing.write_text("09:00:00  before\n")
    existing.chmod(0o644)
    notices: list[str] = []
    with DailyLog(directory) as log:
        for _ in range(3):
            log_first(log, "private words", NOV23, pytest.fail, notices.append)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600
    assert notices == [
        f"Made the transcript log {directory} private (mode 755 → 700).",
        f"Made the transcript log {existing} private (mode 644 → 600).",
    ]


def test_daily_log_unwritable_directory_names_path_and_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "ro"
    directory.mkdir(mode=0o500)
    if os.access(directory, os.W_OK):  # root writes anywhere: make open() fail as for a user
        real_open = os.open

        def refuse(path: str, flags: int, mode: int = 0o777) -> int:
            if str(path).startswith(str(directory)):
                raise PermissionError(13, "Permission denied", path)
            return real_open(path, flags, mode)

        monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(LogWriteError) as error:
        DailyLog(directory).append("lost?", NOV23)
    target = directory / "2026-11-23.txt"
    assert str(error.value) == f"Cannot write the transcript log {target}: Permission denied."


def test_daily_log_directory_that_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(LogWriteError, match=str(blocker / "logs")):
        DailyLog(blocker / "logs").append("x", NOV23)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_daily_log_disk_full_then_recovers(tmp_path: Path) -> None:
    log = DailyLog(tmp_path)
    target = log.path_for(NOV23.date())
    target.symlink_to("/dev/full")  # every write fails with ENOSPC, as on a full disk
    with pytest.raises(LogWriteError) as error:
        log.append("first", NOV23)
    assert str(target) in str(error.value) and "No space left" in str(error.value)
    target.unlink()
    assert log.append("second", NOV23) == target  # the failed fd was dropped, not reused
    assert target.read_text(encoding="utf-8") == "14:05:09  second\n"
    log.close()


LINE = re.compile(r"\d\d:\d\d:\d\d  \S.*")


def well_formed(path: Path) -> list[str]:
    """The lines of a log file, each checked to be whole and well formed."""
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), f"partial last line: {data[-40:]!r}"
    lines = data.decode("utf-8").splitlines()
    assert all(LINE.fullmatch(line) for line in lines), lines
    return lines


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs: writes on it fail with ENOSPC once it is full."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs: {done.stderr.strip() or done.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_daily_log_full_disk_keeps_lines_whole_and_reports_once(small_disk: Path) -> None:
    filler = small_disk / "filler"
    filler.write_bytes(b"x" * 16384)
    reports: list[LogWriteError] = []
    notices: list[str] = []
    delivered = 0
    with DailyLog(small_disk / "logs") as log:
        for index in range(300):
            text = f"transcript {index} " + "words " * 40
            delivered += log_first(log, text, NOV23, reports.append, notices.append)
        path = log.path_for(NOV23.date())
        lines = well_formed(path)
        assert 0 < len(lines) < 300 and delivered == 300
        assert [("No space left" in str(r)) for r in reports] == [True]
        filler.unlink()  # space comes back
        log_first(log, "after the disk emptied", NOV23, reports.append, notices.append)
        assert len(reports) == 1
        assert notices == [f"The transcript log in {log.directory} is being written again."]
        assert well_formed(path)[-1] == "14:05:09  after the disk emptied"


def test_daily_log_repairs_a_partial_last_line_before_appending(tmp_path: Path) -> None:
    path = log_file(tmp_path, NOV23.date())
    path.write_bytes(b"06:32:20  whole\n06:32:26  ")
    path.chmod(0o600)
    tmp_path.chmod(0o700)
    notices: list[str] = []
    with DailyLog(tmp_path) as log:
        log_first(log, "alpha", NOV23, pytest.fail, notices.append)
    assert well_formed(path) == ["06:32:20  whole", "14:05:09  alpha"]
    removed = f"Removed an incomplete last line (10 bytes) from the transcript log {path}."
    assert notices == [removed]


def test_daily_log_directory_that_is_a_file_is_reported_once(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    reports: list[LogWriteError] = []
    with DailyLog(blocker / "logs") as log:
        words = [log_first(log, f"line {i}", NOV23, reports.append) for i in range(5)]
    assert words == [True] * 5 and len(reports) == 1


def test_daily_log_unicode_round_trip(log: DailyLog) -> None:
    text = "회의는 내일 오후 3시 — 확인 ✓ café"
    path = log.append(text, NOV23)
    assert path is not None
    assert path.read_bytes().decode("utf-8") == f"14:05:09  {text}\n"


def _open_fds_to(path: Path) -> int:
    fd_dir = Path("/proc/self/fd")
    return sum(1 for fd in fd_dir.iterdir() if os.path.realpath(fd) == str(path.resolve()))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_daily_log_keeps_one_fd_per_day_and_closes(tmp_path: Path) -> None:
    with DailyLog(tmp_path) as log:
        first = log.append("a", NOV23)
        log.append("b", NOV23)
        assert first is not None and _open_fds_to(first) == 1
        second = log.append("c", NOV23 + timedelta(days=1))
        assert second is not None and _open_fds_to(first) == 0 and _open_fds_to(second) == 1
    assert _open_fds_to(second) == 0
    assert log.append("d", NOV23) == first  # reopens after close
    log.close()
    assert first.read_text(encoding="utf-8").count("\n") == 3


def test_default_log_dir_is_per_user_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
        assert default_log_dir() == tmp_path / "tray-stt" / "logs"
    assert default_log_dir().parts[-2:] == ("tray-stt", "logs")


class FakeClipboard:
    """An in-memory clipboard whose paste can be broken, and whose copy can hang or raise."""

    def __init__(self, *, echo: bool = True) -> None:
        self.value, self.echo, self.copies = "", echo, list[str]()
        self.gate: threading.Event | None = None
        self.error: Exception | None = None

    def copy(self, text: str) -> None:
        if self.gate is not None:
            self.gate.wait(10)
        if self.error is not None:
            raise self.error
        self.copies.append(text)
        self.value = text

    def paste(self) -> str:
        return self.value if self.echo else ""


def _sink(fake: FakeClipboard) -> tuple[ClipboardSink, list[str]]:
    warnings: list[str] = []
    return ClipboardSink(warnings.append, copy=fake.copy, paste=fake.paste), warnings


def _submit_all(sink: ClipboardSink, texts: list[str]) -> None:
    for text in texts:
        sink.submit(text)
        assert sink.wait_idle(5)


def test_clipboard_sink_copies_and_verifies() -> None:
    fake = FakeClipboard()
    sink, warnings = _sink(fake)
    _submit_all(sink, ["héllo — ✓", "second"])
    sink.close()
    assert fake.copies == ["héllo — ✓", "second"] and fake.value == "second"
    assert warnings == []


def test_clipboard_sink_warns_once_on_mismatch() -> None:
    fake = FakeClipboard(echo=False)  # like wl-copy without a compositor: "works", pastes ""
    sink, warnings = _sink(fake)
    _submit_all(sink, ["one", "two", "three"])
    sink.close()
    assert len(fake.copies) == 3 and len(warnings) == 1
    assert warnings[0].startswith("Could not copy the transcript to the clipboard")
    if sys.platform.startswith("linux"):
        assert "xclip" in warnings[0] and "wl-clipboard" in warnings[0]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            pyperclip.PyperclipException("Pyperclip could not find a copy/paste mechanism"),
            "install",
        ),
        (RuntimeError("xclip crashed\nbadly"), "xclip crashed badly"),
    ],
)
def test_clipboard_sink_warns_once_on_exception(error: Exception, expected: str) -> None:
    fake = FakeClipboard()
    fake.error = error
    sink, warnings = _sink(fake)
    _submit_all(sink, ["one", "two", "three"])
    assert len(warnings) == 1 and expected in warnings[0] and "\n" not in warnings[0]
    fake.error = OSError("another problem")
    _submit_all(sink, ["four", "five"])
    sink.close()
    assert len(warnings) == 2 and "another problem" in warnings[1]


def test_clipboard_sink_warns_again_after_recovery() -> None:
    fake = FakeClipboard(echo=False)
    sink, warnings = _sink(fake)
    _submit_all(sink, ["a", "b"])
    fake.echo = True
    _submit_all(sink, ["c"])
    fake.echo = False
    _submit_all(sink, ["d", "e"])
    sink.close()
    assert len(warnings) == 2


def test_clipboard_sink_submit_never_blocks_and_keeps_newest() -> None:
    fake = FakeClipboard()
    fake.gate = threading.Event()  # the clipboard tool hangs until the gate opens
    sink, warnings = _sink(fake)
    started = time.monotonic()
    sink.submit("first")
    assert not sink.wait_idle(0.2)  # "first" is stuck in copy()
    for i in range(100):
        sink.submit(f"queued {i}")
    # A submit that waited for the stuck copy would wait for the gate, which opens only below.
    assert time.monotonic() - started < 10
    fake.gate.set()
    assert sink.wait_idle(5)
    sink.close()
    assert fake.copies == ["first", "queued 99"] and warnings == []


def test_clipboard_sink_close_drains_queue_and_ignores_late_submits() -> None:
    fake = FakeClipboard()
    sink, _ = _sink(fake)
    sink.submit("last words")
    sink.close(timeout=5)
    sink.submit("too late")
    assert fake.copies == ["last words"]


def test_clipboard_sink_ignores_blank_text() -> None:
    fake = FakeClipboard()
    sink, _ = _sink(fake)
    _submit_all(sink, ["", "  \n "])
    sink.close()
    assert fake.copies == []


def test_clipboard_sink_survives_failing_warning_callback() -> None:
    fake = FakeClipboard(echo=False)
    calls: list[str] = []

    def explode(message: str) -> None:
        calls.append(message)
        raise RuntimeError("the tray is gone")

    sink = ClipboardSink(explode, copy=fake.copy, paste=fake.paste)
    _submit_all(sink, ["one"])
    fake.echo = True
    _submit_all(sink, ["two"])  # the worker is still alive
    sink.close()
    assert fake.copies == ["one", "two"] and len(calls) == 1


def _xclip_read(display: str) -> str:
    env = {**os.environ, "DISPLAY": display}
    command = ["xclip", "-o", "-selection", "clipboard"]
    result = subprocess.run(command, env=env, capture_output=True, check=True, timeout=10)
    return result.stdout.decode("utf-8")


@pytest.mark.desktop
def test_clipboard_sink_real_xclip_round_trip(xvfb_env: str) -> None:
    if shutil.which("xclip") is None:
        pytest.skip("xclip is not installed (apt install xclip)")
    text = "héllo — ✓ 안녕하세요"
    warnings: list[str] = []
    sink = ClipboardSink(warnings.append)  # the default backend: pyperclip picks xclip
    sink.submit(text)
    assert sink.wait_idle(10)
    sink.close()
    assert warnings == []
    assert _xclip_read(xvfb_env) == text


@pytest.mark.desktop
def test_clipboard_works_once_a_display_appears_after_a_first_use_without_one(
    xvfb_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyperclip picks its backend once per process; the tray may start before the display."""
    if shutil.which("xclip") is None:
        pytest.skip("xclip is not installed (apt install xclip)")
    import pyperclip

    from tray_stt.desktop.clipboard import clipboard_paste

    monkeypatch.delenv("DISPLAY")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with contextlib.suppress(pyperclip.PyperclipException):
        clipboard_paste()  # without a display: pyperclip settles on "no clipboard"
    monkeypatch.setenv("DISPLAY", xvfb_env)
    warnings: list[str] = []
    sink = ClipboardSink(warnings.append)
    sink.submit("after the display came")
    assert sink.wait_idle(10)
    sink.close()
    assert warnings == []
    assert _xclip_read(xvfb_env) == "after the display came"


def test_daily_log_follows_the_log_setting(tmp_path: Path) -> None:
    assert daily_log(Config(log_dir=tmp_path, log=False)) is None
    log = daily_log(Config(log_dir=tmp_path))
    assert log is not None and log.directory == tmp_path
    assert (
        log.path_for(NOV23.date())
        == log_file(tmp_path, NOV23.date())
        == tmp_path / "2026-11-23.txt"
    )
