"""The clipboard: copy and read back with the platform's tools, and a sink that never blocks.

The one module that imports pyperclip (lazily, and only off Linux).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable

from tray_stt.transcripts import flatten

_log = logging.getLogger(__name__)


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


_PRIMARY_TOOLS = (["xclip", "-selection", "primary"], ["xsel", "--primary", "--input"])


def primary_copy(text: str) -> None:
    """Own the X11 PRIMARY selection with ``text`` (what Shift+Insert and a middle click paste);
    FileNotFoundError naming xclip when no tool is installed."""
    tool = next((t for t in _PRIMARY_TOOLS if shutil.which(t[0])), None)
    if tool is None:
        raise FileNotFoundError(2, "not installed", "xclip")
    subprocess.run(
        tool,
        input=text.encode("utf-8"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
        timeout=5,
    )


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
