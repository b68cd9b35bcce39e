"""The text before the cursor, read over AT-SPI from a real GTK entry, and joining that uses it.

On a private Xvfb and session bus, at-spi-bus-launcher (at-spi2-core) runs the accessibility bus
as a desktop session does, and a GTK 3 window (the system's python3 with PyGObject) holds an
entry the test types into with xdotool, as a user would: tray-stt never delivered that text, so
only the field itself can say what precedes the next dictation.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from jeepney import message_bus
from jeepney.io.blocking import open_dbus_connection

from tests.support.dictation_desktop import focus_window, read_text, require, wait_until
from tray_stt.desktop.caret import text_before_caret
from tray_stt.desktop.inject import Deliverer
from tray_stt.pushtotalk.delivery import DeliveryMode

SYSTEM_PYTHON = "/usr/bin/python3"
LAUNCHERS = ("/usr/libexec/at-spi-bus-launcher", "/usr/lib/at-spi2-core/at-spi-bus-launcher")

GTK_ENTRY = textwrap.dedent(
    """
    import os, sys, gi
    gi.require_version("Gtk", "3.0")
    from gi.repository import Gtk
    out = sys.argv[1]
    window = Gtk.Window(title="caret target")
    entry = Gtk.Entry()
    entry.set_text(sys.argv[2])  # what the field already holds, the cursor after it
    def save(*_):
        with open(out + ".tmp", "w", encoding="utf-8") as f:
            f.write(entry.get_text())
        os.replace(out + ".tmp", out)
    entry.connect("changed", save)
    window.add(entry)
    window.connect("destroy", Gtk.main_quit)
    window.show_all()
    print("ready", flush=True)
    Gtk.main()
    """
)


def launcher() -> str:
    found = next((path for path in LAUNCHERS if Path(path).exists()), None)
    if found is None:
        pytest.skip("at-spi-bus-launcher is not installed (apt install at-spi2-core)")
    return found


def system_gtk() -> bool:
    check = "import gi; gi.require_version('Gtk', '3.0')"
    run = subprocess.run([SYSTEM_PYTHON, "-c", check], capture_output=True)
    return Path(SYSTEM_PYTHON).exists() and run.returncode == 0


def stop_group(process: subprocess.Popen[str]) -> None:
    """End a child started in a session of its own, and what it started (the bus daemons)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)


