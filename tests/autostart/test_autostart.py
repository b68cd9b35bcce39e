"""Start at login on all three platforms, on Linux with an injected home, registry and launchctl."""

from __future__ import annotations

import io
import json
import os
import plistlib
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tray_stt import resources
from tray_stt.autostart.choose import platform_autostart, run_autostart_command
from tray_stt.autostart.common import AutostartStatus, current_command
from tray_stt.autostart.desktop_entry import entry_argv, exec_value, parse_desktop_entry
from tray_stt.autostart.macos import LABEL, LaunchAgent
from tray_stt.autostart.windows import (
    APPROVED_KEY,
    RUN_KEY,
    RunKey,
    command_line,
    split_command_line,
)
from tray_stt.autostart.xdg import XdgAutostart, exec_argv
from tray_stt.errors import AutostartError

UID = 501
SERVICE = f"gui/{UID}/{LABEL}"

# Paths a session manager must hand back unchanged: blanks, every reserved character, `%`.
TRICKY_DIRS = [
    "My Apps",
    "100% sure",
    "tab\there",
    "a\\b",
    "q\"u`o$te's",
    "~tilde #hash; (paren) & | < > * ?",
    "ünïcödé",
    "50%%done",
]


def make_program(path: Path) -> str:
    """An executable file at `path`; returns its path as a string."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


def validate(path: Path) -> None:
    """Assert `desktop-file-validate` accepts `path`."""
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.skip("desktop-file-validate is not installed (apt install desktop-file-utils)")
    result = subprocess.run([tool, str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


# --- current_command ------------------------------------------------------------------------


def test_current_command_prefers_console_script_beside_interpreter(tmp_path: Path) -> None:
    python = make_program(tmp_path / "venv" / "bin" / "python")
    script = make_program(tmp_path / "venv" / "bin" / "tray-stt")
    assert current_command(executable=python, frozen=False) == [script, "--quiet-start"]


def test_current_command_falls_back_to_running_the_package(tmp_path: Path) -> None:
    python = make_program(tmp_path / "pipx" / "bin" / "python")
    expected = [python, "-m", "tray_stt", "--quiet-start"]
    assert current_command(executable=python, frozen=False) == expected


def test_current_command_keeps_the_venv_interpreter_symlink(tmp_path: Path) -> None:
    link = tmp_path / "venv" / "bin" / "python"
    link.parent.mkdir(parents=True)
    link.symlink_to(sys.executable)
    # Resolving the link would register the base interpreter, which cannot import tray_stt.
    assert current_command(executable=str(link), frozen=False)[0] == str(link)


def test_current_command_runs_a_frozen_executable_as_is(tmp_path: Path) -> None:
    exe = make_program(tmp_path / "tray-stt.exe")
    assert current_command(executable=exe, frozen=True, windowless=True) == [exe, "--quiet-start"]


def test_current_command_windowless_uses_pythonw(tmp_path: Path) -> None:
    python = make_program(tmp_path / "Scripts" / "python.exe")
    make_program(tmp_path / "Scripts" / "tray-stt.exe")  # a console program: not for login
    pythonw = make_program(tmp_path / "Scripts" / "pythonw.exe")
    command = current_command(executable=python, frozen=False, windowless=True)
    assert command == [pythonw, "-m", "tray_stt", "--quiet-start"]


def test_current_command_refuses_an_unknown_interpreter() -> None:
    with pytest.raises(AutostartError, match="sys.executable"):
        current_command(executable="", frozen=False)


# --- Linux: the Exec line -------------------------------------------------------------------


def test_exec_value_quotes_per_the_desktop_entry_spec() -> None:
    argv = ["/opt/My Apps/tray-stt", "--quiet-start", "100%", "a\\b", "$x", "", "it's"]
    expected = r'"/opt/My Apps/tray-stt" --quiet-start 100%% "a\\\\b" "\\$x" "" "it' + "'" + 's"'
    assert exec_value(argv) == expected


_ARG_TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc"), include_characters="\n\t\r")
)


@given(program=_ARG_TEXT, args=st.lists(_ARG_TEXT, max_size=5))
def test_exec_value_round_trips_through_the_parser(program: str, args: list[str]) -> None:
    argv = ["/" + program, *args]
    keys = parse_desktop_entry(f"[Desktop Entry]\nExec={exec_value(argv)}\n")
    assert entry_argv(keys, "/x.desktop") == argv


@pytest.mark.parametrize("directory", TRICKY_DIRS)
def test_exec_argv_returns_the_registered_argv(tmp_path: Path, directory: str) -> None:
    program = make_program(tmp_path / directory / "bin" / "tray-stt")
    command = [program, "--quiet-start", directory, "", "%f"]
    entry = XdgAutostart(tmp_path, command, environ={"XDG_CONFIG_DIRS": str(tmp_path / "none")})
    entry.enable()
    # A program path with a `%` sits behind env: GLib would look for the unexpanded `%%` path.
    expected = ["env", *command] if "%" in program else command
    assert exec_argv(entry.path) == expected
    validate(entry.path)
    assert entry.status().detail == "enabled: ~/.config/autostart/tray-stt.desktop"


def test_exec_argv_expands_field_codes_as_at_login(tmp_path: Path) -> None:
    path = tmp_path / "x.desktop"
    path.write_text(
        "# a comment\n[Desktop Entry]\nName=Tray\\sSTT\nIcon=/i.png\n"
        'Exec = prog %U --name=%c --file %k "50%%" %i %d\n[Other]\nExec=nope\n'
    )
    expected = ["prog", "--name=Tray STT", "--file", str(path), "50%", "--icon", "/i.png"]
    assert exec_argv(path) == expected


@pytest.mark.parametrize(
    ("exec_line", "reason"),
    [('"/opt/x --quiet-start', "unterminated"), ("/opt/x 100%z", "field code %z"), ("", "empty")],
)
def test_exec_argv_refuses_a_broken_exec_line(tmp_path: Path, exec_line: str, reason: str) -> None:
    path = tmp_path / "x.desktop"
    path.write_text(f"[Desktop Entry]\nExec={exec_line}\n")
    with pytest.raises(AutostartError, match=reason):
        exec_argv(path)


def _gi_python() -> str | None:
    """A Python that can import Gio (GLib's desktop-entry launcher), or None."""
    for candidate in ("/usr/bin/python3", shutil.which("python3")):
        if candidate and os.path.exists(candidate):
            probe = "import gi; gi.require_version('Gio', '2.0'); from gi.repository import Gio"
            result = subprocess.run([candidate, "-c", probe], capture_output=True, check=False)
            if result.returncode == 0:
                return candidate
    return None


_GLIB_LAUNCH = """
import sys, gi
gi.require_version("Gio", "2.0")
from gi.repository import Gio
app = Gio.DesktopAppInfo.new_from_filename(sys.argv[1])
sys.exit(3 if app is None else 0 if app.launch([], None) else 4)
"""
_RECORD_ARGV = '#!{python}\nimport json, sys\nopen({out!r}, "w").write(json.dumps(sys.argv))\n'


@pytest.mark.parametrize("directory", ["My Apps", "100% sure", "q\"u`o$te's \\ ~#"])
def test_xdg_entry_runs_the_exact_argv_when_glib_launches_it(
    tmp_path: Path, directory: str
) -> None:
    python = _gi_python()
    if python is None:
        pytest.skip("no Python with PyGObject (apt install python3-gi) to launch entries")
    out = tmp_path / "argv.json"
    program = tmp_path / directory / "record-argv"
    program.parent.mkdir(parents=True)
    program.write_text(_RECORD_ARGV.format(python=sys.executable, out=str(out)))
    program.chmod(0o755)
    command = [str(program), "--quiet-start", "100%", "a b", "$HOME", "it's", "a\\b", ""]
    entry = XdgAutostart(tmp_path, command, environ={"XDG_CONFIG_DIRS": str(tmp_path / "none")})
    entry.enable()
    launch = subprocess.run([python, "-c", _GLIB_LAUNCH, str(entry.path)], check=False)
    assert launch.returncode == 0, "GLib refused to load or launch the entry"
    deadline = time.monotonic() + 10
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert json.loads(out.read_text()) == command


# --- Linux: XdgAutostart --------------------------------------------------------------------


def xdg(tmp_path: Path, command: Sequence[str], **environ: str) -> XdgAutostart:
    environ.setdefault("XDG_CONFIG_DIRS", str(tmp_path / "etc-xdg"))
    return XdgAutostart(tmp_path / "home", command, environ=environ, icon_path=Path("/i/t.png"))


def test_xdg_entry_icon_is_the_installed_application_icon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installed from a wheel, the assets are inside the package: the icon is found there."""
    assets = tmp_path / "site-packages" / "tray_stt" / "assets"
    assets.mkdir(parents=True)
    (assets / "tray-stt.png").write_bytes(b"png")
    monkeypatch.setattr(resources, "assets_dir", lambda: assets)
    program = make_program(tmp_path / "venv" / "bin" / "tray-stt")
    entry = XdgAutostart(tmp_path / "home", [program], environ={})
    entry.enable()
    assert parse_desktop_entry(entry.path.read_text())["Icon"] == str(assets / "tray-stt.png")


def test_xdg_entry_without_an_icon_file_names_the_theme_icon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resources, "assets_dir", lambda: tmp_path / "nothing-here")
    program = make_program(tmp_path / "venv" / "bin" / "tray-stt")
    entry = XdgAutostart(tmp_path / "home", [program], environ={})
    entry.enable()
    assert parse_desktop_entry(entry.path.read_text())["Icon"] == "tray-stt"


def test_xdg_enable_status_disable_status(tmp_path: Path) -> None:
    program = make_program(tmp_path / "venv" / "bin" / "tray-stt")
    entry = xdg(tmp_path, [program, "--quiet-start"])
    path = tmp_path / "home" / ".config" / "autostart" / "tray-stt.desktop"
    assert not entry.status().enabled

    assert entry.enable() == (
        "tray-stt will start at login: wrote ~/.config/autostart/tray-stt.desktop."
    )
    keys = parse_desktop_entry(path.read_text())
    assert keys["Type"] == "Application" and keys["Name"] == "tray-stt"
    assert keys["Terminal"] == "false" and keys["StartupNotify"] == "false"
    assert keys["X-GNOME-Autostart-enabled"] == "true" and keys["X-tray-stt-Version"] == "1"
    assert keys["Icon"] == "/i/t.png" and keys["TryExec"] == program
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    validate(path)
    status = entry.status()
    assert status.enabled and status.location == str(path)
    assert status.detail == "enabled: ~/.config/autostart/tray-stt.desktop"

    assert "removed ~/.config/autostart/tray-stt.desktop" in entry.disable()
    assert not path.exists()
    assert entry.status().detail == "disabled: there is no ~/.config/autostart/tray-stt.desktop"
    assert "was not set to start at login" in entry.disable()


@pytest.mark.parametrize(
    ("edit", "shown"),
    [
        ("Hidden=true", "Hidden=true"),
        ("X-GNOME-Autostart-enabled=false", "X-GNOME-Autostart-enabled=false"),
    ],
)
def test_xdg_status_reports_an_entry_switched_off_by_hand(
    tmp_path: Path, edit: str, shown: str
) -> None:
    entry = xdg(tmp_path, [make_program(tmp_path / "tray-stt"), "--quiet-start"])
    entry.enable()
    text = entry.path.read_text().replace("X-GNOME-Autostart-enabled=true\n", "")
    entry.path.write_text(text + edit + "\n")
    status = entry.status()
    assert not status.enabled
    assert status.detail == f"disabled: ~/.config/autostart/tray-stt.desktop has {shown}"


def test_xdg_status_reports_a_hand_removed_entry(tmp_path: Path) -> None:
    entry = xdg(tmp_path, [make_program(tmp_path / "tray-stt"), "--quiet-start"])
    entry.enable()
    entry.path.unlink()
    assert not entry.status().enabled


def test_xdg_status_reports_a_program_that_no_longer_exists(tmp_path: Path) -> None:
    old = tmp_path / "old venv" / "bin" / "tray-stt"
    xdg(tmp_path, [make_program(old), "--quiet-start"]).enable()
    shutil.rmtree(tmp_path / "old venv")
    status = xdg(tmp_path, [make_program(tmp_path / "new" / "tray-stt")]).status()
    assert not status.enabled
    assert status.detail == (
        "the entry ~/.config/autostart/tray-stt.desktop runs a program that no longer exists: "
        f"{old}; run `tray-stt autostart enable` to register this installation."
    )


def test_xdg_status_names_another_installation_still_registered(tmp_path: Path) -> None:
    other = make_program(tmp_path / "other" / "tray-stt")
    xdg(tmp_path, [other, "--quiet-start"]).enable()
    status = xdg(tmp_path, [make_program(tmp_path / "this" / "tray-stt"), "--quiet-start"]).status()
    assert status.enabled and f"it runs {other} --quiet-start rather than" in status.detail


def test_xdg_status_reports_an_unreadable_entry(tmp_path: Path) -> None:
    entry = xdg(tmp_path, ["/bin/true"])
    entry.path.parent.mkdir(parents=True)
    entry.path.write_text("[Desktop Entry]\nName=x\n")
    status = entry.status()
    assert not status.enabled and "no Exec key" in status.detail


def test_xdg_leaves_an_entry_it_did_not_write(tmp_path: Path) -> None:
    entry = xdg(tmp_path, [make_program(tmp_path / "tray-stt")])
    entry.path.parent.mkdir(parents=True)
    foreign = "[Desktop Entry]\nType=Application\nName=mine\nExec=/bin/true --mine\n"
    entry.path.write_text(foreign)
    with pytest.raises(AutostartError, match="not written by tray-stt, so it was not deleted"):
        entry.disable()
    with pytest.raises(AutostartError, match="not written by tray-stt, so it was not replaced"):
        entry.enable()
    assert entry.path.read_text() == foreign


def test_xdg_honours_xdg_config_home_when_absolute(tmp_path: Path) -> None:
    program = make_program(tmp_path / "tray-stt")
    config = tmp_path / "cfg"
    entry = xdg(tmp_path, [program], XDG_CONFIG_HOME=str(config))
    assert entry.enable().endswith(f"wrote {config}/autostart/tray-stt.desktop.")
    assert xdg(tmp_path, [program], XDG_CONFIG_HOME="relative").path.is_relative_to(
        tmp_path / "home" / ".config"
    )


def test_xdg_disable_masks_a_system_wide_entry(tmp_path: Path) -> None:
    program = make_program(tmp_path / "tray-stt")
    system = tmp_path / "etc-xdg" / "autostart" / "tray-stt.desktop"
    system.parent.mkdir(parents=True)
    entry = xdg(tmp_path, [program, "--quiet-start"])
    system.write_text(entry.entry())
    assert entry.status() == AutostartStatus(True, str(system), f"enabled: {system}")

    assert entry.disable().endswith(f"~/.config/autostart/tray-stt.desktop now hides {system}.")
    validate(entry.path)
    assert not entry.status().enabled and "has Hidden=true" in entry.status().detail
    entry.enable()
    assert entry.status().enabled and entry.status().location == str(entry.path)


def test_xdg_enable_replaces_the_entry_atomically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = xdg(tmp_path, [make_program(tmp_path / "tray-stt")])
    entry.enable()
    before = entry.path.read_text()

    def refuse(src: str, dst: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(AutostartError, match="Could not write .*: Permission denied"):
        xdg(tmp_path, [make_program(tmp_path / "other")]).enable()
    assert entry.path.read_text() == before
    assert os.listdir(entry.path.parent) == ["tray-stt.desktop"]  # no temporary file left


def test_xdg_enable_refuses_a_command_with_control_characters(tmp_path: Path) -> None:
    with pytest.raises(AutostartError, match="control characters"):
        xdg(tmp_path, ["/bin/true", "bell\x07"]).enable()


# --- macOS ------------------------------------------------------------------------------------


class Launchctl:
    """A recorded `launchctl`: each call's argv, and replies by subcommand."""

    def __init__(self, **replies: tuple[int, str, str]) -> None:
        self.calls: list[list[str]] = []
        self.replies = {"print": (113, "", "Could not find service"), **replies}

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        assert kwargs["check"] is False and kwargs["text"] is True
        self.calls.append(argv)
        code, out, err = self.replies.get(argv[1], (0, "", ""))
        return subprocess.CompletedProcess(argv, code, out, err)


def agent(tmp_path: Path, command: Sequence[str], launchctl: Launchctl) -> LaunchAgent:
    return LaunchAgent(tmp_path, command, uid=UID, run=launchctl, environ={})


def test_launch_agent_plist_round_trips(tmp_path: Path) -> None:
    program = make_program(tmp_path / "My Apps" / "tray-stt")
    agent(tmp_path, [program, "--quiet-start"], Launchctl()).enable()
    path = tmp_path / "Library" / "LaunchAgents" / "com.github.tray-stt.plist"
    assert plistlib.loads(path.read_bytes()) == {
        "Label": "com.github.tray-stt",
        "ProgramArguments": [program, "--quiet-start"],
        "RunAtLoad": True,
        "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",
    }  # and no KeepAlive: it would relaunch tray-stt each time the user quits it


def test_launch_agent_enable_status_disable_status(tmp_path: Path) -> None:
    program = make_program(tmp_path / "venv" / "bin" / "tray-stt")
    launchctl = Launchctl(print=(0, "\tstate = not running\n", ""))
    target = agent(tmp_path, [program, "--quiet-start"], launchctl)
    plist = str(tmp_path / "Library" / "LaunchAgents" / "com.github.tray-stt.plist")

    assert "wrote ~/Library/LaunchAgents/com.github.tray-stt.plist and loaded" in target.enable()
    assert launchctl.calls == [
        ["launchctl", "enable", SERVICE],
        ["launchctl", "bootstrap", f"gui/{UID}", plist],
    ]
    assert target.status().detail == "enabled: ~/Library/LaunchAgents/com.github.tray-stt.plist"
    assert launchctl.calls[-1] == ["launchctl", "print-disabled", f"gui/{UID}"]

    launchctl.calls.clear()
    assert "removed ~/Library/LaunchAgents/com.github.tray-stt.plist" in target.disable()
    assert launchctl.calls == [["launchctl", "print", SERVICE], ["launchctl", "bootout", SERVICE]]
    assert not os.path.exists(plist)
    assert not target.status().enabled


def test_launch_agent_disable_never_boots_out_a_running_tray(tmp_path: Path) -> None:
    launchctl = Launchctl(print=(0, "\tstate = running\n\tpid = 4242\n", ""))
    target = agent(tmp_path, [make_program(tmp_path / "tray-stt")], launchctl)
    target.enable()
    launchctl.calls.clear()
    target.disable()
    assert ["launchctl", "bootout", SERVICE] not in launchctl.calls  # it would kill the app
    assert not target.path.exists()


def test_launch_agent_reports_a_launchctl_failure(tmp_path: Path) -> None:
    launchctl = Launchctl(bootstrap=(5, "", "Bootstrap failed: 5: Input/output error\n"))
    target = agent(tmp_path, [make_program(tmp_path / "tray-stt")], launchctl)
    with pytest.raises(AutostartError) as raised:
        target.enable()
    assert "failed (exit 5: Bootstrap failed: 5: Input/output error)" in str(raised.value)
    assert str(raised.value).startswith("Wrote ~/Library/LaunchAgents/com.github.tray-stt.plist")


def test_launch_agent_enable_accepts_an_already_loaded_agent(tmp_path: Path) -> None:
    launchctl = Launchctl(
        bootstrap=(5, "", "Bootstrap failed: 5"), print=(0, "state = running", "")
    )
    target = agent(tmp_path, [make_program(tmp_path / "tray-stt")], launchctl)
    assert "launchd already had it loaded" in target.enable()
    assert ["launchctl", "bootout", SERVICE] not in launchctl.calls


def test_launch_agent_without_launchctl_says_so(tmp_path: Path) -> None:
    def missing(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        raise FileNotFoundError(2, "No such file or directory", "launchctl")

    target = LaunchAgent(tmp_path, [make_program(tmp_path / "x")], uid=UID, run=missing)
    with pytest.raises(AutostartError, match="launchctl bootstrap .* failed \\(exit 127"):
        target.enable()


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ({"Disabled": True}, "has Disabled=true"),
        ({"RunAtLoad": False}, "does not set RunAtLoad"),
        ({"ProgramArguments": "not a list"}, "no ProgramArguments"),
    ],
)
def test_launch_agent_status_reports_hand_edits(
    tmp_path: Path, edit: dict[str, object], reason: str
) -> None:
    target = agent(tmp_path, [make_program(tmp_path / "tray-stt")], Launchctl())
    target.enable()
    target.path.write_bytes(plistlib.dumps({**plistlib.loads(target.path.read_bytes()), **edit}))
    status = target.status()
    assert not status.enabled and reason in status.detail


