"""Start at login: XDG autostart here; the LaunchAgent and the Windows Run key in sibling modules.

Every ``status()`` re-reads the entry actually on disk or in the registry, so it tells the truth
after the user edited or removed it by hand. Nothing OS-specific is imported at module level:
``winreg`` and ``launchctl`` are injected, which lets all three platforms be tested on Linux.
"""

from __future__ import annotations

import importlib
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO, cast

from tray_stt.autostart.desktop_entry import (
    entry_argv,
    escape_string,
    exec_value,
    parse_desktop_entry,
    switched_off,
    unescape_string,
)
from tray_stt.errors import AssetMissing, ExitCode, TraySttError
from tray_stt.files import replace_file
from tray_stt.resources import app_icon_path

if TYPE_CHECKING:
    from tray_stt.autostart.windows import Registry

APP_ID = "tray-stt"
QUIET_START = "--quiet-start"
FIX_HINT = "run `tray-stt autostart enable` to register this installation"
MARKER_KEY = "X-tray-stt-Version"  # how we tell our desktop entry from one the user wrote

Runner = Callable[..., "subprocess.CompletedProcess[str]"]
ShowCommand = Callable[[Sequence[str]], str]


class AutostartError(TraySttError):
    """Start at login could not be switched on or off; ``str()`` says why and what to do."""

    exit_code = ExitCode.FAILURE


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
            f"tray-stt: unknown autostart action {action!r}: use enable, disable or status.",
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
        print(f"tray-stt: {exc}", file=err)
        return int(exc.exit_code)
    print(sentence, file=out)
    return int(ExitCode.OK)


# --- shared by the three platforms -------------------------------------------------------------


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
