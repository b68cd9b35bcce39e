"""Start at login on this platform, and the ``tray-stt autostart`` command.

Nothing OS-specific is imported at module level: ``winreg`` and ``launchctl`` are injected,
which lets all three platforms be tested on Linux.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, cast

from tray_stt import APP_NAME
from tray_stt.autostart.common import Autostart, Runner, current_command
from tray_stt.autostart.xdg import XdgAutostart
from tray_stt.errors import AutostartError, ExitCode, TraySttError

if TYPE_CHECKING:
    from tray_stt.autostart.windows import Registry


def platform_autostart(
    *,
    system: str = sys.platform,
    home: Path | None = None,
    environ: Mapping[str, str] | None = None,
    winreg: Registry | None = None,
    run: Runner = subprocess.run,
    command: Sequence[str] | None = None,
) -> Autostart:
    """The start-at-login implementation for `system`, built on the injected OS access."""
    home = Path.home() if home is None else home
    env = os.environ if environ is None else environ
    argv = list(command) if command is not None else current_command(windowless=system == "win32")
    if not argv:
        raise AutostartError("Cannot register an empty command to start at login.")
    if system == "win32":
        from tray_stt.autostart.windows import RunKey

        # Imported here: winreg exists only on Windows.
        registry = (
            winreg if winreg is not None else cast("Registry", importlib.import_module("winreg"))
        )
        return RunKey(registry, argv, environ=env)
    if system == "darwin":
        from tray_stt.autostart.macos import LaunchAgent

        return LaunchAgent(home, argv, uid=os.getuid(), run=run, environ=env)
    return XdgAutostart(home, argv, environ=env)


def run_autostart_command(
    action: str,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    autostart: Autostart | None = None,
) -> int:
    """``tray-stt autostart enable|disable|status``: print one sentence, return the exit code."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    if action not in ("enable", "disable", "status"):
        print(
            f"{APP_NAME}: unknown autostart action {action!r}: use enable, disable or status.",
            file=err,
        )
        return int(ExitCode.USAGE)
    try:
        target = platform_autostart() if autostart is None else autostart
        if action == "enable":
            sentence = target.enable()
        elif action == "disable":
            sentence = target.disable()
        else:
            sentence = target.status().detail
    except TraySttError as exc:
        print(f"{APP_NAME}: {exc}", file=err)
        return int(exc.exit_code)
    print(sentence, file=out)
    return int(ExitCode.OK)
