"""Where completed transcripts go: a daily log on disk (first, fsynced) and the clipboard.

Each sink is isolated: the clipboard runs on its own thread, so a hung clipboard tool can never
delay or lose a line of the log.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from tray_stt.errors import LogWriteError

if TYPE_CHECKING:
    from tray_stt.config import Config

_log = logging.getLogger(__name__)

# Every character str.splitlines() breaks on, with the blanks around it: one line per transcript.
_LINE_BREAKS = re.compile(r"\s*[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]+\s*")
# O_CLOEXEC keeps the log out of child processes (xclip lingers as the clipboard owner);
# O_BINARY stops Windows from turning "\n" into "\r\n". Each is 0 where it does not exist.
_OPEN_FLAGS = (
    os.O_WRONLY
    | os.O_APPEND
    | os.O_CREAT
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def log_file(directory: Path, day: date) -> Path:
    """The daily log file of one local date in ``directory``."""
    return directory / f"{day.isoformat()}.txt"


def daily_log(config: Config) -> DailyLog | None:
    """The daily log the configuration asks for: in ``log_dir``, or None when ``log`` is off."""
    return DailyLog(config.log_dir) if config.log else None


def flatten(text: str) -> str:
    """The transcript as one line: each line break (and the blanks around it) becomes one space."""
    return _LINE_BREAKS.sub(" ", text).strip()


class DailyLog:
    """Appends each transcript as `HH:MM:SS  text` to `<directory>/YYYY-MM-DD.txt`, fsynced."""

    def __init__(self, directory: Path) -> None:
        """Log into `directory`, created (mode 0700) at the first append."""
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._day: date | None = None

    def path_for(self, day: date) -> Path:
        """The log file of one local date."""
        return log_file(self.directory, day)

    def append(self, text: str, when: datetime) -> Path | None:
        """Write one line in the file of `when`'s local date; None (nothing written) if empty."""
        line = flatten(text)
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
        written = os.write(fd, data)
        # A short write on a regular file means the disk filled up mid-line: finishing the line
        # either succeeds or raises the OSError (ENOSPC) that tells the user what is wrong.
        while written < len(data):
            written += os.write(fd, data[written:])
        os.fsync(fd)

    def _fd_for(self, day: date) -> int:
        if self._fd is not None and self._day == day:
            return self._fd
        self._close_fd()
        self._make_directory()
        self._fd = os.open(self.path_for(day), _OPEN_FLAGS, 0o600)
        self._day = day
        return self._fd

    def _make_directory(self) -> None:
        if self.directory.is_dir():
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
    log: DailyLog | None, text: str, spoken_at: datetime, report: Callable[[LogWriteError], None]
) -> bool:
    """Write a completed transcript to the log before anything else happens to it.

    Returns whether it holds words worth delivering. A log that refuses it is told to ``report``
    and the caller still delivers the text: it must reach the user even when the disk will not
    take it. Every consumer (listening in the tray, dictation, the console) goes through here.
    """
    if not text.strip():
        return False
    if log is not None:
        try:
            log.append(text, spoken_at)
        except LogWriteError as exc:
            report(exc)
    return True
