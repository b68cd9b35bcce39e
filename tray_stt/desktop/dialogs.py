"""Asking the desktop: open a file or folder with its default application, ask for a secret."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tray_stt.audio.portaudio import without_our_stream_names
from tray_stt.errors import ConfigError


def open_path(path: Path) -> None:
    """Open a file or folder with the desktop's default application; ConfigError (naming the
    file and what to install) when that cannot be done."""
    try:
        if sys.platform == "win32":
            os.startfile(path)  # type: ignore[attr-defined]
            return
        opener = "open" if sys.platform == "darwin" else "xdg-open"
        if shutil.which(opener) is None:
            raise ConfigError(
                f"Cannot open {path}: xdg-open is not installed (on Debian or Ubuntu: "
                "sudo apt install xdg-utils)."
            )
        subprocess.Popen(
            [opener, str(path)],
            env=without_our_stream_names(os.environ),  # the opened app is not tray-stt
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except OSError as exc:
        raise ConfigError(f"Cannot open {path}: {exc.strerror or exc}.") from exc


def ask_secret(title: str, prompt: str) -> str | None:
    """Ask for a secret in a dialog labelled ``prompt``, typed hidden (zenity or kdialog).

    None: no dialog program is installed; "": the user cancelled or entered nothing. Blocks
    until the dialog closes, so call it off the tray's thread.
    """
    for command in (
        # zenity --password says "Type your password": an API key is not the login password.
        ["zenity", "--entry", "--hide-text", f"--title={title}", f"--text={prompt}"],
        ["kdialog", "--title", title, "--password", prompt],
    ):
        if shutil.which(command[0]):
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL
            )
            return result.stdout.strip() if result.returncode == 0 else ""
    return None
