"""Where completed transcripts go: a daily log on disk (first, fsynced) and the clipboard.

Each sink is isolated: the clipboard runs on its own thread, so a hung clipboard tool can never
delay or lose a line of the log.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import platformdirs

from tray_stt.errors import LogWriteError

if TYPE_CHECKING:  # config imports this module (default_log_dir)
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


def default_log_dir() -> Path:
    """The per-user directory of daily transcript logs."""
    return platformdirs.user_data_path("tray-stt") / "logs"


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


def _clipboard_hint() -> str:
    if sys.platform.startswith("linux"):
        return "install xclip (X11) or wl-clipboard (Wayland)"
    return "no clipboard mechanism is available"


# On Linux we run the clipboard tools ourselves, choosing by the environment of each call:
# pyperclip starts them with our stdout and stderr (xclip, xsel and wl-copy stay in the background
# to own the selection, so a pipe reading our output, `tray-stt ... | cat`, would never end), and it
# picks its backend once per process, so a first use without a display would stick. pyperclip
# does everything else (macOS, Windows). Each entry: (variable, copy command, paste command).
_LINUX_CLIPBOARD_TOOLS = (
    ("WAYLAND_DISPLAY", ["wl-copy", "--type", "text/plain"], ["wl-paste", "--no-newline"]),
    ("DISPLAY", ["xclip", "-selection", "clipboard"], ["xclip", "-o", "-selection", "clipboard"]),
    ("DISPLAY", ["xsel", "--clipboard", "--input"], ["xsel", "--clipboard", "--output"]),
)


def _linux_clipboard_tool() -> tuple[list[str], list[str]] | None:
    if not sys.platform.startswith("linux"):
        return None
    for variable, copy, paste in _LINUX_CLIPBOARD_TOOLS:
        if os.environ.get(variable) and shutil.which(copy[0]) and shutil.which(paste[0]):
            return copy, paste
    return None


def clipboard_copy(text: str) -> None:
    tool = _linux_clipboard_tool()
    if tool is not None:
        subprocess.run(
            tool[0],
            input=text.encode("utf-8"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
            timeout=5,
        )
        return
    import pyperclip  # the one module that imports it, lazily: the first copy picks a backend

    pyperclip.copy(text)


def clipboard_paste() -> str:
    tool = _linux_clipboard_tool()
    if tool is not None:
        # An empty clipboard is an error exit for xclip and wl-paste; it reads as "" (as pyperclip).
        result = subprocess.run(tool[1], stdin=subprocess.DEVNULL, capture_output=True, timeout=5)
        return result.stdout.decode("utf-8", "replace")
    import pyperclip

    return str(pyperclip.paste())


class ClipboardSink:
    """Copies each transcript to the clipboard on a daemon thread, verifying it by reading back."""

    def __init__(
        self,
        on_warning: Callable[[str], None],
        *,
        copy: Callable[[str], None] | None = None,
        paste: Callable[[], str] | None = None,
    ) -> None:
        """Start the worker; `on_warning` gets one sentence per distinct clipboard problem."""
        self._on_warning = on_warning
        self._copy = copy or clipboard_copy
        self._paste = paste or clipboard_paste
        self._cond = threading.Condition()
        self._pending: str | None = None
        self._busy = False
        self._closing = False
        self._warned: set[str] = set()
        self._thread = threading.Thread(target=self._run, name="clipboard", daemon=True)
        self._thread.start()

    def submit(self, text: str) -> None:
        """Queue `text` for copying and return at once; a newer text replaces an unstarted one."""
        if not text.strip():
            return  # never replace what the user has on the clipboard with nothing
        with self._cond:
            if self._closing:
                return  # shutting down: the log has the transcript, the clipboard is best effort
            self._pending = text
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or being copied; False if `timeout` seconds passed first."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._pending is None and not self._busy, timeout=timeout
            )

    def close(self, timeout: float = 1.0) -> None:
        """Copy what is still queued, then stop the worker (waiting at most `timeout` seconds)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def _run(self) -> None:
        while (text := self._next()) is not None:
            try:
                self._copy_verified(text)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _next(self) -> str | None:
        with self._cond:
            self._cond.wait_for(lambda: self._pending is not None or self._closing)
            text, self._pending = self._pending, None
            self._busy = text is not None
            return text

    def _copy_verified(self, text: str) -> None:
        try:
            self._copy(text)
            pasted = self._paste()
        except Exception as e:  # whatever the backend raises is a warning, never a dead thread
            self._warn(*_describe(e))
            return
        if pasted != text:
            # pyperclip "succeeds" silently when wl-copy cannot reach a compositor: reading back
            # is the only way to notice.
            self._warn(
                "mismatch", f"Could not copy the transcript to the clipboard: {_clipboard_hint()}."
            )
            return
        self._warned.clear()  # it works (again): a later failure deserves a new warning

    def _warn(self, problem: str, message: str) -> None:
        if problem in self._warned:
            return
        self._warned.add(problem)
        try:
            self._on_warning(message)
        except Exception:
            _log.exception("the clipboard warning callback failed")


def _describe(error: Exception) -> tuple[str, str]:
    """A key that identifies the kind of problem, and the sentence to show for it."""
    kind = type(error).__name__
    # Matched by name, as pyperclip is imported lazily (if at all); its subclasses count too.
    if any(cls.__name__ == "PyperclipException" for cls in type(error).__mro__):
        return kind, f"Could not copy the transcript to the clipboard: {_clipboard_hint()}."
    cause = flatten(str(error)).rstrip(".") or kind
    return kind, f"Could not copy the transcript to the clipboard: {cause}."
