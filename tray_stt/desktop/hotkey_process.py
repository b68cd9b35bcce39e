"""The global hotkey in a helper process: pynput listens there, the tray reads its actions.

Why (docs/architecture.md, Hotkeys): on macOS pynput's listener thread asks the Text Input Sources
manager (TIS/TSM, ``keycode_context``) for the keyboard layout, and macOS 14 and later kill a
process that makes those calls off the main thread (SIGTRAP) once it is an application; the tray's
process is one, since pystray runs NSApp on its main thread. The helper is a plain command-line
process: no NSApp, and it runs the listener's event loop *on its own main thread*
(``Listener.run()`` instead of ``start()``), so pynput's TSM calls happen where macOS allows them.

The child, ``python -m tray_stt.desktop.hotkey_process --hotkey CHORD --mode hold|toggle``,
writes one JSON line per event to stdout, flushed: ``{"ready": true}`` once it listens, then
``{"action": "press"|"release"|"cancel"}``; a failure (no display, no permission, a bad chord) is a
single ``{"error": SENTENCE}`` line and a non-zero exit, never a traceback. It exits when its
stdin reaches end of file, which happens when the parent closes it or dies in any way (even
``kill -9``): nothing outlives the tray.

Used on macOS; elsewhere only when ``TRAY_STT_HOTKEY_PROCESS=1`` (so it can be tested under Xvfb).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any

from tray_stt.desktop.keyboard import hotkey_listener, wait_until_listening
from tray_stt.errors import HotkeyUnavailable, TraySttError
from tray_stt.pushtotalk.hotkey import Chord, HotkeyMachine, HotkeyMode, parse_chord
from tray_stt.pushtotalk.talk import TalkAction

_log = logging.getLogger(__name__)

ENV_VAR = "TRAY_STT_HOTKEY_PROCESS"
_START_TIMEOUT_S = 15.0  # importing pynput and opening the display; generous on a loaded machine
_STOP_TIMEOUT_S = 5.0


def use_hotkey_process(
    platform: str = sys.platform, environ: Mapping[str, str] = os.environ
) -> bool:
    """Whether the hotkey listens in a helper process: always on macOS, elsewhere if asked."""
    return platform == "darwin" or environ.get(ENV_VAR) == "1"


class HotkeyProcess:
    """The same interface as keyboard.KeyboardHotkey, with pynput in a child process.

    ``on_action`` runs on a reader thread; it must return quickly.
    """

    def __init__(
        self,
        chord: Chord,
        mode: HotkeyMode,
        on_action: Callable[[TalkAction], None],
        *,
        grab: Callable[[Chord], Callable[[], None]] | None = None,
        python: str = sys.executable,
    ) -> None:
        """Nothing runs until ``start``. ``grab`` as for KeyboardHotkey (done in this process)."""
        self.chord = chord
        self.mode = mode
        self.process: subprocess.Popen[str] | None = None
        self._on_action = on_action
        self._grab = grab
        self._ungrab: Callable[[], None] | None = None
        self._python = python
        self._started: queue.Queue[str | None] = queue.Queue()  # None: listening; else why not
        self._stopping = False
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        """Start the helper; HotkeyUnavailable with its sentence if it cannot listen."""
        command = [self._python, "-m", __name__, "--hotkey", str(self.chord)]
        command += ["--mode", self.mode.value]
        try:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                encoding="utf-8",
            )
        except OSError as exc:
            raise HotkeyUnavailable(f"The hotkey helper cannot run ({exc}).") from exc
        self._reader = threading.Thread(
            target=self._read, args=(self.process,), name="tray-stt-hotkey", daemon=True
        )
        self._reader.start()
        try:
            problem = self._started.get(timeout=_START_TIMEOUT_S)
        except queue.Empty:
            problem = f"The hotkey helper did not start listening within {_START_TIMEOUT_S:g} s."
        if problem is not None:
            self.stop()
            raise HotkeyUnavailable(problem)
        if self._grab is not None:
            self._ungrab = self._grab(self.chord)

    def stop(self) -> None:
        """Stop listening: close the helper's stdin, which ends it."""
        self._stopping = True
        if self._ungrab is not None:
            self._ungrab()
            self._ungrab = None
        process, self.process = self.process, None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):  # it is gone already
                process.stdin.close()
        try:
            process.wait(_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(_STOP_TIMEOUT_S)
        if process.stdout is not None:
            process.stdout.close()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        ready = False
        for line in process.stdout:
            message = _parse(line)
            if "error" in message:
                if ready:  # it listened, then stopped
                    _log.warning("The hotkey no longer works: %s", message["error"])
                else:
                    self._started.put(str(message["error"]))
                ready = True  # said why: no second message at the end of the output
                self._stopping = True
            elif message.get("ready") is True:
                ready = True
                self._started.put(None)
            elif "action" in message:
                self._deliver(TalkAction(message["action"]))
        code = process.wait()
        if not ready:
            self._started.put(f"The hotkey helper exited (code {code}) before it listened.")
        elif not self._stopping:
            _log.warning("The hotkey helper exited (code %s): the hotkey no longer works.", code)

    def _deliver(self, action: TalkAction) -> None:
        try:
            self._on_action(action)
        except Exception:  # the reader must keep reading, or the child blocks on a full pipe
            _log.exception("The hotkey action %s failed", action.value)


def _parse(line: str) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError:
        message = None
    if not isinstance(message, dict):
        return {"error": f"The hotkey helper said something unexpected: {line.strip()[:200]!r}."}
    if "action" in message and message["action"] not in {a.value for a in TalkAction}:
        return {"error": f"The hotkey helper sent an unknown action {message['action']!r}."}
    return message


# The child.


def main(argv: Sequence[str] | None = None) -> int:
    """Listen to the keyboard until stdin closes; see the module docstring for the protocol."""
    parser = argparse.ArgumentParser(prog="python -m tray_stt.desktop.hotkey_process")
    parser.add_argument("--hotkey", required=True)
    parser.add_argument("--mode", choices=[m.value for m in HotkeyMode], default="hold")
    args = parser.parse_args(argv)
    # Ctrl+C in the terminal reaches the whole process group: the tray handles it and then
    # closes our stdin; dying first would print a traceback and lose the key-up.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = sys.stdout
    try:
        listener = _listener(parse_chord(args.hotkey), HotkeyMode(args.mode), out)
    except TraySttError as exc:
        return _fail(out, str(exc))
    except Exception as exc:  # a bug or an unexpected pynput failure: still one sentence
        return _fail(out, f"The hotkey helper failed: {_first_line(exc)}.")
    threading.Thread(target=_exit_at_eof, daemon=True).start()
    threading.Thread(target=_say_ready, args=(listener, out), daemon=True).start()
    try:
        listener.run()  # on this, the main thread (the point of this process on macOS)
    except Exception as exc:  # pynput raises Xlib and OS errors as they come
        return _fail(out, f"The keyboard cannot be watched ({_first_line(exc)}).")
    # The listener ended by itself: macOS refused the event tap (pynput then just returns), the
    # display went away, or writing to the parent failed.
    if sys.platform == "darwin" and not getattr(listener, "IS_TRUSTED", True):
        from tray_stt.desktop.keyboard import MACOS_UNTRUSTED

        return _fail(out, MACOS_UNTRUSTED)
    return _fail(out, "The keyboard listener stopped.")


def _listener(chord: Chord, mode: HotkeyMode, out: IO[str]) -> Any:
    def emit(action: TalkAction) -> None:
        try:
            _write(out, {"action": action.value})
        except OSError:  # the parent is gone (its end of the pipe closed): so are we
            os._exit(0)

    return hotkey_listener(HotkeyMachine(chord, mode), emit)


def _say_ready(listener: Any, out: IO[str]) -> None:
    wait_until_listening(listener)
    _write(out, {"ready": True})


def _exit_at_eof() -> None:
    """The parent closed our stdin or died: end at once. Nothing here needs cleaning up; the X
    server (or macOS) drops the listener's connection (or event tap) with the process.

    The raw descriptor, not sys.stdin: a daemon thread blocked inside a buffered reader makes
    interpreter shutdown abort ("could not acquire lock") when the child ends otherwise."""
    try:
        while os.read(0, 4096):
            pass
    finally:
        os._exit(0)


_write_lock = threading.Lock()


def _write(out: IO[str], message: dict[str, Any]) -> None:
    with _write_lock:
        out.write(json.dumps(message) + "\n")
        out.flush()


def _fail(out: IO[str], sentence: str) -> int:
    with contextlib.suppress(OSError):  # the parent is gone: nobody to tell
        _write(out, {"error": sentence})
    return 1


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
