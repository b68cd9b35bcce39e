"""Desktop tier: the real tray app in a real XEmbed tray (trayer) on Xvfb, clicked with xdotool.

What runs here is what a user without AppIndicator support gets: the venv has no PyGObject, so
pystray's xorg backend draws the icon. That backend has no menu (pystray HAS_MENU=False), so the
test clicks the icon itself, whose default action toggles listening; the menu model is covered by
tests/tray/test_view_menu.py. Screenshots of the tray are saved under the test's tmp_path and, when
$TRAY_STT_ARTIFACTS is set, copied there.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.audio_samples import pitch_transcriber, silence, tone
from tests.support.fake_notification_daemon import FakeNotificationDaemon
from tests.support.realtime_server import RealtimeServer
from tests.support.tray_host import docked_icon, need, poll, screenshot
from tests.support.tray_process import TrayProcess, cli, private_env, write_file_microphone

pytestmark = pytest.mark.desktop

TRANSCRIPTS = ["Clicked on and heard.", "Second turn."]


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


# Each burst is named by its pitch: the unpaced file microphone can fill the minute memory keeps
# before the first connection, and then the first burst is retried on a connection of its own.
by_pitch = pitch_transcriber({500.0: TRANSCRIPTS[0], 700.0: TRANSCRIPTS[1]})


def test_tray_icon_docks_click_toggles_listening_and_transcripts_arrive(
    tray_host: str,
    tmp_path: Path,
    notification_daemon: FakeNotificationDaemon,
    private_session_bus: str,
) -> None:
    need("xdotool", "xdotool")
    env = private_env(tmp_path, DISPLAY=tray_host, DBUS_SESSION_BUS_ADDRESS=private_session_bus)
    device = write_file_microphone(Path(env["HOME"]), two_bursts())
    with RealtimeServer(transcripts=by_pitch) as server:
        env.update(TRAY_STT_URL=server.url, TRAY_STT_DEVICE=device)
        tray = TrayProcess(env)
        try:
            tray.wait_serving()
            wid, x, y, width, height = poll(lambda: docked_icon(tray_host), "icon never docked")

            def icon_shot(name: str) -> Any:
                # Re-read the place: the tray may lay its slots out again after docking.
                _, x, y, width, height = poll(lambda: docked_icon(tray_host), "icon gone")
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
            # Each burst transcribed once (a retried one after the live one).
            assert sorted(t for t in server.delivered if t) == sorted(TRANSCRIPTS)
            assert server.violations == []
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