def test_launch_agent_status_reports_launchctl_disable(tmp_path: Path) -> None:
    listing = f'disabled services = {{\n\t"com.apple.x" => enabled\n\t"{LABEL}" => disabled\n}}\n'
    target = agent(
        tmp_path,
        [make_program(tmp_path / "tray-stt")],
        Launchctl(**{"print-disabled": (0, listing, "")}),
    )
    target.enable()
    status = target.status()
    assert not status.enabled and "launchd has com.github.tray-stt disabled" in status.detail


def test_launch_agent_status_reports_a_program_that_no_longer_exists(tmp_path: Path) -> None:
    old = tmp_path / "old" / "tray-stt"
    agent(tmp_path, [make_program(old)], Launchctl()).enable()
    old.unlink()
    status = agent(tmp_path, ["/new/tray-stt"], Launchctl()).status()
    assert not status.enabled and f"program that no longer exists: {old}" in status.detail


def test_launch_agent_leaves_a_plist_it_did_not_write(tmp_path: Path) -> None:
    target = agent(tmp_path, ["/bin/true"], Launchctl())
    target.path.parent.mkdir(parents=True)
    target.path.write_bytes(plistlib.dumps({"Label": "org.example.other", "RunAtLoad": True}))
    with pytest.raises(AutostartError, match="not tray-stt's agent"):
        target.disable()
    assert target.path.exists()


