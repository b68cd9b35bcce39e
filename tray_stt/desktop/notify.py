"""Desktop notifications that never raise, are rate-limited, and can be switched off.

Backends, chosen at construction from the platform:

- Linux and BSD: ``org.freedesktop.Notifications.Notify`` over the session bus with jeepney (pure
  Python), else the ``notify-send`` command, else nothing (one log line says so);
- macOS: ``osascript -e 'display notification ...'``, which works without an app bundle;
- Windows: a hook the tray sets to pystray's ``Icon.notify``, since pystray owns the balloon.

``notify()`` runs the backend on the caller's thread; a D-Bus call waits at most ~2 s.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from tray_stt import APP_NAME
from tray_stt.resources import app_icon_path

log = logging.getLogger(__name__)

TITLE_LIMIT = 63  # win32 szInfoTitle[64], in UTF-16 units, less the terminating NUL
BODY_LIMIT = 255  # win32 szInfo[256]
DUPLICATE_WINDOW_S = 30.0
RATE_WINDOW_S = 60.0
RATE_LIMIT = 5
DBUS_TIMEOUT_S = 1.0
COMMAND_TIMEOUT_S = 5.0

NotifyHook = Callable[[str, str], object]  # called as hook(body, title), like pystray Icon.notify
Runner = Callable[[Sequence[str]], object]  # runs an argv; raises on failure


class Backend(Protocol):
    """Shows one notification, or raises."""

    def send(self, title: str, body: str, *, urgent: bool) -> None:
        """Show the notification."""


@runtime_checkable
class Replacing(Protocol):
    """A backend whose notifications can be replaced and taken away (the D-Bus one)."""

    def show(self, title: str, body: str, *, urgent: bool, replaces: int) -> int:
        """Show a notification in place of ``replaces`` (0: none); returns its id."""

    def close(self, notification_id: int) -> None:
        """Take the notification away."""


@dataclass
class RateLimit:
    """Which notifications to show: no repeat within 30 s, at most 5 a minute unless urgent."""

    duplicate_window: float = DUPLICATE_WINDOW_S
    window: float = RATE_WINDOW_S
    limit: int = RATE_LIMIT
    _last_shown: dict[tuple[str, str], float] = field(default_factory=dict)
    _recent: deque[float] = field(default_factory=deque)

    def allow(self, key: tuple[str, str], now: float, *, urgent: bool = False) -> bool:
        """Whether to show ``key`` at ``now``; records it as shown if so."""
        self._forget(now)
        if key in self._last_shown:
            return False  # urgent or not: the same words again tell the user nothing new
        if not urgent and len(self._recent) >= self.limit:
            return False
        self._last_shown[key] = now
        self._recent.append(now)
        return True

    def _forget(self, now: float) -> None:
        while self._recent and now - self._recent[0] >= self.window:
            self._recent.popleft()
        for key in [k for k, t in self._last_shown.items() if now - t >= self.duplicate_window]:
            del self._last_shown[key]


class Notifier:
    """Shows desktop notifications; ``notify`` never raises."""

    def __init__(
        self,
        *,
        enabled: bool = True,
        backend: Backend | None = None,
        clock: Callable[[], float] = time.monotonic,
        platform: str = sys.platform,
    ) -> None:
        self.enabled = enabled
        self._backend = backend if backend is not None else choose_backend(platform)
        self._clock = clock
        self._limit = RateLimit()
        self._lock = threading.Lock()  # the tray and the controller thread both notify
        self._warned = False
        self._shown: dict[str, int] = {}  # topic -> id of the notification on screen

    @property
    def backend(self) -> Backend:
        """The backend chosen at construction."""
        return self._backend

    def set_hook(self, hook: NotifyHook | None) -> None:
        """Route notifications to ``hook`` (pystray's ``icon.notify``) where the tray owns them."""
        if isinstance(self._backend, HookBackend):
            self._backend.hook = hook

    def notify(
        self, title: str, body: str, *, urgent: bool = False, topic: str | None = None
    ) -> None:
        """Show a notification unless disabled, repeated or over the rate limit; never raises.

        A ``topic`` keeps one notification on screen for it: the next one replaces it, and
        ``withdraw`` takes it away (where the backend can; elsewhere it just shows)."""
        try:
            self._notify(truncate(title, TITLE_LIMIT), truncate(body, BODY_LIMIT), urgent, topic)
        except Exception as error:  # a notification must never take its caller down
            self._failed(error, title, body)

    def withdraw(self, topic: str) -> None:
        """Take the ``topic``'s notification away, if it is still there; never raises."""
        with self._lock:
            shown = self._shown.pop(topic, None)
        if shown is None or not isinstance(self._backend, Replacing):
            return
        try:
            self._backend.close(shown)
        except Exception as error:
            log.debug("closing a notification failed: %s", error)

    def _notify(self, title: str, body: str, urgent: bool, topic: str | None) -> None:
        if not self.enabled:
            return
        with self._lock:
            if not self._limit.allow((title, body), self._clock(), urgent=urgent):
                log.debug("notification suppressed: %s", title)
                return
            if topic is not None and isinstance(self._backend, Replacing):
                replaces = self._shown.get(topic, 0)
                self._shown[topic] = self._backend.show(
                    title, body, urgent=urgent, replaces=replaces
                )
            else:
                self._backend.send(title, body, urgent=urgent)

    def _failed(self, error: Exception, title: str, body: str) -> None:
        if self._warned:
            log.debug("notification failed: %s", error)
        else:
            self._warned = True
            log.warning(
                "Desktop notifications failed (is a notification daemon running?): %s", error
            )
        log.info("notification: %s: %s", title, body)  # so that its words are not lost


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-16 code units, ending in an ellipsis if cut."""
    if _utf16_length(text) <= limit:
        return text
    while _utf16_length(text) > limit - 1:
        text = text[:-1]
    return text + "…"


def _utf16_length(text: str) -> int:
    # Windows counts WCHARs: a character outside the BMP (an emoji) takes two.
    return len(text.encode("utf-16-le")) // 2


def choose_backend(platform: str = sys.platform) -> Backend:
    """The best backend this platform offers."""
    if platform == "darwin":
        return OsascriptBackend()
    if platform == "win32":
        return HookBackend()
    if _jeepney_available():
        return DBusBackend()
    notify_send = shutil.which("notify-send")
    if notify_send is not None:
        return NotifySendBackend(notify_send)
    log.info("No notification backend (install jeepney or notify-send): notifications are off.")
    return NullBackend()


def _jeepney_available() -> bool:
    try:
        import jeepney  # type: ignore[import-untyped, unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


def _icon_uri() -> str:
    try:
        return app_icon_path().as_uri()
    except Exception:  # a missing icon is no reason to lose the notification
        return ""


class DBusBackend:
    """``org.freedesktop.Notifications.Notify`` on the session bus, through jeepney."""

    def __init__(self, *, timeout: float = DBUS_TIMEOUT_S) -> None:
        self._timeout = timeout
        self._icon = _icon_uri()

    def send(self, title: str, body: str, *, urgent: bool) -> None:
        """Call Notify on a fresh connection; raises on any bus or daemon error."""
        self.show(title, body, urgent=urgent, replaces=0)

    def show(self, title: str, body: str, *, urgent: bool, replaces: int) -> int:
        """Notify in place of notification ``replaces`` (0: a new one); returns the new id."""
        # Spec: (app_name, replaces_id, app_icon, summary, body, actions, hints, expire_timeout).
        hints = {"urgency": ("y", 2 if urgent else 1)}
        args: tuple[object, ...] = (APP_NAME, replaces, self._icon, title, body, [], hints, -1)
        reply = self._call("Notify", "susssasa{sv}i", args)
        return reply[0] if reply and isinstance(reply[0], int) else 0

    def close(self, notification_id: int) -> None:
        """CloseNotification: the daemon takes it off the screen."""
        self._call("CloseNotification", "u", (notification_id,))

    def _call(self, method: str, signature: str, args: tuple[object, ...]) -> tuple[object, ...]:
        import jeepney  # type: ignore[import-untyped, unused-ignore]
        import jeepney.io.blocking  # type: ignore[import-untyped, unused-ignore]

        address = jeepney.DBusAddress(
            "/org/freedesktop/Notifications",
            bus_name="org.freedesktop.Notifications",
            interface="org.freedesktop.Notifications",
        )
        message = jeepney.new_method_call(address, method, signature, args)
        if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            # jeepney would raise a bare KeyError naming the variable: say what it means.
            raise OSError("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)")
        # A connection per call: notifications are rare, and nothing goes stale between them.
        connect = jeepney.io.blocking.open_dbus_connection
        with connect(bus="SESSION", auth_timeout=self._timeout) as connection:
            reply = connection.send_and_get_reply(message, timeout=self._timeout)
        body: tuple[object, ...] = jeepney.wrappers.unwrap_msg(reply)  # raises, e.g. ServiceUnknown
        return body


def _run(argv: Sequence[str]) -> object:
    return subprocess.run(
        list(argv), check=True, capture_output=True, timeout=COMMAND_TIMEOUT_S, stdin=None
    )


class NotifySendBackend:
    """The ``notify-send`` command from libnotify."""

    def __init__(self, command: str = "notify-send", *, run: Runner = _run) -> None:
        self._command = command
        self._run = run
        self._icon = _icon_uri()

    def argv(self, title: str, body: str, *, urgent: bool) -> list[str]:
        """The command line; ``--`` keeps a title starting with "-" from being an option."""
        argv = [self._command, "-a", APP_NAME, "-u", "critical" if urgent else "normal"]
        if self._icon:
            argv += ["-i", self._icon]
        # notify-send runs the body (not the summary) through g_strcompress, which would turn a
        # backslash and an n into a newline and drop lone backslashes: escape them.
        return [*argv, "--", title, body.replace("\\", "\\\\")]

    def send(self, title: str, body: str, *, urgent: bool) -> None:
        """Run notify-send; raises if it fails."""
        self._run(self.argv(title, body, urgent=urgent))


def applescript_string(text: str) -> str:
    """``text`` as an AppleScript string literal: backslashes and quotes escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class OsascriptBackend:
    """macOS ``display notification`` through osascript (shown as from Script Editor)."""

    def __init__(self, *, run: Runner = _run) -> None:
        self._run = run

    def argv(self, title: str, body: str) -> list[str]:
        """The osascript command line; no shell is involved, so only AppleScript quoting."""
        script = (
            f"display notification {applescript_string(body)} "
            f"with title {applescript_string(title)}"
        )
        return ["osascript", "-e", script]

    def send(self, title: str, body: str, *, urgent: bool) -> None:
        """Run osascript; macOS has no urgency to pass."""
        self._run(self.argv(title, body))


class HookBackend:
    """Hands notifications to a callable the tray sets: pystray's ``icon.notify(body, title)``."""

    def __init__(self, hook: NotifyHook | None = None) -> None:
        self.hook = hook

    def send(self, title: str, body: str, *, urgent: bool) -> None:
        """Call the hook; before the tray sets one, the notification only goes to the log."""
        if self.hook is None:
            log.info("notification (no tray yet): %s: %s", title, body)
            return
        self.hook(body, title)


class NullBackend:
    """Shows nothing: no notification system was found."""

    def send(self, title: str, body: str, *, urgent: bool) -> None:
        """Log the notification instead."""
        log.info("notification: %s: %s", title, body)
