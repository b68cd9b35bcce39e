"""Desktop tier: the real tray app in a real XEmbed tray (trayer) on Xvfb, clicked with xdotool.

What runs here is what a user without AppIndicator support gets: the venv has no PyGObject, so
pystray's xorg backend draws the icon. That backend has no menu (pystray HAS_MENU=False), so the
test clicks the icon itself, whose default action toggles listening; the menu model is covered by
tests/test_tray.py. Screenshots of the tray are saved under the test's tmp_path and, when
$TRAY_STT_ARTIFACTS is set, copied there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import desktop_fixtures
import numpy as np
import pytest
from audio_fixtures import silence, tone
from fake_notification_daemon import FakeNotificationDaemon
from realtime_server import RealtimeServer
from tray_process import TrayProcess, cli, private_env, write_file_microphone

pytestmark = pytest.mark.desktop

# pytest finds fixtures in the test module's namespace (tests/desktop_fixtures.py explains).
notification_daemon = desktop_fixtures.notification_daemon
private_session_bus = desktop_fixtures.private_session_bus

TRANSCRIPTS = ["Clicked on and heard.", "Second turn."]
ICON_CLASS = "^tray-stt$"  # pystray's xorg window: WM_CLASS ("tray-sttSystemTrayIcon", "tray-stt")


def need(tool: str, package: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (apt install {package})")


@pytest.fixture(scope="module")
def tray_host(xvfb_display: str) -> Iterator[str]:
    """trayer, an XEmbed system tray, along the top right edge of the Xvfb screen."""
    need("trayer", "trayer")
    command = ["trayer", "--edge", "top", "--align", "right", "--widthtype", "pixel"]
    command += ["--width", "200", "--height", "32"]
    host = subprocess.Popen(
        command,
        env={**os.environ, "DISPLAY": xvfb_display},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        poll(lambda: tray_owner(xvfb_display), "trayer never took the system tray selection")
        yield xvfb_display
    finally:
        host.terminate()
        host.wait(10)


def poll(predicate: Any, message: str, timeout: float = 15.0) -> Any:
    waiter = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if value := predicate():
            return value
        waiter.wait(0.05)
    raise AssertionError(message)


def tray_owner(display_name: str) -> bool:
    from Xlib import X, display

    d = display.Display(display_name)
    try:
        atom = d.intern_atom(f"_NET_SYSTEM_TRAY_S{d.get_default_screen()}")
        return bool(d.get_selection_owner(atom) != X.NONE)
    finally:
        d.close()


def docked_icon(display_name: str) -> tuple[int, int, int, int, int] | None:
    """(window id, x, y, width, height) of our icon once the tray has embedded it, else None."""
    from Xlib import display

    found = subprocess.run(
        ["xdotool", "search", "--class", ICON_CLASS],
        env={**os.environ, "DISPLAY": display_name},
        capture_output=True,
        text=True,
    ).stdout.split()
    d = display.Display(display_name)
    try:
        for wid in map(int, found):
            window = d.create_resource_object("window", wid)
            geometry = window.get_geometry()
            if geometry.width > 1 and geometry.height > 1:  # docking is asynchronous
                origin = d.screen().root.translate_coords(window, 0, 0)
                return wid, origin.x, origin.y, geometry.width, geometry.height
    finally:
        d.close()
    return None


def screenshot(display_name: str, path: Path) -> Any:
    """The whole screen as a Pillow image, saved to ``path`` and to $TRAY_STT_ARTIFACTS."""
    from PIL import Image
    from Xlib import X, display

    d = display.Display(display_name)
    try:
        root = d.screen().root
        geometry = root.get_geometry()
        raw = root.get_image(0, 0, geometry.width, geometry.height, X.ZPixmap, 0xFFFFFFFF)
    finally:
        d.close()
    image = Image.frombytes("RGB", (geometry.width, geometry.height), raw.data, "raw", "BGRX")
    image.save(path)
    artifacts = os.environ.get("TRAY_STT_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(artifacts) / path.name)
    return image


def click(display_name: str, wid: int) -> None:
    subprocess.run(
        ["xdotool", "mousemove", "--window", str(wid), "8", "8", "click", "1"],
        env={**os.environ, "DISPLAY": display_name},
        check=True,
    )


def green_pixels(image: Any) -> int:
    pixels = np.asarray(image.convert("RGB"), dtype=int)
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return int(((g > r + 60) & (g > b + 60)).sum())


def two_bursts() -> np.ndarray:
    rate = 24000
    parts = [silence(0.5, rate), tone(500, 0.8, rate), silence(1.0, rate)]
    return np.concatenate([*parts, tone(700, 0.8, rate), silence(6.0, rate)])


def test_tray_icon_docks_click_toggles_listening_and_transcripts_arrive(
    tray_host: str,
    tmp_path: Path,
    notification_daemon: FakeNotificationDaemon,
    private_session_bus: str,
) -> None:
    need("xdotool", "xdotool")
    env = private_env(tmp_path, DISPLAY=tray_host, DBUS_SESSION_BUS_ADDRESS=private_session_bus)
    device = write_file_microphone(Path(env["HOME"]), two_bursts())
    with RealtimeServer(transcripts=TRANSCRIPTS) as server:
        env.update(TRAY_STT_URL=server.url, TRAY_STT_DEVICE=device)
        tray = TrayProcess(env)
        try:
            tray.wait_serving()
            wid, x, y, width, height = poll(lambda: docked_icon(tray_host), "icon never docked")

            def icon_shot(name: str) -> Any:
                icon = screenshot(tray_host, tmp_path / name).crop((x, y, x + width, y + height))
                zoomed = icon.resize((width * 8, height * 8), resample=0)  # nearest: see pixels
                zoomed.save(tmp_path / name.replace(".png", "-icon-x8.png"))
                return icon

            def drawn_icon() -> Any:
                image = icon_shot("tray-idle.png")
                return image if len(image.getcolors(4096) or []) > 8 else None  # not blank

            icon = poll(drawn_icon, "the icon was never drawn")
            assert icon.getpixel((0, 0)) != (0, 0, 0)  # the tray's background, not black
            assert green_pixels(icon) == 0  # idle is grey

            click(tray_host, wid)
            answer = tray.wait_status(lambda s: s["today"] == len(TRANSCRIPTS))
            assert answer["listening"] is True
            assert server.delivered == TRANSCRIPTS and server.violations == []
            tray.wait_status(lambda s: s["state"] == "listening")
            poll(lambda: green_pixels(icon_shot("tray-listening.png")) > 20, "never green")

            click(tray_host, wid)
            tray.wait_status(lambda s: s["state"] == "idle" and not s["listening"])
            ready = notification_daemon.wait_for_notifications(1)[0]
            assert ready["body"] == "Ready: click the icon to start listening."

            assert cli(env, "quit").returncode == 0
            assert tray.wait() == 0
            poll(lambda: docked_icon(tray_host) is None, "the icon stayed after quit")
        finally:
            tray.stop()
    assert "Traceback" not in tray.stderr, tray.stderr