# --- Windows ----------------------------------------------------------------------------------


class FakeKey:
    """A handle of `FakeWinreg`."""

    def __init__(self, path: str, access: int) -> None:
        self.path, self.access, self.closed = path, access, False


class FakeWinreg:
    """A dict-backed stand-in for the `winreg` module, raising as the real one does."""

    HKEY_CURRENT_USER = 0x80000001
    KEY_READ = 0x20019
    KEY_SET_VALUE = 0x0002
    KEY_WRITE = 0x20006
    REG_SZ = 1
    REG_EXPAND_SZ = 2
    REG_BINARY = 3

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, tuple[object, int]]] = {}
        self.handles: list[FakeKey] = []

    def _open(self, root: int, sub_key: str, access: int) -> FakeKey:
        assert root == self.HKEY_CURRENT_USER
        handle = FakeKey(sub_key.lower(), access)  # registry paths are case-insensitive
        self.handles.append(handle)
        return handle

    def OpenKey(  # noqa: N802 (winreg's names)
        self, key: int, sub_key: str, reserved: int = 0, access: int = KEY_READ
    ) -> FakeKey:
        if sub_key.lower() not in self.keys:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return self._open(key, sub_key, access)

    def CreateKeyEx(  # noqa: N802
        self, key: int, sub_key: str, reserved: int = 0, access: int = KEY_WRITE
    ) -> FakeKey:
        self.keys.setdefault(sub_key.lower(), {})
        return self._open(key, sub_key, access)

    def SetValueEx(  # noqa: N802
        self, key: FakeKey, name: str | None, reserved: object, kind: int, value: object
    ) -> None:
        self._check(key, self.KEY_SET_VALUE)
        self.keys[key.path][name or ""] = (value, kind)

    def QueryValueEx(self, key: FakeKey, name: str) -> tuple[object, int]:  # noqa: N802
        self._check(key, self.KEY_READ)
        if name not in self.keys[key.path]:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return self.keys[key.path][name]

    def DeleteValue(self, key: FakeKey, name: str) -> None:  # noqa: N802
        self._check(key, self.KEY_SET_VALUE)
        if self.keys[key.path].pop(name, None) is None:
            raise FileNotFoundError(2, "The system cannot find the file specified")

    def CloseKey(self, key: FakeKey) -> None:  # noqa: N802
        key.closed = True

    def _check(self, key: FakeKey, right: int) -> None:
        if key.closed or key.access & right != right:
            raise PermissionError(5, "Access is denied")

    def value(self, sub_key: str) -> tuple[object, int] | None:
        return self.keys.get(sub_key.lower(), {}).get("tray-stt")

    def all_closed(self) -> bool:
        return all(handle.closed for handle in self.handles)


