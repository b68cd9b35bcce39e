"""``tray-stt doctor`` as a real subprocess on this machine (issue 14, item 9).

Each run gets a PATH of symlinks to the desktop tools tray-stt runs (xclip, xdotool, xdg-open)
minus the one under test, a private Xvfb (with or without trayer), a private D-Bus (with or
without a notification daemon and a StatusNotifier watcher), a file microphone for PortAudio,
and the loopback realtime server that accepts or rejects the key.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.support.fake_portal import FakePortal
from tests.support.realtime_server import RealtimeServer
from tests.support.tray_process import cli, private_env, write_file_microphone

TOOLS = ("xclip", "xdotool", "xdg-open")
ROW = re.compile(r"^(?P<name>\S.*?)\s{2,}(?P<status>ok|FAIL|warn)\s{2,}(?P<detail>.*)$")
WATCHER = """
import sys, time
from jeepney import message_bus
from jeepney.io.blocking import open_dbus_connection
with open_dbus_connection(bus="SESSION") as connection:
    connection.send_and_get_reply(message_bus.RequestName("org.kde.StatusNotifierWatcher"))
    print("READY", flush=True)
    time.sleep(600)
"""


def need_tools() -> None:
    for tool in TOOLS:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (.ci/setup installs it)")


def tool_dir(root: Path, without: tuple[str, ...]) -> Path:
    """A PATH directory with a symlink to each tool but ``without``."""
    directory = root / "bin"
    directory.mkdir()
    for tool in TOOLS:
        if tool not in without:
            (directory / tool).symlink_to(shutil.which(tool))  # type: ignore[arg-type]
    return directory


def doctor(
    tmp_path: Path,
    display: str,
    bus: str,
    url: str,
    *,
    without: tuple[str, ...] = (),
    config: str = "",
    key: str = "test-key",
    device: str | None = None,
    wayland: bool = False,
) -> tuple[int, dict[str, tuple[str, str]], str]:
    """Run ``tray-stt doctor``; (exit code, {check: (status, detail and fix)}, stdout)."""
    env = private_env(
        tmp_path,
        DISPLAY=display,
        DBUS_SESSION_BUS_ADDRESS=bus,
        TRAY_STT_URL=url,
        OPENAI_API_KEY=key,
        PATH=str(tool_dir(tmp_path, without)),
    )
    if wayland:  # a Wayland session without XWayland: the portal's hotkey, wtype, wl-copy
        del env["DISPLAY"]
        env["WAYLAND_DISPLAY"] = "wayland-0"
    microphone = write_file_microphone(Path(env["HOME"]), np.zeros(24000, dtype=np.int16))
    env["TRAY_STT_DEVICE"] = device or microphone
    config_file = tmp_path / "config.toml"
    config_file.write_text(config)
    done = cli(env, "doctor", "--config", str(config_file), timeout=60)
    assert "Traceback" not in done.stderr, done.stderr
    rows: dict[str, tuple[str, str]] = {}
    name = ""
    for line in done.stdout.splitlines():
        if match := ROW.match(line):
            name = match["name"]
            rows[name] = (match["status"], match["detail"])
        elif line.strip().startswith("→") and name:
            rows[name] = (rows[name][0], rows[name][1] + " " + line.strip())
    return done.returncode, rows, done.stdout


@pytest.fixture
def server() -> Iterator[RealtimeServer]:
    with RealtimeServer() as running:
        yield running


@pytest.fixture
def watcher(private_session_bus: str) -> Iterator[None]:
    """A StatusNotifierWatcher name owner on the private bus (as KDE's panel would own it)."""
    process = subprocess.Popen(
        [sys.executable, "-c", WATCHER],
        env={"DBUS_SESSION_BUS_ADDRESS": private_session_bus},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "READY"
        yield
    finally:
        process.terminate()
        process.wait(5)
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.desktop
def test_doctor_everything_there(
    tmp_path: Path,
    tray_host: str,
    private_session_bus: str,
    notification_daemon: object,
    server: RealtimeServer,
) -> None:
    need_tools()
    code, rows, out = doctor(tmp_path, tray_host, private_session_bus, server.url)
    assert code == 0, out
    for name in ("microphone", "API key set", "API key accepted", "log folder", "key sender"):
        assert rows[name][0] == "ok", out
    assert rows["microphone"][1].startswith("PortAudio:") and "'filemic'" in rows["microphone"][1]
    assert rows["API key accepted"][1] == "127.0.0.1 accepted the key"
    assert rows["key sender"][1] == "xdotool (X11)"
    assert rows["clipboard tool"] == ("ok", "xclip (X11)")
    assert rows["tray host"] == ("ok", f"an XEmbed system tray on {tray_host}")
    assert rows["notifications"] == ("ok", "a notification daemon (running)")
    assert rows["xdg-open"][0] == "ok"
    assert rows["keyring"][0] == "warn"  # PYTHON_KEYRING_BACKEND is the fail backend here
    assert out.rstrip().splitlines()[-2] == "Everything the configuration needs is here."
    assert len(server.connections) == 1 and server.violations == []


@pytest.mark.desktop
@pytest.mark.parametrize(
    ("missing", "row", "code", "fix"),
    [
        ("xdotool", "key sender", 2, "→ sudo apt install xdotool"),
        ("xclip", "clipboard tool", 2, "→ sudo apt install xclip"),
        ("xdg-open", "xdg-open", 0, "→ sudo apt install xdg-utils"),  # advisory
    ],
)
def test_doctor_each_tool_removed_from_path(
    missing: str,
    row: str,
    code: int,
    fix: str,
    tmp_path: Path,
    own_xvfb: str,
    private_session_bus: str,
    server: RealtimeServer,
) -> None:
    need_tools()
    got, rows, out = doctor(tmp_path, own_xvfb, private_session_bus, server.url, without=(missing,))
    assert got == code, out
    assert rows[row][0] == ("FAIL" if code else "warn"), out
    assert rows[row][1].endswith(fix), rows[row]
    others = [name for name in ("key sender", "clipboard tool", "xdg-open") if name != row]
    assert all(rows[name][0] == "ok" for name in others), out


@pytest.mark.desktop
def test_doctor_without_a_hotkey_needs_no_key_sender_or_clipboard(
    tmp_path: Path, own_xvfb: str, private_session_bus: str, server: RealtimeServer
) -> None:
    need_tools()
    code, rows, out = doctor(
        tmp_path,
        own_xvfb,
        private_session_bus,
        server.url,
        without=("xdotool", "xclip"),
        config='hotkey = "off"\n',
    )
    assert code == 0, out
    assert rows["key sender"][0] == "warn" and rows["clipboard tool"][0] == "warn"
    assert "Optional, missing: key sender, clipboard tool" in out


@pytest.mark.desktop
def test_doctor_without_tray_host_or_notification_daemon(
    tmp_path: Path, own_xvfb: str, private_session_bus: str, server: RealtimeServer
) -> None:
    need_tools()
    code, rows, out = doctor(tmp_path, own_xvfb, private_session_bus, server.url)
    assert code == 0, out  # both are advisory: tray-stt runs without them
    status, detail = rows["tray host"]
    assert status == "warn"
    assert detail.startswith(f"no StatusNotifier watcher; no XEmbed system tray on {own_xvfb}")
    assert "bind `tray-stt toggle` to a shortcut" in detail
    assert rows["notifications"][0] == "warn" and "dunst" in rows["notifications"][1]


@pytest.mark.desktop
@pytest.mark.usefixtures("watcher")
def test_doctor_finds_a_status_notifier_watcher(
    tmp_path: Path, own_xvfb: str, private_session_bus: str, server: RealtimeServer
) -> None:
    need_tools()
    code, rows, out = doctor(tmp_path, own_xvfb, private_session_bus, server.url)
    assert code == 0, out
    assert rows["tray host"] == ("ok", "a StatusNotifier watcher (AppIndicator icons)")


@pytest.mark.desktop
def test_doctor_configured_microphone_missing(
    tmp_path: Path, own_xvfb: str, private_session_bus: str, server: RealtimeServer
) -> None:
    need_tools()
    code, rows, out = doctor(
        tmp_path, own_xvfb, private_session_bus, server.url, device="USB headset that is gone"
    )
    assert code == 2, out
    status, detail = rows["microphone"]
    assert status == "FAIL" and "No input device is named 'USB headset that is gone'" in detail
    assert detail.endswith(
        "→ set device to one of `tray-stt devices` (or remove it for the default)"
    )


@pytest.mark.desktop
@pytest.mark.parametrize("shortcuts", [True, False], ids=["portal", "portal-without-shortcuts"])
def test_doctor_on_wayland_needs_the_portal_wtype_and_wl_copy(
    shortcuts: bool, tmp_path: Path, private_session_bus: str, server: RealtimeServer
) -> None:
    need_tools()
    portal = FakePortal(private_session_bus, tmp_path / "portal.jsonl", no_shortcuts=not shortcuts)
    try:
        code, rows, out = doctor(tmp_path, "", private_session_bus, server.url, wayland=True)
    finally:
        portal.stop()
    assert code == 2, out  # no wtype or ydotool, no wl-copy here
    assert rows["key sender"][0] == "FAIL" and "sudo apt install wtype" in rows["key sender"][1]
    assert rows["clipboard tool"][0] == "FAIL" and "wl-clipboard" in rows["clipboard tool"][1]
    status, detail = rows["shortcuts portal"]
    if shortcuts:
        assert (status, detail) == ("ok", "GlobalShortcuts version 1"), out
    else:
        assert status == "FAIL" and "no GlobalShortcuts portal" in detail
        assert 'hotkey = "off"' in detail


@pytest.mark.desktop
def test_doctor_key_rejected_exits_3(
    tmp_path: Path, own_xvfb: str, private_session_bus: str, server: RealtimeServer
) -> None:
    need_tools()
    code, rows, out = doctor(tmp_path, own_xvfb, private_session_bus, server.url, key="sk-wrong")
    assert code == 3, out
    assert rows["API key set"][0] == "ok"
    status, detail = rows["API key accepted"]
    assert status == "FAIL" and "rejected" in detail and "tray-stt set-key" in detail


@pytest.mark.desktop
def test_doctor_endpoint_down_exits_5_within_its_bound(
    tmp_path: Path, own_xvfb: str, private_session_bus: str
) -> None:
    need_tools()
    with RealtimeServer() as gone:
        url = gone.url
    code, rows, out = doctor(tmp_path, own_xvfb, private_session_bus, url)
    assert code == 5, out
    assert rows["API key accepted"][0] == "FAIL" and "network" in rows["API key accepted"][1]


def test_doctor_pygobject_row_with_the_gtk_python() -> None:
    """The row from a Python that has PyGObject and the typelibs (.venv-gtk), and from one
    that has not (.venv)."""
    from tests.support import REPO
    from tray_stt.app.doctor import pygobject

    gtk_python = REPO / ".venv-gtk" / "bin" / "python"
    if not gtk_python.exists():
        pytest.skip(".venv-gtk is missing (bash .ci/setup test makes it)")
    code = "from tray_stt.app.doctor import pygobject; print(pygobject().detail)"
    done = subprocess.run(
        [str(gtk_python), "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "PyGObject, GTK 3 and the AppIndicator typelib"
    if importlib.util.find_spec("gi") is None:  # .venv: PyGObject is not pip-installable
        without = pygobject()
        assert not without.passed and "python3-gi" in without.fix
