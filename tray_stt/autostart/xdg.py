"""Start at login on Linux and the BSDs: an XDG autostart desktop entry."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

from tray_stt import APP_ID
from tray_stt.autostart.common import (
    MARKER_KEY,
    AutostartStatus,
    program_exists,
    registered_status,
    remove_entry,
    tilde,
    write_atomically,
)
from tray_stt.autostart.desktop_entry import (
    entry_argv,
    escape_string,
    exec_value,
    parse_desktop_entry,
    switched_off,
    unescape_string,
)
from tray_stt.errors import AssetMissing, AutostartError
from tray_stt.resources import app_icon_path


# The login half of a round trip: tests run what it returns to simulate a session manager.
def exec_argv(desktop_file: Path) -> list[str]:
    """The argv a session manager runs at login for `desktop_file` (quotes undone, %% → %)."""
    try:
        return entry_argv(_read_entry(desktop_file), str(desktop_file))
    except (OSError, ValueError) as exc:
        raise AutostartError(f"Cannot read the command of {desktop_file}: {exc}.") from exc


def _behind_env(argv: list[str]) -> list[str]:
    """The command `env` runs, for an entry that `XdgAutostart.login_argv` put behind it."""
    return argv[1:] if len(argv) > 1 and argv[0] == "env" else argv


def _read_entry(path: Path) -> dict[str, str]:
    return parse_desktop_entry(path.read_text(encoding="utf-8"))


class XdgAutostart:
    """Start at login through ``$XDG_CONFIG_HOME/autostart/tray-stt.desktop``."""

    def __init__(
        self,
        home: Path,
        command: Sequence[str],
        *,
        environ: Mapping[str, str] | None = None,
        icon_path: Path | None = None,
    ) -> None:
        """Manage the entry under `home` (or ``$XDG_CONFIG_HOME``) that runs `command`.

        ``icon_path`` defaults to the installed application icon (see tray_stt.tray.icons).
        """
        self.home = home
        self.command = list(command)
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.icon_path = icon_path
        # The Base Directory spec says a relative $XDG_CONFIG_HOME is invalid and is ignored.
        config_home = self.environ.get("XDG_CONFIG_HOME", "")
        base = Path(config_home) if os.path.isabs(config_home) else home / ".config"
        self.path = base / "autostart" / f"{APP_ID}.desktop"
        dirs = self.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
        self.system_paths = [
            Path(d) / "autostart" / f"{APP_ID}.desktop" for d in dirs.split(":") if os.path.isabs(d)
        ]

    def login_argv(self) -> list[str]:
        """The argv our entry has the session manager run: the command, behind ``env`` if needed."""
        # GLib (2.74) checks that the program exists before it expands `%%`, so GNOME would never
        # start a program whose path holds a `%`; as an argument of env, the path is expanded.
        return ["env", *self.command] if "%" in self.command[0] else list(self.command)

    def entry(self, *, hidden: bool = False) -> str:
        """Our desktop entry's text; `hidden` makes one that masks a system-wide entry."""
        lines = [
            "[Desktop Entry]",
            "Type=Application",
            f"Name={APP_ID}",
            "Comment=Realtime speech-to-text from the system tray",
            f"Exec={exec_value(self.login_argv())}",
            # Without the program, session managers skip the entry instead of failing to run it.
            f"TryExec={escape_string(self.command[0])}",
            f"Icon={escape_string(str(self.icon_path or _app_icon()))}",
            "Terminal=false",
            "StartupNotify=false",
            "X-GNOME-Autostart-enabled=true",
            f"{MARKER_KEY}=1",
        ]
        return "\n".join([*lines, "Hidden=true"] if hidden else lines) + "\n"

    def enable(self) -> str:
        """Write our entry (replacing an older one of ours); refuses to overwrite someone else's."""
        self._refuse_if_foreign("replaced")
        write_atomically(self.path, self._encoded(), self._shown(self.path))
        return f"tray-stt will start at login: wrote {self._shown(self.path)}."

    def disable(self) -> str:
        """Remove our entry; a system-wide one is masked by ``Hidden=true``, as the spec says."""
        system = next((p for p in self.system_paths if p.is_file()), None)
        shown = self._shown(self.path)
        if not os.path.lexists(self.path) and system is None:
            return f"tray-stt was not set to start at login: there is no {shown}."
        self._refuse_if_foreign("deleted")
        if system is not None:
            # Deleting ours would let the system-wide entry of the same name start us again.
            write_atomically(self.path, self._encoded(hidden=True), shown)
            return f"tray-stt will no longer start at login: {shown} now hides {system}."
        remove_entry(self.path, shown)
        return f"tray-stt will no longer start at login: removed {shown}."

    def status(self) -> AutostartStatus:
        """Re-read the entry a session manager would use and report what it will do at login."""
        candidates = [self.path, *self.system_paths]
        path = next((p for p in candidates if os.path.lexists(p)), None)
        if path is None:
            where = self._shown(self.path)
            return AutostartStatus(False, str(self.path), f"disabled: there is no {where}")
        where = self._shown(path)
        try:
            keys = _read_entry(path)
            off = switched_off(keys)
            if off is not None:
                return AutostartStatus(False, str(path), f"disabled: {where} has {off}")
            argv = _behind_env(entry_argv(keys, str(path)))
        except (OSError, ValueError) as exc:
            detail = f"disabled: {where} cannot be read as a desktop entry ({exc})"
            return AutostartStatus(False, str(path), detail)
        try_exec = unescape_string(keys.get("TryExec", ""))
        if try_exec and not program_exists(try_exec, self.environ):
            argv = [try_exec]  # the session manager skips the entry: report TryExec as missing
        return registered_status(
            argv, self.command, location=str(path), where=where, environ=self.environ
        )

    def _refuse_if_foreign(self, verb: str) -> None:
        if not os.path.lexists(self.path):
            return
        try:
            ours = MARKER_KEY in _read_entry(self.path)
        except (OSError, ValueError):
            ours = False
        if not ours:
            raise AutostartError(
                f"{self._shown(self.path)} was not written by tray-stt, so it was not {verb}; "
                "remove or edit it yourself, or use your desktop's startup-applications settings."
            )

    def _encoded(self, *, hidden: bool = False) -> bytes:
        try:
            return self.entry(hidden=hidden).encode("utf-8")
        except UnicodeEncodeError as exc:  # a path that is not UTF-8 (surrogate escapes)
            reason = "desktop entries are UTF-8 and this path is not"
            raise AutostartError(f"Cannot register {shlex.join(self.command)}: {reason}.") from exc
        except ValueError as exc:
            raise AutostartError(f"Cannot register {shlex.join(self.command)}: {exc}.") from exc

    def _shown(self, path: Path) -> str:
        return tilde(path, self.home)


def _app_icon() -> str:
    """The application icon's file, or its name for the icon theme if the file is missing."""
    try:
        return str(app_icon_path())
    except AssetMissing:
        return APP_ID