def windows(tmp_path: Path, registry: FakeWinreg) -> tuple[RunKey, list[str]]:
    python = make_program(tmp_path / "My 100% Venv" / "Scripts" / "python.exe")
    make_program(tmp_path / "My 100% Venv" / "Scripts" / "pythonw.exe")
    command = current_command(executable=python, frozen=False, windowless=True)
    return RunKey(registry, command, environ={}), command


def test_run_key_enable_status_disable_status(tmp_path: Path) -> None:
    registry = FakeWinreg()
    target, command = windows(tmp_path, registry)
    pythonw = command[0]
    assert not target.status().enabled

    assert "tray-stt will start at login: set HKCU\\Software" in target.enable()
    assert registry.value(RUN_KEY) == (f'"{pythonw}" -m tray_stt --quiet-start', registry.REG_SZ)
    status = target.status()
    assert status.enabled
    assert status.location == "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\tray-stt"
    assert status.detail == f"enabled: {status.location}"

    assert "deleted HKCU" in target.disable()
    assert registry.value(RUN_KEY) is None and not target.status().enabled
    assert "was not set to start at login" in target.disable()
    assert registry.all_closed()


def test_run_key_status_reports_a_task_manager_disable(tmp_path: Path) -> None:
    registry = FakeWinreg()
    target, _ = windows(tmp_path, registry)
    target.enable()
    key = registry.CreateKeyEx(registry.HKEY_CURRENT_USER, APPROVED_KEY)
    # FILETIME counts 100 ns ticks from 1601, 11_644_473_600 s before the Unix epoch.
    switched_off = int(datetime(2024, 1, 20, 9, 30, tzinfo=UTC).timestamp()) + 11_644_473_600
    filetime = (switched_off * 10_000_000).to_bytes(8, "little")
    registry.SetValueEx(key, "tray-stt", 0, registry.REG_BINARY, b"\x03\0\0\0" + filetime)
    status = target.status()
    assert not status.enabled
    assert status.detail == "disabled in Task Manager (since 2024-01-20)"

    registry.SetValueEx(key, "tray-stt", 0, registry.REG_BINARY, b"\x02" + bytes(11))
    assert target.status().enabled  # 0x02: switched back on in Task Manager

    registry.SetValueEx(key, "tray-stt", 0, registry.REG_BINARY, b"\x03" + bytes(11))
    target.enable()  # enabling again clears Task Manager's mark, or it would still not run
    assert registry.value(APPROVED_KEY) is None and target.status().enabled


