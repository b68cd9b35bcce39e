"""Start at login on macOS: a launchd LaunchAgent in ``~/Library/LaunchAgents``."""

from __future__ import annotations

import os
import plistlib
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.parsers.expat import ExpatError

from tray_stt.autostart.common import (
    AutostartStatus,
    Runner,
    registered_status,
    remove_entry,
    tilde,
    write_atomically,
)
from tray_stt.errors import AutostartError

LABEL = "com.github.tray-stt"
_LAUNCHCTL_TIMEOUT_S = 10.0


class LaunchAgent:
    """Start at login through ``~/Library/LaunchAgents/com.github.tray-stt.plist``."""

    def __init__(
        self,
        home: Path,
        command: Sequence[str],
        *,
        uid: int,
        run: Runner = subprocess.run,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """Manage the agent of user `uid` under `home`, running `command` through `run`."""
        self.home = home
        self.command = list(command)
        self.run = run
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.path = home / "Library" / "LaunchAgents" / f"{LABEL}.plist"
        self.domain = f"gui/{uid}"
        self.service = f"gui/{uid}/{LABEL}"

    def plist(self) -> dict[str, Any]:
        """The property list of our agent."""
        # No KeepAlive: launchd would relaunch the app each time the user chose Quit.
        return {
            "Label": LABEL,
            "ProgramArguments": self.command,
            "RunAtLoad": True,
            "ProcessType": "Interactive",
            "LimitLoadToSessionType": "Aqua",
        }

    def enable(self) -> str:
        """Write the agent and load it with ``launchctl bootstrap``; launchctl errors are raised."""
        shown = tilde(self.path, self.home)
        self._refuse_if_foreign("replaced")
        write_atomically(self.path, plistlib.dumps(self.plist()), shown)
        # A `launchctl disable` override would make bootstrap fail and login skip the agent.
        self._launchctl("enable", self.service)
        loaded = self._launchctl("bootstrap", self.domain, str(self.path))
        if loaded.returncode == 0:
            return f"tray-stt will start at login: wrote {shown} and loaded it into launchd."
        if self._launchctl("print", self.service).returncode == 0:
            # Already loaded (by this login, or an earlier enable): the new file counts from the
            # next login. Booting it out first would kill a running tray-stt started by it.
            return f"tray-stt will start at login: wrote {shown}; launchd already had it loaded."
        raise AutostartError(
            f"Wrote {shown}, but {_failure(loaded)}, so tray-stt may not start at login; "
            "run `tray-stt autostart status` after logging in again."
        )

    def disable(self) -> str:
        """Unload the agent unless it is running, then delete its file."""
        shown = tilde(self.path, self.home)
        if not os.path.lexists(self.path):
            return f"tray-stt was not set to start at login: there is no {shown}."
        self._refuse_if_foreign("deleted")
        note = self._unload()
        remove_entry(self.path, shown)
        return f"tray-stt will no longer start at login: removed {shown}{note}."

    def status(self) -> AutostartStatus:
        """Re-read the plist and launchd's overrides and report what happens at the next login."""
        location, where = str(self.path), tilde(self.path, self.home)
        if not os.path.lexists(self.path):
            return AutostartStatus(False, location, f"disabled: there is no {where}")
        try:
            argv = _login_argv(self._read())
        except ValueError as exc:
            return AutostartStatus(False, location, f"disabled: {where} {exc}")
        if self._disabled_in_launchd():
            detail = (
                f"disabled: launchd has {LABEL} disabled (`launchctl print-disabled {self.domain}`)"
            )
            return AutostartStatus(False, location, detail)
        return registered_status(
            argv, self.command, location=location, where=where, environ=self.environ
        )

    def _read(self) -> dict[str, Any]:
        try:
            data = plistlib.loads(self.path.read_bytes())
        except (OSError, ValueError, ExpatError) as exc:
            raise ValueError(f"cannot be read as a property list ({exc})") from exc
        if not isinstance(data, dict):
            raise ValueError("is not a property list dictionary")
        return data

    def _refuse_if_foreign(self, verb: str) -> None:
        if not os.path.lexists(self.path):
            return
        try:
            ours = self._read().get("Label") == LABEL
        except ValueError:
            ours = False
        if not ours:
            raise AutostartError(
                f"{tilde(self.path, self.home)} is not tray-stt's agent (its Label is not "
                f"{LABEL}), so it was not {verb}; remove or edit it yourself."
            )

    def _unload(self) -> str:
        """Boot the agent out of launchd if it is loaded but idle; a note when that failed."""
        shown = self._launchctl("print", self.service)
        # `bootout` kills the agent's process: never do that to a running tray-stt (maybe this
        # very process). A loaded agent without KeepAlive never starts again, and without its
        # file it is not loaded at the next login. `print` output is not an API, so only an
        # explicit "not running" lets us unload.
        if shown.returncode != 0 or "state = not running" not in shown.stdout:
            return ""
        unloaded = self._launchctl("bootout", self.service)
        return "" if unloaded.returncode == 0 else f" (though {_failure(unloaded)})"

    def _disabled_in_launchd(self) -> bool:
        listing = self._launchctl("print-disabled", self.domain)
        # Lines look like `"com.github.tray-stt" => disabled` (`=> true` before macOS 13).
        for line in listing.stdout.splitlines():
            name, arrow, state = line.strip().partition("=>")
            if arrow and name.strip().strip('"') == LABEL:
                return state.strip() in ("disabled", "true")
        return False

    def _launchctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = ["launchctl", *args]
        try:
            return self.run(
                argv, capture_output=True, text=True, check=False, timeout=_LAUNCHCTL_TIMEOUT_S
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return subprocess.CompletedProcess(argv, 127, "", str(exc))


def _login_argv(data: Mapping[str, Any]) -> list[str]:
    """The argv launchd runs at login for an agent's plist; ValueError says why it runs nothing."""
    if data.get("Disabled") is True:
        raise ValueError("has Disabled=true")
    if data.get("RunAtLoad") is not True:
        raise ValueError("does not set RunAtLoad, so launchd does not start it at login")
    argv = data.get("ProgramArguments") or ([data["Program"]] if "Program" in data else None)
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise ValueError("has no ProgramArguments list of strings")
    if isinstance(data.get("Program"), str):
        argv = [data["Program"], *argv[1:]]  # launchd runs Program with ProgramArguments as argv
    return argv


def _failure(result: subprocess.CompletedProcess[str]) -> str:
    """`launchctl ...` failed (exit N: its message), as one clause."""
    message = (result.stderr or result.stdout).strip().replace("\n", " ")
    return (
        f"`{shlex.join(result.args)}` failed (exit {result.returncode}: {message or 'no message'})"
    )
