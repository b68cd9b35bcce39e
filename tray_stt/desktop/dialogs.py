"""Asking the desktop: open a file or folder with its default application, ask for a secret."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tray_stt.errors import ConfigError


def open_path(path: Path) -> None:
    """Open a file or folder with the desktop's default application."""
    if sys.platform == "win32":
        os.startfile(path)  # type: ignore[attr-defined]
        return
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    if shutil.which(opener) is None:
        raise ConfigError(f"Cannot open {path}: {opener} is not installed.")
    subprocess.Popen([opener, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def ask_secret(title: str, prompt: str) -> str | None:
    """A password dialog through zenity or kdialog; None when neither exists or it was cancelled."""
    for command in (
        ["zenity", "--password", f"--title={title}"],
        ["kdialog", "--title", title, "--password", prompt],
    ):
        if shutil.which(command[0]):
            result = subprocess.run(command, capture_output=True, text=True, timeout=300)
            return result.stdout.strip() or None if result.returncode == 0 else None
    return None