def test_run_key_status_reports_a_program_that_no_longer_exists(tmp_path: Path) -> None:
    registry = FakeWinreg()
    target, command = windows(tmp_path, registry)
    target.enable()
    os.unlink(command[0])
    status = target.status()
    assert not status.enabled
    assert f"runs a program that no longer exists: {command[0]}" in status.detail


def test_run_key_status_expands_an_expandable_value(tmp_path: Path) -> None:
    registry = FakeWinreg()
    program = make_program(tmp_path / "Programs" / "tray-stt.exe")
    key = registry.CreateKeyEx(registry.HKEY_CURRENT_USER, RUN_KEY)
    registry.SetValueEx(key, "tray-stt", 0, registry.REG_EXPAND_SZ, '"%LocalAppData%/tray-stt.exe"')
    target = RunKey(registry, [program], environ={"LOCALAPPDATA": str(tmp_path / "Programs")})
    assert target.status().enabled


class ReadOnlyWinreg(FakeWinreg):
    """A registry that refuses every write, as for a locked-down account."""

    def SetValueEx(self, *args: object) -> None:  # noqa: N802
        raise PermissionError(5, "Access is denied")


def test_run_key_reports_a_registry_failure(tmp_path: Path) -> None:
    registry = ReadOnlyWinreg()
    target, _ = windows(tmp_path, registry)
    with pytest.raises(AutostartError, match="Could not set HKCU.*Access is denied"):
        target.enable()
    assert registry.all_closed()


