"""Notifications: a real D-Bus round trip to a fake daemon, rate limits, quoting, never raising."""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.fake_notification_daemon import FakeNotificationDaemon
from tray_stt.desktop.notify import (
    BODY_LIMIT,
    TITLE_LIMIT,
    DBusBackend,
    HookBackend,
    Notifier,
    NotifySendBackend,
    NullBackend,
    OsascriptBackend,
    applescript_string,
    choose_backend,
    truncate,
)
from tray_stt.resources import app_icon_path


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class RecordingBackend:
    """Remembers what it was asked to show."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, str, bool]] = []

    def send(self, title: str, body: str, *, urgent: bool) -> None:
        self.shown.append((title, body, urgent))


class BrokenBackend:
    """Fails the way a library might."""

    def send(self, title: str, body: str, *, urgent: bool) -> None:
        raise RuntimeError("the bus caught fire")


def _recording_notifier() -> tuple[Notifier, RecordingBackend, FakeClock]:
    backend, clock = RecordingBackend(), FakeClock()
    return Notifier(backend=backend, clock=clock), backend, clock


def test_notifier_dbus_notification_reaches_the_daemon(
    notification_daemon: FakeNotificationDaemon,
) -> None:
    notifier = Notifier(platform="linux")
    assert isinstance(notifier.backend, DBusBackend)
    notifier.notify("Transcribing", "Listening on the default microphone.")
    notifier.notify("Connection lost", "Retrying in 2 s.", urgent=True)
    first, second = notification_daemon.wait_for_notifications(2)
    assert first["app_name"] == "tray-stt"
    assert (first["summary"], first["body"]) == (
        "Transcribing",
        "Listening on the default microphone.",
    )
    assert first["app_icon"] == app_icon_path().as_uri()
    assert Path(app_icon_path()).is_file()
    assert first["expire_timeout"] == -1  # the server's default
    assert (first["hints"], second["hints"]) == ({"urgency": 1}, {"urgency": 2})
    assert (second["summary"], second["body"]) == ("Connection lost", "Retrying in 2 s.")


def test_notifier_topic_replaces_its_notification_and_withdraw_closes_it(
    notification_daemon: FakeNotificationDaemon,
) -> None:
    """A problem's notification is replaced by its update and taken away when it clears, so
    a fixed problem does not stay on screen (org.freedesktop.Notifications replaces_id and
    CloseNotification)."""
    notifier = Notifier(platform="linux")
    notifier.notify("tray-stt", "The network is down.", urgent=True, topic="health")
    notifier.notify("tray-stt", "No credit left.", urgent=True, topic="health")
    first, second = notification_daemon.wait_for_notifications(2)
    assert first["replaces_id"] == 0
    assert second["replaces_id"] == 1  # the fake daemon numbers notifications from 1
    notifier.withdraw("health")
    notifier.withdraw("health")  # already gone: nothing more is sent
    [closed] = notification_daemon.calls("CloseNotification")  # withdraw waits for the reply
    assert closed["id"] == 2  # the replacement's


def test_notifier_no_daemon_on_the_bus_warns_once_and_never_raises(
    private_session_bus: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    notifier = Notifier(backend=DBusBackend())
    with caplog.at_level(logging.INFO, logger="tray_stt.desktop.notify"):
        notifier.notify("First", "one")
        notifier.notify("Second", "two")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "ServiceUnknown" in warnings[0].getMessage()
    assert "notification: Second: two" in caplog.text  # the words still reach the log


@pytest.mark.parametrize("address", [None, "unix:path=/nonexistent/bus", "nonsense"])
def test_notifier_no_session_bus_at_all_never_raises(
    address: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if address is None:
        monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    else:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    Notifier(backend=DBusBackend()).notify("Title", "Body")


def test_notifier_daemon_error_reply_is_swallowed(
    private_session_bus: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    error = "org.freedesktop.Notifications.Error.ExcessNotificationGenerated"
    daemon = FakeNotificationDaemon(private_session_bus, tmp_path / "calls.jsonl", error=error)
    try:
        Notifier(backend=DBusBackend()).notify("Title", "Body")
        assert len(daemon.wait_for_notifications(1)) == 1
    finally:
        daemon.stop()
    assert error in caplog.text


@pytest.mark.skipif(shutil.which("notify-send") is None, reason="apt install libnotify-bin")
def test_notify_send_backend_reaches_the_daemon(
    notification_daemon: FakeNotificationDaemon,
) -> None:
    notifier = Notifier(backend=NotifySendBackend("notify-send"))
    notifier.notify("-u \\n option?", 'Body: "quotes", \\ and \\n', urgent=True)
    (call,) = notification_daemon.wait_for_notifications(1)
    assert call["app_name"] == "tray-stt"
    assert call["summary"] == "-u \\n option?"
    assert call["body"] == 'Body: "quotes", \\ and \\n'
    assert call["hints"]["urgency"] == 2


def test_notifier_same_words_at_most_once_per_30_s_even_if_urgent() -> None:
    notifier, backend, clock = _recording_notifier()
    notifier.notify("Error", "No microphone.")
    clock.now += 29.9
    notifier.notify("Error", "No microphone.", urgent=True)
    notifier.notify("Error", "Another body.")
    clock.now += 0.1
    notifier.notify("Error", "No microphone.")
    assert backend.shown == [
        ("Error", "No microphone.", False),
        ("Error", "Another body.", False),
        ("Error", "No microphone.", False),
    ]


def test_notifier_at_most_five_a_minute_unless_urgent() -> None:
    notifier, backend, clock = _recording_notifier()
    for n in range(7):
        notifier.notify("Transcript", f"line {n}")
        clock.now += 1
    assert [body for _, body, _ in backend.shown] == [f"line {n}" for n in range(5)]
    notifier.notify("Error", "Authentication failed.", urgent=True)
    assert backend.shown[-1] == ("Error", "Authentication failed.", True)
    # Urgent ones count too: at 1062 s, 1000-1002 have left the window and 1003, 1004 and the
    # urgent 1007 remain, so two more fit.
    clock.now = 1062.0
    for n in (7, 8, 9):
        notifier.notify("Transcript", f"line {n}")
    assert [body for _, body, _ in backend.shown[-2:]] == ["line 7", "line 8"]


def test_notifier_disabled_shows_nothing_until_enabled() -> None:
    notifier, backend, _ = _recording_notifier()
    notifier.enabled = False
    notifier.notify("Title", "Body", urgent=True)
    assert backend.shown == []
    notifier.enabled = True
    notifier.notify("Title", "Body")
    assert backend.shown == [("Title", "Body", False)]


def test_notifier_never_raises_from_a_failing_backend(caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier(backend=BrokenBackend())
    notifier.notify("Title", "Body")
    assert "the bus caught fire" in caplog.text


def test_notifier_truncates_to_the_win32_limits() -> None:
    notifier, backend, _ = _recording_notifier()
    notifier.notify("T" * 100, "B" * 1000)
    ((title, body, _),) = backend.shown
    assert (len(title), len(body)) == (TITLE_LIMIT, BODY_LIMIT) == (63, 255)
    assert title.endswith("…") and body.endswith("…")


def test_truncate_counts_utf16_units_like_windows() -> None:
    assert truncate("short", 63) == "short"
    assert truncate("x" * 63, 63) == "x" * 63
    emoji = "\N{MICROPHONE}" * 40  # two UTF-16 units each
    cut = truncate(emoji, 63)
    assert len(cut.encode("utf-16-le")) // 2 <= 63
    assert cut == "\N{MICROPHONE}" * 31 + "…"


def test_osascript_argv_quotes_tricky_text() -> None:
    argv: list[Sequence[str]] = []
    notifier = Notifier(backend=OsascriptBackend(run=argv.append))
    notifier.notify('Say "hi" \\ bye', 'It\'s a "test" \\n not a newline\n' + "end")
    assert argv == [
        [
            "osascript",
            "-e",
            'display notification "It\'s a \\"test\\" \\\\n not a newline\nend" '
            'with title "Say \\"hi\\" \\\\ bye"',
        ]
    ]


def test_applescript_string_escapes_backslash_before_quote() -> None:
    assert applescript_string('\\"') == '"\\\\\\""'
    assert applescript_string("plain") == '"plain"'


def test_notify_send_argv_ends_options_before_the_text() -> None:
    argv = NotifySendBackend("notify-send").argv("--help", "-x \\", urgent=False)
    assert argv[:5] == ["notify-send", "-a", "tray-stt", "-u", "normal"]
    assert argv[-3:] == ["--", "--help", "-x \\\\"]  # the body's backslash survives g_strcompress


def test_choose_backend_per_platform() -> None:
    assert isinstance(choose_backend("darwin"), OsascriptBackend)
    assert isinstance(choose_backend("win32"), HookBackend)
    assert isinstance(choose_backend("linux"), DBusBackend)  # jeepney is installed


def test_choose_backend_without_jeepney_or_notify_send_is_a_no_op(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("tray_stt.desktop.notify._jeepney_available", lambda: False)
    monkeypatch.setattr("tray_stt.desktop.notify.shutil.which", lambda name: None)
    with caplog.at_level(logging.INFO, logger="tray_stt.desktop.notify"):
        backend = choose_backend("linux")
    assert isinstance(backend, NullBackend)
    assert "notifications are off" in caplog.text
    monkeypatch.setattr("tray_stt.desktop.notify.shutil.which", lambda name: "/usr/bin/" + name)
    assert isinstance(choose_backend("linux"), NotifySendBackend)


def test_notifier_hook_receives_body_then_title_like_pystray() -> None:
    notifier = Notifier(platform="win32")
    notifier.notify("Before", "the tray exists")  # dropped to the log, no error
    calls: list[tuple[str, str]] = []
    notifier.set_hook(lambda message, title: calls.append((message, title)))
    notifier.notify("Listening", "Speak now.")
    assert calls == [("Speak now.", "Listening")]


def test_notifier_hook_failure_is_swallowed() -> None:
    def broken(message: str, title: str) -> None:
        raise ValueError("szInfo too long")

    notifier = Notifier(backend=HookBackend(broken))
    notifier.notify("Title", "Body")


def _applescript_literal_value(literal: str) -> str:
    """What AppleScript reads from a string literal: \\" \\\\ \\n \\t \\r are its escapes."""
    assert literal[0] == literal[-1] == '"'
    escapes = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}
    inner = literal[1:-1]
    assert re.fullmatch(r'(?:[^"\\]|\\.)*', inner, flags=re.DOTALL), "an unescaped quote"
    return re.sub(r"\\(.)", lambda m: escapes[m.group(1)], inner, flags=re.DOTALL)


@given(st.text())
def test_applescript_string_reads_back_as_the_same_text(text: str) -> None:
    assert _applescript_literal_value(applescript_string(text)) == text
