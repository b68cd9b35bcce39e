"""Desktop helpers for the dictation tests: a speaking microphone, a Tk Entry and terminals
(xterm, rxvt-unicode) to type into, and the clipboard, all on the test's Xvfb.

The microphone is a private PulseAudio daemon whose default source is the monitor of a null sink:
PortAudio reads it in real time (an ALSA `file` device runs unpaced, far faster than real time,
which a microphone that stays open between turns cannot use), and ``speak`` plays a WAV into it
while the test holds the hotkey.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import REPO

TK_ENTRY = r"""
import sys, tkinter
out = sys.argv[1]
root = tkinter.Tk(className="DictationTarget")
root.title("dictation target")
text = tkinter.StringVar()
def save(*_):
    with open(out + ".tmp", "w", encoding="utf-8") as f:
        f.write(text.get())
    import os; os.replace(out + ".tmp", out)
text.trace_add("write", save)
entry = tkinter.Entry(root, textvariable=text, width=60)
entry.pack()
def ready():
    entry.focus_force()
    root.update()
    print(root.wm_frame(), flush=True)
root.after(200, ready)
root.mainloop()
"""

# Ctrl+Shift+V pastes the CLIPBOARD, as in desktop terminals (xterm's default is Shift+Insert
# for the PRIMARY selection); `stty raw` hands every byte to cat at once.
XTERM_PASTE = "XTerm*VT100.translations: #override Ctrl Shift <Key>V: insert-selection(CLIPBOARD)"


def require(*tools: str) -> None:
    """Skip when a desktop tool is genuinely absent."""
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (see .ci/setup test)")


def wait_until(predicate: Callable[[], object], timeout: float = 15.0) -> bool:
    """Poll until ``predicate`` is true; False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def focus_window(env: dict[str, str], window: int | str) -> None:
    """Give ``window`` the keyboard focus once it is on screen. A window found by its name (or
    by $WINDOWID) can exist before it is mapped, and X refuses to focus it then (BadMatch)."""
    import Xlib.display
    from Xlib import X

    display = Xlib.display.Display(env["DISPLAY"])
    try:
        handle = display.create_resource_object("window", int(window))
        viewable = wait_until(lambda: handle.get_attributes().map_state == X.IsViewable)
        assert viewable, f"window {window} never came on screen"
    finally:
        display.close()
    subprocess.run(["xdotool", "windowfocus", "--sync", str(window)], env=env, check=True)


def read_text(path: Path) -> str:
    """The file's text, or "" before it exists."""
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return ""


class PulseMicrophone:
    """A private PulseAudio whose default source hears what ``speak`` plays."""

    def __init__(self, tmp_path: Path) -> None:
        require("pulseaudio", "pactl", "paplay")
        run = tmp_path / "pulse-run"
        run.mkdir(mode=0o700)
        home = tmp_path / "pulse-home"
        home.mkdir()
        (home / ".asoundrc").write_text("# PulseAudio devices only\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE_", "ALSA_"))}
        env.update(HOME=str(home), XDG_RUNTIME_DIR=str(run))
        self.env = env
        command = ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1"]
        command += ["--log-target=stderr", "--load=module-native-protocol-unix"]
        command += ["--load=module-null-sink sink_name=room rate=24000 channels=1"]
        self._log = (tmp_path / "pulseaudio.log").open("wb")
        self.daemon = subprocess.Popen(command, env=env, stdout=self._log, stderr=self._log)
        if not wait_until(self._answers, 10):
            self.close()
            raise AssertionError((tmp_path / "pulseaudio.log").read_text(errors="replace"))
        subprocess.run(["pactl", "set-default-source", "room.monitor"], env=env, check=True)

    def _answers(self) -> bool:
        done = subprocess.run(["pactl", "info"], env=self.env, capture_output=True)
        return done.returncode == 0

    def speak(self, wav: Path) -> None:
        """Play ``wav`` into the room, in real time (returns when it has been played)."""
        subprocess.run(["paplay", "--device=room", str(wav)], env=self.env, check=True)

    def close(self) -> None:
        """Stop the daemon."""
        self.daemon.terminate()
        self.daemon.wait(10)
        self._log.close()


class _TextWindow:
    """A window run by ``process`` that writes what it receives to ``out``."""

    out: Path
    process: subprocess.Popen[Any]
    window: int

    @property
    def text(self) -> str:
        """What the window has received so far."""
        return read_text(self.out)

    def close(self) -> None:
        """Close the window."""
        self.process.terminate()
        self.process.wait(10)


class TkEntry(_TextWindow):
    """A Tk window with a focused Entry; ``text`` is what it holds now."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.out = tmp_path / "entry.txt"
        self.process = subprocess.Popen(
            [sys.executable, "-c", TK_ENTRY, str(self.out)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.window = int(self.process.stdout.readline().strip(), 0)


class Terminal(_TextWindow):
    """A terminal emulator (``command``, then ``-e``) running ``cat`` into a file in raw mode."""

    def __init__(self, tmp_path: Path, env: dict[str, str], command: list[str]) -> None:
        require(command[0])
        self.out = tmp_path / f"{command[0]}.txt"
        ident = tmp_path / f"{command[0]}.window"
        script = f"echo $WINDOWID > {ident}; stty raw -echo; exec cat > {self.out}"
        self.process = subprocess.Popen(
            [*command, "-e", "sh", "-c", script], env={**env, "LC_ALL": "C.UTF-8"}
        )
        assert wait_until(lambda: read_text(ident).strip(), 15), f"{command[0]} did not start"
        self.window = int(read_text(ident).strip())
        focus_window(env, self.window)


class XTerm(Terminal):
    """An xterm: stock, or with Ctrl+Shift+V pasting the CLIPBOARD (``paste_chord``), which
    stock xterm does not bind."""

    def __init__(self, tmp_path: Path, env: dict[str, str], *, paste_chord: bool = False) -> None:
        resources = ["-xrm", XTERM_PASTE] if paste_chord else []
        super().__init__(tmp_path, env, ["xterm", "-u8", *resources])


class URxvt(Terminal):
    """A stock rxvt-unicode (WM_CLASS URxvt): Ctrl+Shift+V prints ^V, Shift+Insert pastes
    PRIMARY."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        super().__init__(tmp_path, env, ["urxvt"])


def clipboard(env: dict[str, str]) -> str:
    """The CLIPBOARD selection's text ("" when nobody owns it)."""
    done = subprocess.run(
        ["xclip", "-selection", "clipboard", "-o"], env=env, capture_output=True, timeout=5
    )
    return done.stdout.decode("utf-8", errors="replace") if done.returncode == 0 else ""


def set_clipboard(env: dict[str, str], text: str) -> None:
    """Own the CLIPBOARD with ``text`` (xclip stays in the background to serve it)."""
    subprocess.run(
        ["xclip", "-selection", "clipboard"],
        input=text.encode(),
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=5,
    )


def dictate_env(tmp_path: Path, display: str, pulse: PulseMicrophone) -> dict[str, str]:
    """The environment of a ``tray-stt dictate`` process: our X server, our PulseAudio."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {
        **pulse.env,
        "DISPLAY": display,
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "OPENAI_API_KEY": "test-key",
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
    }


def lines_until(stream: Iterator[str], marker: str, timeout: float = 30.0) -> list[str]:
    """Read lines until one contains ``marker``; all of them (for the failure message)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    for line in stream:
        seen.append(line)
        if marker in line or time.monotonic() > deadline:
            break
    return seen