@pytest.fixture
def desktop_env(own_xvfb: str, private_session_bus: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a program on this test's display and session bus."""
    require("xdotool")
    home = tmp_path / "home"
    run = tmp_path / "run"
    for folder in (home, run):
        folder.mkdir(mode=0o700)
    env = {key: value for key, value in os.environ.items() if key != "NO_AT_BRIDGE"}
    env.update(
        DISPLAY=own_xvfb,
        DBUS_SESSION_BUS_ADDRESS=private_session_bus,
        HOME=str(home),
        XDG_RUNTIME_DIR=str(run),
    )
    env.pop("WAYLAND_DISPLAY", None)
    return env


@pytest.fixture
def accessibility_bus(desktop_env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    """at-spi-bus-launcher on the private session bus; yields the desktop environment."""
    command = [launcher(), "--launch-immediately", "--a11y=1"]
    with (tmp_path / "at-spi.log").open("w") as log:
        process = subprocess.Popen(
            command,
            env=desktop_env,
            stdout=log,
            stderr=log,
            text=True,
            start_new_session=True,
        )
    try:
        address = desktop_env["DBUS_SESSION_BUS_ADDRESS"]
        assert wait_until(lambda: has_owner(address, "org.a11y.Bus")), (
            tmp_path / "at-spi.log"
        ).read_text()
        yield desktop_env
    finally:
        stop_group(process)


@pytest.fixture
def gtk_entry(
    accessibility_bus: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[str, Path]]:
    """A focused GTK 3 entry (holding the text of an indirect parameter, if any); yields its X
    window id and the file that mirrors its text."""
    if not system_gtk():
        pytest.skip("no PyGObject for /usr/bin/python3 (apt install python3-gi gir1.2-gtk-3.0)")
    out = tmp_path / "entry.txt"
    app = subprocess.Popen(
        [SYSTEM_PYTHON, "-c", GTK_ENTRY, str(out), getattr(request, "param", "")],
        env=accessibility_bus,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert app.stdout is not None and app.stdout.readline() == "ready\n"
        search = ["xdotool", "search", "--sync", "--name", "^caret target$"]
        window = subprocess.run(
            search, env=accessibility_bus, capture_output=True, text=True, timeout=15
        ).stdout.split()[0]
        focus_window(accessibility_bus, window)
        yield window, out
    finally:
        stop_group(app)


def has_owner(address: str, name: str) -> bool:
    with open_dbus_connection(bus=address) as bus:
        return bool(bus.send_and_get_reply(message_bus.NameHasOwner(name), timeout=5).body[0])


def xdotool(env: dict[str, str], *args: str) -> None:
    subprocess.run(["xdotool", *args], env=env, check=True, timeout=15)


def before_caret_becomes(env: dict[str, str], expected: str) -> str | None:
    """Poll (typing reaches the entry asynchronously) until the answer is ``expected``."""
    wait_until(lambda: text_before_caret(env) == expected)
    return text_before_caret(env)


@pytest.mark.desktop
def test_text_before_caret_of_a_gtk_entry_typed_by_the_user(
    gtk_entry: tuple[str, Path], accessibility_bus: dict[str, str]
) -> None:
    env = accessibility_bus
    xdotool(env, "type", "--delay", "10", "Hello there.")
    assert before_caret_becomes(env, "Hello there.") == "Hello there."
    xdotool(env, "key", "Left", "Left", "Left")  # the cursor, not the end of the text, counts
    assert before_caret_becomes(env, "Hello the") == "Hello the"
    xdotool(env, "key", "Home")
    assert before_caret_becomes(env, "") == ""


LONG = "Grüße, 안녕하세요 — " * 40


@pytest.mark.desktop
@pytest.mark.parametrize("gtk_entry", [LONG], indirect=True)
def test_text_before_caret_is_the_end_of_a_long_field_in_characters(
    gtk_entry: tuple[str, Path], accessibility_bus: dict[str, str]
) -> None:
    # Offsets are in characters, not bytes: non-ASCII text is cut at the right place.
    assert before_caret_becomes(accessibility_bus, LONG[-200:]) == LONG[-200:]
    assert text_before_caret(accessibility_bus, limit=7) == LONG[-7:]


@pytest.mark.desktop
def test_dictation_joins_to_text_the_user_typed(
    gtk_entry: tuple[str, Path], accessibility_bus: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "how are you" after "Hello there." typed by the user (not delivered by tray-stt) gets
    " How are you"; and after the user's "I think", the next turn is lower-cased even though
    tray-stt's own last delivery there ended a sentence."""
    window, out = gtk_entry
    env = accessibility_bus
    xdotool(env, "type", "--delay", "10", "Hello there.")
    assert before_caret_becomes(env, "Hello there.") == "Hello there."
    monkeypatch.setenv("DISPLAY", env["DISPLAY"])  # for xdotool, which the deliverer runs
    notices: list[str] = []
    deliverer = Deliverer(DeliveryMode.TYPE, env=env, settle_s=0, on_notice=notices.append)
    try:
        target = deliverer.focused()
        assert target is not None and target.id == int(window)
        deliverer.deliver("How are you?", target)
        assert wait_until(lambda: read_text(out) == "Hello there. How are you?"), (
            read_text(out),
            notices,
        )

        xdotool(env, "key", "ctrl+a", "BackSpace")
        xdotool(env, "type", "--delay", "10", "I think")
        assert before_caret_becomes(env, "I think") == "I think"
        deliverer.deliver("That works.", target)
        assert wait_until(lambda: read_text(out) == "I think that works."), read_text(out)
    finally:
        deliverer.close()


@pytest.mark.desktop
def test_a_window_that_does_not_publish_its_text_is_unknown(
    gtk_entry: tuple[str, Path], accessibility_bus: dict[str, str]
) -> None:
    """xterm tells AT-SPI nothing: once it has the focus, the GTK entry that lost it must not
    answer for it (joining then falls back to tray-stt's own last delivery)."""
    require("xterm")
    env = accessibility_bus
    xdotool(env, "type", "--delay", "10", "Hello there.")
    assert before_caret_becomes(env, "Hello there.") == "Hello there."
    xterm = subprocess.Popen(["xterm", "-title", "not accessible"], env=env, start_new_session=True)
    try:
        search = ["xdotool", "search", "--sync", "--name", "^not accessible$"]
        found = subprocess.run(search, env=env, capture_output=True, text=True, timeout=15)
        focus_window(env, found.stdout.split()[0])
        assert wait_until(lambda: text_before_caret(env) is None)
    finally:
        xterm.terminate()
        xterm.wait(10)


@pytest.mark.desktop
def test_a_session_without_an_accessibility_bus_is_unknown(desktop_env: dict[str, str]) -> None:
    assert text_before_caret(desktop_env) is None


def test_no_session_bus_or_a_bad_address_is_unknown_never_an_error() -> None:
    assert text_before_caret({}) is None
    assert text_before_caret({"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus"}) is None
    assert text_before_caret({"DBUS_SESSION_BUS_ADDRESS": "not an address"}) is None
    assert text_before_caret({"DBUS_SESSION_BUS_ADDRESS": "unix:path=/dev/null"}) is None
