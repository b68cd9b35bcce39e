"""Start at login on Windows: a value under ``HKCU\\...\\CurrentVersion\\Run``, via `winreg`."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from tray_stt import APP_ID
from tray_stt.autostart.common import AutostartStatus, registered_status
from tray_stt.errors import AutostartError

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
# Where Task Manager's "Startup apps" keeps its Enabled/Disabled switch for each Run value.
APPROVED_KEY = r"Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"
VALUE_NAME = APP_ID
LOCATION = f"HKCU\\{RUN_KEY}\\{VALUE_NAME}"
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)

# A registry key handle: a PyHKEY on Windows, whatever the fake returns in tests.
Handle = Any


class Registry(Protocol):
    """The part of the standard `winreg` module we use, so tests can pass a dict-backed fake."""

    @property
    def HKEY_CURRENT_USER(self) -> int:
        """The root key of the current user."""
        ...

    @property
    def KEY_READ(self) -> int:
        """Access right to read values."""
        ...

    @property
    def KEY_SET_VALUE(self) -> int:
        """Access right to set and delete values."""
        ...

    @property
    def REG_SZ(self) -> int:
        """Value type: a string."""
        ...

    @property
    def REG_EXPAND_SZ(self) -> int:
        """Value type: a string with %VARIABLE% references."""
        ...

    def OpenKey(self, key: Handle, sub_key: str, reserved: int = 0, access: int = ..., /) -> Handle:
        """Open an existing key; FileNotFoundError when it does not exist."""
        ...

    def CreateKeyEx(
        self, key: Handle, sub_key: str, reserved: int = 0, access: int = ..., /
    ) -> Handle:
        """Open a key, creating it if needed."""
        ...

    def SetValueEx(
        self, key: Handle, value_name: str | None, reserved: Any, type: int, value: Any, /
    ) -> None:
        """Store a value."""
        ...

    def QueryValueEx(self, key: Handle, name: str, /) -> tuple[Any, int]:
        """A value's data and type; FileNotFoundError when it does not exist."""
        ...

    def DeleteValue(self, key: Handle, value: str, /) -> None:
        """Delete a value; FileNotFoundError when it does not exist."""
        ...

    def CloseKey(self, hkey: Handle, /) -> None:
        """Close a key handle."""
        ...


def command_line(argv: Sequence[str]) -> str:
    """`argv` as a Windows command line: the program always quoted, the rest per the C runtime."""
    program = argv[0]
    if '"' in program:  # Windows paths cannot contain quotes, and the program has no escape rule
        raise AutostartError(f"Cannot register {program!r}: a program path cannot contain quotes.")
    rest = subprocess.list2cmdline(argv[1:])
    return f'"{program}" {rest}' if rest else f'"{program}"'


def split_command_line(line: str) -> list[str]:
    """A Windows command line split as CreateProcess and the C runtime (CommandLineToArgvW) do."""
    line = line.lstrip(" \t")
    if not line:
        return []
    if line.startswith('"'):
        # The program name ends at the next quote; backslashes are not escapes there.
        program, _, rest = line[1:].partition('"')
    else:
        program, rest = [*re.split(r"[ \t]", line, maxsplit=1), ""][:2]
    return [program, *_split_arguments(rest)]