@given(
    program=st.text(st.characters(exclude_characters='"\0', exclude_categories=["Cs"]), min_size=1),
    args=st.lists(st.text(st.characters(exclude_characters="\0", exclude_categories=["Cs"]))),
)
def test_windows_command_line_round_trips(program: str, args: list[str]) -> None:
    assert split_command_line(command_line([program, *args])) == [program, *args]


def test_windows_command_line_quotes_the_program() -> None:
    line = command_line(["C:\\Program Files\\tray-stt\\tray-stt.exe", "--quiet-start", "a b\\"])
    assert line == '"C:\\Program Files\\tray-stt\\tray-stt.exe" --quiet-start "a b\\\\"'


# --- choosing the platform, and the command line -----------------------------------------------


def test_platform_autostart_picks_the_implementation(tmp_path: Path) -> None:
    common: dict[str, Any] = {"home": tmp_path, "environ": {}, "command": ["/bin/true"]}
    assert isinstance(platform_autostart(system="linux", **common), XdgAutostart)
    assert isinstance(platform_autostart(system="freebsd14", **common), XdgAutostart)
    assert isinstance(platform_autostart(system="darwin", run=Launchctl(), **common), LaunchAgent)
    registry = FakeWinreg()
    windows_target = platform_autostart(system="win32", winreg=registry, **common)
    assert isinstance(windows_target, RunKey) and windows_target.registry is registry
    with pytest.raises(AutostartError, match="empty command"):
        platform_autostart(system="linux", home=tmp_path, command=[])


