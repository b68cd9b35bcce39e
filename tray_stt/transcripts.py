"""Where completed transcripts go: a daily log on disk (first, fsynced) and the clipboard.

Each sink is isolated: the clipboard runs on its own thread, so a hung clipboard tool can never
delay or lose a line of the log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
import threading
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from tray_stt.errors import LogWriteError
from tray_stt.pushtotalk.replacements import Replacement, Replacer

if TYPE_CHECKING:
    from tray_stt.config import Config

_log = logging.getLogger(__name__)

# One line of a daily log, as DailyLog.append writes it: "HH:MM:SS  text".
_LOG_LINE = re.compile(r"(\d\d):(\d\d):(\d\d)  (.*)")
_LOG_NAME = re.compile(r"\d{4}-\d\d-\d\d\.txt")
# Every character str.splitlines() breaks on, with the blanks around it: one line per transcript.
_LINE_BREAKS = re.compile(r"\s*[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]+\s*")
# O_CLOEXEC keeps the log out of child processes (xclip lingers as the clipboard owner);
# O_BINARY stops Windows from turning "\n" into "\r\n". Each is 0 where it does not exist.
# O_RDWR, not O_WRONLY: a partial last line left by a crash is found by reading the file's end.
_OPEN_FLAGS = (
    os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
)


def log_file(directory: Path, day: date) -> Path:
    """The daily log file of one local date in ``directory``."""
    return directory / f"{day.isoformat()}.txt"


@dataclass(frozen=True)
class LogLine:
    """One transcript read back from a daily log: when it was spoken (local time) and its text."""

    when: datetime
    text: str


def parse_log_line(line: str, day: date) -> LogLine | None:
    """A line of ``day``'s log, or None for one that is not ``HH:MM:SS  text`` (edited by hand)."""
    match = _LOG_LINE.fullmatch(line.rstrip("\r\n"))
    if match is None:
        return None
    hour, minute, second = (int(part) for part in match.groups()[:3])
    if hour > 23 or minute > 59 or second > 59 or not match[4].strip():
        return None
    return LogLine(datetime.combine(day, time(hour, minute, second)), match[4])


def log_days(directory: Path) -> list[date]:
    """The dates that have a log file in ``directory``, oldest first; [] if there is none."""
    days = []
    try:
        names = [entry.name for entry in os.scandir(directory) if entry.is_file()]
    except OSError:
        return []
    for name in names:
        if _LOG_NAME.fullmatch(name):
            try:
                days.append(date.fromisoformat(name[:10]))
            except ValueError:
                continue  # 2026-13-45.txt: not one of ours
    return sorted(days)


def read_log(directory: Path, day: date, last: int | None = None) -> list[LogLine]:
    """The transcripts of ``day``'s log in the order written (only the ``last`` ones, if given);
    [] when there is no such file.

    Lines that are not ours (edited by hand) are skipped; bytes that are not UTF-8 are replaced.
    """
    try:
        data = log_file(directory, day).read_bytes()
    except OSError:
        return []
    texts = data.decode("utf-8", "replace").split("\n")
    if last is None:
        lines = (parse_log_line(text, day) for text in texts)
        return [line for line in lines if line is not None]
    found: list[LogLine] = []  # newest first: the tray asks after every transcript
    for text in reversed(texts):
        if len(found) >= last:
            break
        line = parse_log_line(text, day)
        if line is not None:
            found.append(line)
    return found[::-1]


def recent_lines(directory: Path, count: int) -> list[LogLine]:
    """The last ``count`` transcripts of the daily logs, oldest first (across days)."""
    found: list[LogLine] = []
    for day in reversed(log_days(directory)):
        if len(found) >= count:
            break
        found[:0] = read_log(directory, day, last=count - len(found))
    return found


def matches(text: str, words: Iterable[str]) -> bool:
    """Whether every word occurs in ``text``, ignoring case in any script (casefold: "STRASSE"
    finds "Straße")."""
    folded = text.casefold()
    return all(word.casefold() in folded for word in words)


def daily_log(config: Config) -> DailyLog | None:
    """The daily log the configuration asks for: in ``log_dir``, or None when ``log`` is off;
    with the replacements applied when ``replacements_in_log`` is on."""
    if not config.log:
        return None
    return DailyLog(config.log_dir, config.replacements if config.replacements_in_log else ())


def flatten(text: str) -> str:
    """The transcript as one line: each line break (and the blanks around it) becomes one space."""
    return _LINE_BREAKS.sub(" ", text).strip()


