"""D-Bus fixtures of the desktop tier: a private session bus, a fake notification daemon and fake
media players on it.

tests/conftest.py registers them (``pytest_plugins``), so any test can request them by name.
"""

from __future__ import annotations

import select
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_mpris_player import FakeMprisPlayer
from tests.support.fake_notification_daemon import FakeNotificationDaemon

_START_TIMEOUT_S = 10.0

# Only what a session bus needs: no service directories, so that a call to a name nobody owns
# fails with ServiceUnknown instead of activating a real notification daemon on the test bus.
_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={directory}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@pytest.fixture
def private_session_bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private dbus-daemon for one test; DBUS_SESSION_BUS_ADDRESS points at it meanwhile."""
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed (apt install dbus-daemon)")
    # A short directory: the socket path must fit in sun_path (108 bytes).
    directory = Path(tempfile.mkdtemp(prefix="tstt-bus-"))
    try:
        config = directory / "session.conf"
        config.write_text(_BUS_CONFIG.format(directory=directory))
        daemon, address = _start_bus(config)
        try:
            monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
            yield address
        finally:
            _stop(daemon)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def notification_daemon(
    private_session_bus: str, tmp_path: Path
) -> Iterator[FakeNotificationDaemon]:
    """A fake org.freedesktop.Notifications on the private bus, recording every call."""
    daemon = FakeNotificationDaemon(private_session_bus, tmp_path / "notifications.jsonl")
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def mpris_players(private_session_bus: str, tmp_path: Path) -> Iterator[dict[str, FakeMprisPlayer]]:
    """Two fake MPRIS players on the private bus: "music" is playing, "podcast" was paused by
    the user; each records the Pause and Play calls it gets."""
    started: dict[str, FakeMprisPlayer] = {}
    try:
        for name, status in (("music", "Playing"), ("podcast", "Paused")):
            log = tmp_path / f"mpris-{name}.jsonl"
            started[name] = FakeMprisPlayer(private_session_bus, log, name, status)
        yield started
    finally:
        for player in started.values():
            player.stop()


def _start_bus(config: Path) -> tuple[subprocess.Popen[str], str]:
    command = ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address"]
    # Its stderr goes to a file: it complains harmlessly (fd limits) and we want quiet tests.
    errors = config.with_name("dbus-daemon.log")
    with errors.open("w") as stderr:
        daemon = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=stderr, text=True, start_new_session=True
        )
    assert daemon.stdout is not None
    ready, _, _ = select.select([daemon.stdout], [], [], _START_TIMEOUT_S)
    address = daemon.stdout.readline().strip() if ready else ""
    if not address:
        _stop(daemon)
        raise RuntimeError(f"dbus-daemon did not start: {errors.read_text()}")
    return daemon, address


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    if process.stdout is not None:
        process.stdout.close()


__all__ = ["mpris_players", "notification_daemon", "private_session_bus"]