def test_run_autostart_command_prints_one_sentence_and_returns_the_exit_code(
    tmp_path: Path,
) -> None:
    entry = xdg(tmp_path, [make_program(tmp_path / "tray-stt")])
    out, err = io.StringIO(), io.StringIO()

    assert run_autostart_command("enable", out=out, err=err, autostart=entry) == 0
    assert run_autostart_command("status", out=out, err=err, autostart=entry) == 0
    assert run_autostart_command("disable", out=out, err=err, autostart=entry) == 0
    assert out.getvalue().splitlines() == [
        "tray-stt will start at login: wrote ~/.config/autostart/tray-stt.desktop.",
        "enabled: ~/.config/autostart/tray-stt.desktop",
        "tray-stt will no longer start at login: removed ~/.config/autostart/tray-stt.desktop.",
    ]
    assert err.getvalue() == ""

    assert run_autostart_command("toggle", out=out, err=err, autostart=entry) == 2
    assert "use enable, disable or status" in err.getvalue()

    entry.path.write_text("[Desktop Entry]\nExec=/bin/mine\n")
    assert run_autostart_command("enable", out=out, err=err, autostart=entry) == 1
    assert (
        err.getvalue()
        .splitlines()[-1]
        .startswith("tray-stt: ~/.config/autostart/tray-stt.desktop was not written by tray-stt")
    )


def test_run_key_status_reports_an_empty_value(tmp_path: Path) -> None:
    registry = FakeWinreg()
    key = registry.CreateKeyEx(registry.HKEY_CURRENT_USER, RUN_KEY)
    registry.SetValueEx(key, "tray-stt", 0, registry.REG_SZ, "  ")
    status = RunKey(registry, ["C:\\tray-stt.exe"], environ={}).status()
    assert not status.enabled and "has an empty command" in status.detail


class UnreadableWinreg(FakeWinreg):
    """A registry whose Run key cannot be read."""

    def QueryValueEx(self, key: FakeKey, name: str) -> tuple[object, int]:  # noqa: N802
        raise PermissionError(5, "Access is denied")


def test_run_key_status_reports_rather_than_raises(tmp_path: Path) -> None:
    registry = UnreadableWinreg()
    registry.CloseKey(registry.CreateKeyEx(registry.HKEY_CURRENT_USER, RUN_KEY))
    status = RunKey(registry, ["C:\\tray-stt.exe"], environ={}).status()
    assert not status.enabled
    assert (
        status.detail.startswith("Could not read HKCU\\Software\\Microsoft")
        and "denied" in status.detail
    )
    assert registry.all_closed()