class DailyLog:
    """Appends each transcript as `HH:MM:SS  text` to `<directory>/YYYY-MM-DD.txt`, fsynced.

    A line is written whole or not at all: a failed write is cut back to where the file ended,
    and a partial last line left by a crash is removed before the next line is appended.
    """

    def __init__(self, directory: Path, replacements: Collection[Replacement] = ()) -> None:
        """Log into `directory`, created (mode 0700) at the first append; each text with
        ``replacements`` applied (a newline among them becomes a space: one line each)."""
        self.directory = Path(directory)
        self._replacer = Replacer(replacements)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._day: date | None = None
        self._notices: list[str] = []
        self._reported: str | None = None  # the failure last told to the user, if still failing

    def take_notices(self) -> list[str]:
        """What the log did on its own that the user should hear of (permissions, repairs)."""
        with self._lock:
            notices, self._notices = self._notices, []
        return notices

    def failure_changed(self, failure: str | None) -> bool:
        """Record the outcome of an append; True when it differs from the one last recorded."""
        with self._lock:
            changed, self._reported = failure != self._reported, failure
        return changed

    def path_for(self, day: date) -> Path:
        """The log file of one local date."""
        return log_file(self.directory, day)

    def append(self, text: str, when: datetime) -> Path | None:
        """Write one line in the file of `when`'s local date; None (nothing written) if empty."""
        line = flatten(self._replacer.apply(text))
        if not line:
            return None
        # An aware time is converted to local time; a naive one is taken as local already.
        local = when.astimezone() if when.utcoffset() is not None else when
        data = f"{local:%H:%M:%S}  {line}\n".encode()
        path = self.path_for(local.date())
        with self._lock:
            try:
                self._write(local.date(), data)
            except OSError as e:
                self._close_fd()  # the next append opens the file afresh, e.g. after a disk-full
                raise LogWriteError(
                    f"Cannot write the transcript log {path}: {e.strerror or e}."
                ) from e
        return path

    def close(self) -> None:
        """Close the open log file; a later append reopens it."""
        with self._lock:
            self._close_fd()

    def __enter__(self) -> DailyLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _write(self, day: date, data: bytes) -> None:
        fd = self._fd_for(day)
        end = os.fstat(fd).st_size
        try:
            written = os.write(fd, data)
            # A short write on a regular file means the disk filled up mid-line: finishing the
            # line either succeeds or raises the OSError (ENOSPC) that says what is wrong.
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
        except OSError:
            with contextlib.suppress(OSError):  # whole or not at all: cut the partial line off
                os.ftruncate(fd, end)
            raise

    def _fd_for(self, day: date) -> int:
        if self._fd is not None and self._day == day:
            return self._fd
        self._close_fd()
        self._make_directory()
        path = self.path_for(day)
        fd = os.open(path, _OPEN_FLAGS, 0o600)
        try:
            self._tighten(path, os.fstat(fd).st_mode, 0o600, lambda: os.fchmod(fd, 0o600))
            self._repair(fd, path)
        except OSError:
            os.close(fd)
            raise
        self._fd, self._day = fd, day
        return fd

    def _repair(self, fd: int, path: Path) -> None:
        """Remove a partial last line (a crash or power loss mid-write) so lines stay whole."""
        size = os.fstat(fd).st_size
        if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
            return
        start = size
        while start > 0:
            start = max(0, start - 65536)
            newline = os.pread(fd, size - start, start).rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
        else:
            keep = 0
        os.ftruncate(fd, keep)
        self._notices.append(
            f"Removed an incomplete last line ({size - keep} bytes) from the transcript log {path}."
        )

    def _tighten(self, path: Path, mode: int, private: int, chmod: Callable[[], None]) -> None:
        """Take group and other permissions off an existing log (a restored backup may add
        them): transcripts are private."""
        loose = stat.S_IMODE(mode)
        if not loose & 0o077:
            return
        try:
            chmod()
        except OSError as e:
            _log.warning("cannot tighten the permissions of %s: %s", path, e)
            return
        self._notices.append(
            f"Made the transcript log {path} private (mode {loose:o} → {private:o})."
        )

    def _make_directory(self) -> None:
        try:
            mode = self.directory.stat().st_mode
        except OSError:
            mode = None
        if mode is not None and stat.S_ISDIR(mode):
            self._tighten(self.directory, mode, 0o700, lambda: os.chmod(self.directory, 0o700))
            return
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            os.chmod(self.directory, 0o700)  # the umask may have taken bits off the mode
        except OSError as e:
            raise LogWriteError(
                f"Cannot create the transcript log directory {self.directory}: {e.strerror or e}."
            ) from e

    def _close_fd(self) -> None:
        fd, self._fd, self._day = self._fd, None, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                _log.warning("closing the transcript log failed", exc_info=True)


def log_first(
    log: DailyLog | None,
    text: str,
    spoken_at: datetime,
    report: Callable[[LogWriteError], None],
    notify: Callable[[str], None] | None = None,
) -> bool:
    """Write a completed transcript to the log before anything else happens to it.

    Returns whether it holds words worth delivering. A log that refuses it is told to ``report``
    once, and again only when the failure changes; the caller still delivers the text: it must
    reach the user even when the disk will not take it. ``notify`` hears that the log works
    again, and what the log fixed on its own (permissions, a partial line). Every consumer
    (listening in the tray, dictation, the console) goes through here.
    """
    if not text.strip():
        return False
    if log is not None:
        tell = notify or _log.warning
        try:
            log.append(text, spoken_at)
        except LogWriteError as exc:
            if log.failure_changed(str(exc)):
                report(exc)
        else:
            if log.failure_changed(None):
                tell(f"The transcript log in {log.directory} is being written again.")
        for notice in log.take_notices():
            tell(notice)
    return True