def _split_arguments(text: str) -> list[str]:
    args: list[str] = []
    word: list[str] = []
    in_word = quoted = False
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            run = len(text[i:]) - len(text[i:].lstrip("\\"))
            i += run
            if text[i : i + 1] == '"':  # 2n backslashes + quote: n and a quote toggle
                word.append("\\" * (run // 2))
                if run % 2:  # 2n+1: n and a literal quote
                    word.append('"')
                    i += 1
            else:
                word.append("\\" * run)
            in_word = True
            continue
        if c == '"':
            if quoted and text[i + 1 : i + 2] == '"':  # `""` inside quotes is a literal quote
                word.append('"')
                i += 1
            else:
                quoted = not quoted
            in_word = True
        elif c in " \t" and not quoted:
            if in_word:
                args.append("".join(word))
            word, in_word = [], False
        else:
            word.append(c)
            in_word = True
        i += 1
    return [*args, "".join(word)] if in_word else args


class RunKey:
    """Start at login through the value ``tray-stt`` under ``HKCU\\...\\CurrentVersion\\Run``."""

    def __init__(
        self,
        registry: Registry,
        command: Sequence[str],
        *,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """Manage the Run value that runs `command`, through `registry` (the winreg module)."""
        self.registry = registry
        self.command = list(command)
        self.environ: Mapping[str, str] = os.environ if environ is None else environ

    def enable(self) -> str:
        """Set the Run value and clear a Task Manager "Disabled" mark that would block it."""
        reg, line = self.registry, command_line(self.command)
        try:
            key = reg.CreateKeyEx(reg.HKEY_CURRENT_USER, RUN_KEY, 0, reg.KEY_SET_VALUE)
            try:
                reg.SetValueEx(key, VALUE_NAME, 0, reg.REG_SZ, line)
            finally:
                reg.CloseKey(key)
            self._delete(APPROVED_KEY)
        except OSError as exc:
            raise AutostartError(f"Could not set {LOCATION} in the registry: {exc}.") from exc
        return f"tray-stt will start at login: set {LOCATION} to {line}"

    def disable(self) -> str:
        """Delete the Run value (and Task Manager's record of it)."""
        try:
            removed = self._delete(RUN_KEY)
            self._delete(APPROVED_KEY)
        except OSError as exc:
            raise AutostartError(f"Could not delete {LOCATION} from the registry: {exc}.") from exc
        if not removed:
            return f"tray-stt was not set to start at login: there is no {LOCATION}."
        return f"tray-stt will no longer start at login: deleted {LOCATION}."

    def status(self) -> AutostartStatus:
        """Re-read the Run value and Task Manager's switch and report what happens at login."""
        try:
            return self._status()
        except AutostartError as exc:  # the tray asks on every menu build: report, never raise
            return AutostartStatus(False, LOCATION, str(exc))

    def _status(self) -> AutostartStatus:
        value = self._query(RUN_KEY)
        if value is None:
            return AutostartStatus(False, LOCATION, f"disabled: there is no {LOCATION}")
        data, kind = value
        reg = self.registry
        if kind not in (reg.REG_SZ, reg.REG_EXPAND_SZ) or not isinstance(data, str):
            return AutostartStatus(False, LOCATION, f"disabled: {LOCATION} is not a command line")
        if kind == reg.REG_EXPAND_SZ:
            data = self._expand(data)
        disabled_since = self._disabled_in_task_manager()
        if disabled_since is not None:
            return AutostartStatus(False, LOCATION, f"disabled in Task Manager{disabled_since}")
        return registered_status(
            split_command_line(data),
            self.command,
            location=LOCATION,
            where=LOCATION,
            environ=self.environ,
            show=command_line,
        )

    def _disabled_in_task_manager(self) -> str | None:
        """None, or " (since <date>)": the StartupApproved value's first byte is odd when off."""
        value = self._query(APPROVED_KEY)
        if value is None or not isinstance(value[0], bytes) or not value[0][:1]:
            return None
        data = value[0]
        if not data[0] & 1:
            return None
        # Bytes 4..12 are the FILETIME (100 ns ticks since 1601) at which it was switched off.
        ticks = int.from_bytes(data[4:12], "little") if len(data) >= 12 else 0
        when = _FILETIME_EPOCH + timedelta(microseconds=ticks // 10)
        return f" (since {when:%Y-%m-%d})" if ticks else ""

    def _query(self, sub_key: str) -> tuple[Any, int] | None:
        reg = self.registry
        try:
            key = reg.OpenKey(reg.HKEY_CURRENT_USER, sub_key, 0, reg.KEY_READ)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AutostartError(f"Could not read HKCU\\{sub_key} in the registry: {exc}.") from exc
        try:
            return reg.QueryValueEx(key, VALUE_NAME)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AutostartError(f"Could not read HKCU\\{sub_key} in the registry: {exc}.") from exc
        finally:
            reg.CloseKey(key)

    def _delete(self, sub_key: str) -> bool:
        """Delete our value under `sub_key`; False when there was none."""
        reg = self.registry
        try:
            key = reg.OpenKey(reg.HKEY_CURRENT_USER, sub_key, 0, reg.KEY_SET_VALUE)
        except FileNotFoundError:
            return False
        try:
            reg.DeleteValue(key, VALUE_NAME)
        except FileNotFoundError:
            return False
        finally:
            reg.CloseKey(key)
        return True

    def _expand(self, text: str) -> str:
        """%NAME% references expanded as Windows does, names case-insensitive, unknown kept."""
        upper = {name.upper(): value for name, value in self.environ.items()}
        return re.sub(r"%([^%]+)%", lambda m: upper.get(m[1].upper(), m[0]), text)
