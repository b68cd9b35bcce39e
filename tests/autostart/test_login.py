"""A login on Linux, simulated: the autostart entry is read and run the way a session manager does.

``tray-stt autostart enable`` runs as a real process in a temporary HOME; the entry it wrote is
checked as GNOME/KDE do (not Hidden, enabled, TryExec present), its Exec is split by the Desktop
Entry rules (``exec_argv``) and started under Xvfb with a tray host, with only the session's
environment. The tray must come up quietly and answer ``tray-stt status``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.fake_notification_daemon import FakeNotificationDaemon
from tests.support.tray_host import TrayHost, docked_icon, drawn_icon, poll
from tests.support.tray_process import TrayProcess, cli, private_env
from tray_stt.autostart.desktop_entry import parse_desktop_entry, switched_off, unescape_string
from tray_stt.autostart.xdg import exec_argv

pytestmark = [pytest.mark.desktop, pytest.mark.skipif(os.name != "posix", reason="XDG autostart")]


def test_login_runs_the_autostart_entry_and_the_tray_answers(
    tray_host: str,
    tmp_path: Path,
    notification_daemon: FakeNotificationDaemon,
    private_session_bus: str,
) -> None:
    env = private_env(tmp_path, DISPLAY=tray_host, DBUS_SESSION_BUS_ADDRESS=private_session_bus)
    enabled = cli(env, "autostart", "enable")
    assert enabled.returncode == 0, enabled.stderr
    entry = Path(env["XDG_CONFIG_HOME"]) / "autostart" / "tray-stt.desktop"
    assert (
        enabled.stdout
        == "tray-stt will start at login: wrote ~/.config/autostart/tray-stt.desktop.\n"
    )

    keys = parse_desktop_entry(entry.read_text(encoding="utf-8"))
    assert switched_off(keys) is None  # neither Hidden=true nor X-GNOME-Autostart-enabled=false
    assert os.access(unescape_string(keys["TryExec"]), os.X_OK)
    argv = exec_argv(entry)
    assert argv[-1] == "--quiet-start"

    login = TrayProcess(env, argv=argv)
    try:
        status = login.wait_serving()
        assert status["state"] == "idle"
        shown = cli(env, "status")
        assert shown.returncode == 0 and shown.stdout.startswith("state:     idle\n")
        poll(lambda: docked_icon(tray_host), "the icon never appeared in the tray")
        again = cli(env, "--quiet-start")  # a second login item, or the user's own launcher
        assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
        assert cli(env, "quit").returncode == 0
        assert login.wait() == 0, login.stderr
    finally:
        login.stop()
    assert notification_daemon.notifications() == []  # a quiet start, and nothing was wrong
    assert "enabled:" in cli(env, "autostart", "status").stdout
    assert cli(env, "autostart", "disable").returncode == 0
    assert cli(env, "autostart", "status").stdout.startswith("disabled:")


def test_the_icon_docks_in_a_panel_that_starts_later_and_again_when_it_restarts(
    own_xvfb: str, tmp_path: Path, private_session_bus: str
) -> None:
    # Session managers start login items and the panel together: the tray may come first, and
    # must then dock when the panel's tray manager announces itself (MANAGER on the root
    # window). A panel that restarts (a crash, a new theme) gets the icon back the same way.
    env = private_env(tmp_path, DISPLAY=own_xvfb, DBUS_SESSION_BUS_ADDRESS=private_session_bus)
    login = TrayProcess(env, "--quiet-start")
    try:
        assert login.wait_serving()["state"] == "idle"
        assert docked_icon(own_xvfb) is None  # no tray to dock in yet
        with TrayHost(own_xvfb):
            poll(lambda: docked_icon(own_xvfb), lambda: f"never docked late: {login.stderr}")
            poll(lambda: drawn_icon(own_xvfb, tmp_path / "late-panel.png"), "never drawn")
        poll(lambda: docked_icon(own_xvfb) is None, "the icon outlived its panel")
        assert login.process.poll() is None, login.stderr  # losing the tray does not end it
        with TrayHost(own_xvfb):
            poll(lambda: docked_icon(own_xvfb), lambda: f"never docked again: {login.stderr}")
            poll(lambda: drawn_icon(own_xvfb, tmp_path / "restarted.png"), "never drawn again")
            assert cli(env, "quit").returncode == 0
            assert login.wait() == 0, login.stderr
    finally:
        login.stop()
    assert "Traceback" not in login.stderr, login.stderr
