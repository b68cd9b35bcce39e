"""Start at login, the part the three platforms share: the command to register, the status.

Every ``status()`` re-reads the entry actually on disk or in the registry, so it tells the truth
after the user edited or removed it by hand.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tray_stt.errors import AutostartError
from tray_stt.files import replace_file

QUIET_START = "--quiet-start"
FIX_HINT = "run `tray-stt autostart enable` to register this installation"
MARKER_KEY = "X-tray-stt-Version"  # how we tell our desktop entry from one the user wrote

Runner = Callable[..., "subprocess.CompletedProcess[str]"]
ShowCommand = Callable[[Sequence[str]], str]


@dataclass(frozen=True)
class AutostartStatus:
    """Whether tray-stt starts at login, where that is recorded, and a sentence saying so."""

    enabled: bool
    location: str
    detail: str


class Autostart(Protocol):
    """Switches start at login on and off and reports the entry as it actually is now."""

    def enable(self) -> str:
        """Register the current command to run at login; returns a sentence saying where."""
        ...

    def disable(self) -> str:
        """Remove our login entry; returns a sentence saying what was done."""
        ...

    def status(self) -> AutostartStatus:
        """Re-read the entry and report what it will do at the next login; never raises."""
        ...


def current_command(
    *,
    executable: str = sys.executable,
    frozen: bool = getattr(sys, "frozen", False),
    windowless: bool = False,
) -> list[str]:
    """The argv that starts this installation's tray service quietly at login."""
    if not executable:
        raise AutostartError(
            "Cannot tell which program is running (sys.executable is empty), "
            "so start at login cannot be registered."
        )
    # abspath, not resolve(): a venv's python is a symlink to the base interpreter, which
    # cannot import tray_stt.
    exe = Path(os.path.abspath(executable))
    if frozen:
        return [str(exe), QUIET_START]
    if windowless:
        # pythonw.exe is the GUI-subsystem twin of python.exe: no console window at login.
        pythonw = exe.with_name("pythonw.exe")
        if pythonw.is_file():
            return [str(pythonw), "-m", "tray_stt", QUIET_START]
    else:
        script = exe.with_name("tray-stt.exe" if exe.suffix.lower() == ".exe" else "tray-stt")
        if script.is_file():
            return [str(script), QUIET_START]
    return [str(exe), "-m", "tray_stt", QUIET_START]


def tilde(path: Path, home: Path) -> str:
    """`path` as users write it, with their home directory as ``~``."""
    try:
        return str(Path("~") / path.relative_to(home))
    except ValueError:
        return str(path)


def write_atomically(path: Path, data: bytes, shown: str) -> None:
    """Replace `path` by `data` in one rename, so a crash never leaves half an entry behind."""
    try:
        replace_file(path, data, mode=0o644)
    except OSError as exc:
        raise AutostartError(f"Could not write {shown}: {exc.strerror or exc}.") from exc


def remove_entry(path: Path, shown: str) -> None:
    """Delete an autostart file; one already gone is fine, any other failure is said plainly."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise AutostartError(f"Could not remove {shown}: {exc.strerror or exc}.") from exc


def program_exists(program: str, environ: Mapping[str, str]) -> bool:
    """Whether the program an entry runs is still there (a bare name is looked up in PATH)."""
    if os.path.isabs(program):
        return os.path.isfile(program)
    return shutil.which(program, path=environ.get("PATH", os.defpath)) is not None


def registered_status(
    argv: Sequence[str],
    current: Sequence[str],
    *,
    location: str,
    where: str,
    environ: Mapping[str, str],
    show: ShowCommand = shlex.join,
) -> AutostartStatus:
    """The status of an entry that is switched on: disabled after all if its program is gone."""
    if not argv:
        return AutostartStatus(
            False, location, f"disabled: {where} has an empty command; {FIX_HINT}."
        )
    if not program_exists(argv[0], environ):
        return AutostartStatus(
            False,
            location,
            f"the entry {where} runs a program that no longer exists: {argv[0]}; {FIX_HINT}.",
        )
    if list(argv) != list(current):
        return AutostartStatus(
            True,
            location,
            f"enabled: {where}, but it runs {show(argv)} rather than this installation's "
            f"{show(current)}; {FIX_HINT}.",
        )
    return AutostartStatus(True, location, f"enabled: {where}")
