"""``tray-stt doctor``: what this machine has of what tray-stt uses, in one table.

Each check says what it found and, when it fails, what to install or change. A check is
*required* when a configured feature cannot work without it, *advisory* otherwise:

| check | required when |
|---|---|
| microphone (PortAudio, input devices) | always |
| API key set; key accepted (one short connection) | always |
| log folder writable | ``log`` is on |
| key sender (xdotool; Wayland: wtype, ydotool) | a hotkey, and ``delivery`` not ``clipboard`` |
| clipboard tool (xclip, xsel; Wayland: wl-copy) | ``clipboard``, or a hotkey not typing |
| GlobalShortcuts portal | a hotkey is set on Wayland |
| tray host, PyGObject/AppIndicator, notifications, keyring, xdg-open | never (advisory) |

The command exits 0 when every required check passes, else with the exit code of the first
required failure: 3 (key missing or rejected), 4 (no credit), 5 (endpoint unreachable), 2 (a
library, tool or device to install, or a setting to change). Every check is bounded in time
(``CHECK_TIMEOUT_S``) and none raises: an unexpected error is that check's failure.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from tray_stt.config import Config
from tray_stt.errors import (
    SET_KEY_HINT,
    AuthenticationError,
    BillingError,
    ExitCode,
    TraySttError,
)
from tray_stt.pushtotalk.delivery import DeliveryMode
from tray_stt.pushtotalk.hotkey import HOTKEY_OFF

CHECK_TIMEOUT_S = 10.0  # a check that has not answered by then is reported as failed
CONNECT_TIMEOUT_S = 5.0  # the API key check's connection and first answer
BUS_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Finding:
    """What one check found: ``fix`` says what to install or change when it did not pass."""

    passed: bool
    detail: str
    fix: str = ""
    exit_code: ExitCode = ExitCode.USAGE  # of a failure, when the check is required


@dataclass(frozen=True)
class Check:
    """One row of the table: its name, whether the configuration needs it, how to run it."""

    name: str
    required: bool
    run: Callable[[], Finding] = field(compare=False)


@dataclass(frozen=True)
class Result:
    """A check and what it found."""

    name: str
    required: bool
    finding: Finding

    @property
    def status(self) -> str:
        """ "ok", "FAIL" (required), or "warn" (advisory)."""
        if self.finding.passed:
            return "ok"
        return "FAIL" if self.required else "warn"


@dataclass(frozen=True)
class Desktop:
    """What session this is: decides which tools apply."""

    platform: str
    x11: str  # DISPLAY, "" if none
    wayland: str  # WAYLAND_DISPLAY, "" if none

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], platform: str = sys.platform) -> Desktop:
        return cls(platform, environ.get("DISPLAY", ""), environ.get("WAYLAND_DISPLAY", ""))

    @property
    def linux(self) -> bool:
        return self.platform.startswith("linux") or "bsd" in self.platform


# -- what the configuration needs ---------------------------------------------------------------


def hotkey_on(config: Config) -> bool:
    return config.hotkey != HOTKEY_OFF


def needs_key_sender(config: Config) -> bool:
    """Text typed or pasted into windows: a hotkey, and a delivery that sends keys."""
    return hotkey_on(config) and config.delivery is not DeliveryMode.CLIPBOARD


def needs_clipboard_tool(config: Config) -> bool:
    """Copying each transcript, or a delivery that goes through a selection."""
    through_clipboard = config.delivery is not DeliveryMode.TYPE
    return config.clipboard or (hotkey_on(config) and through_clipboard)


def needs_portal(config: Config, desktop: Desktop) -> bool:
    """On Wayland the tray's hotkey is the portal's (docs/architecture.md, "Hotkeys")."""
    return hotkey_on(config) and bool(desktop.wayland)


# -- the table ---------------------------------------------------------------------------------


def exit_code(results: list[Result]) -> ExitCode:
    """0 if every required check passed, else the exit code of the first that failed."""
    failed = [r for r in results if r.required and not r.finding.passed]
    return failed[0].finding.exit_code if failed else ExitCode.OK


def format_table(results: list[Result]) -> str:
    """One row per check (name, status, what was found), the fix indented under a failure;
    then one sentence on the whole."""
    width = max(len(r.name) for r in results)
    lines = [f"{'check':<{width}}  {'result':<6}  found"]
    for r in results:
        lines.append(f"{r.name:<{width}}  {r.status:<6}  {r.finding.detail}")
        if not r.finding.passed and r.finding.fix:
            lines.append(f"{'':<{width}}  {'':<6}  → {r.finding.fix}")
    failed = [r.name for r in results if r.required and not r.finding.passed]
    warned = [r.name for r in results if not r.required and not r.finding.passed]
    lines.append("")
    if failed:
        lines.append(f"Not ready: {', '.join(failed)} must be fixed for what is configured.")
    else:
        lines.append("Everything the configuration needs is here.")
    if warned:
        lines.append(f"Optional, missing: {', '.join(warned)}.")
    return "\n".join(lines)


def run_checks(checks: list[Check], timeout: float = CHECK_TIMEOUT_S) -> list[Result]:
    """Run every check at once, each on a daemon thread; one that has not answered within
    ``timeout`` seconds (from the start) is a failure, one that raises is too."""
    found: dict[int, Finding] = {}
    done = threading.Condition()

    def work(index: int, check: Check) -> None:
        try:
            finding = check.run()
        except Exception as exc:  # never a traceback: the check failed, say how
            finding = Finding(False, f"the check itself failed: {exc!r}", "report this bug")
        with done:
            found[index] = finding
            done.notify_all()

    for index, check in enumerate(checks):
        name = f"tray-stt-doctor-{index}"
        threading.Thread(target=work, args=(index, check), name=name, daemon=True).start()
    with done:
        done.wait_for(lambda: len(found) == len(checks), timeout)
        answers = dict(found)
    late = Finding(False, f"no answer within {timeout:.0f} s", "see what hangs (a bus, a server)")
    return [
        Result(check.name, check.required, answers.get(index, late))
        for index, check in enumerate(checks)
    ]


def checks_for(
    config: Config, environ: Mapping[str, str], platform: str = sys.platform
) -> list[Check]:
    """The checks of this configuration on this desktop, in the order they are shown."""
    desktop = Desktop.from_environ(environ, platform)
    rows = [
        Check("microphone", True, lambda: microphone(config)),
        Check("API key set", True, lambda: key_present(config)),
        Check("API key accepted", True, lambda: key_accepted(config)),
        Check("log folder", config.log, lambda: log_folder(config.log_dir)),
    ]
    if desktop.linux:
        rows += [
            Check("key sender", needs_key_sender(config), lambda: key_sender(desktop, which)),
            Check(
                "clipboard tool",
                needs_clipboard_tool(config),
                lambda: clipboard_tool(desktop, which),
            ),
            Check("shortcuts portal", needs_portal(config, desktop), lambda: portal(desktop)),
            Check("tray host", False, lambda: tray_host(desktop)),
            Check("PyGObject", False, pygobject),
            Check("notifications", False, notifications),
            Check("keyring", False, keyring),
            Check("xdg-open", False, lambda: xdg_open(which)),
        ]
    return rows


def which(name: str) -> str | None:
    return shutil.which(name)


# -- the checks --------------------------------------------------------------------------------


def microphone(config: Config) -> Finding:
    """PortAudio loads and lists at least one input device (the configured one, if any)."""
    from tray_stt.audio.devices import list_input_devices, pick_device

    try:
        devices = list_input_devices()
        chosen, _default = pick_device(devices, config.device)
    except TraySttError as exc:
        return Finding(False, str(exc), _microphone_fix(str(exc)))
    count = f"{len(devices)} input device{'' if len(devices) == 1 else 's'}"
    return Finding(True, f"PortAudio: {count}; recording from {chosen.name!r}")


def _microphone_fix(sentence: str) -> str:
    if "PortAudio is not installed" in sentence:
        return "sudo apt install libportaudio2"
    if "No input device is named" in sentence or "matches several" in sentence:
        return "set device to one of `tray-stt devices` (or remove it for the default)"
    return "plug in a microphone, or start PulseAudio/PipeWire"


def key_present(config: Config) -> Finding:
    endpoint = config.endpoint
    key = endpoint.key()
    if key:
        return Finding(True, f"a key is set for {endpoint.host} (…{key[-4:]})")
    if endpoint.is_openai or endpoint.is_azure:
        return Finding(False, "no API key is set", SET_KEY_HINT, ExitCode.AUTHENTICATION)
    return Finding(True, f"no key is sent to {endpoint.host} (none is configured for it)")


def key_accepted(config: Config, timeout: float = CONNECT_TIMEOUT_S) -> Finding:
    """One short connection to the configured endpoint: its first answer says whether the key
    is accepted (``session.created``) or why not (an ``error`` event, an HTTP refusal)."""
    from tray_stt.realtime.events import ServerError
    from tray_stt.realtime.protocol import TranscriptionClient
    from tray_stt.realtime.transport import TransportClosed, websocket_connect

    endpoint = config.endpoint
    if not endpoint.key() and (endpoint.is_openai or endpoint.is_azure):
        return Finding(False, "not tried: no key is set", SET_KEY_HINT, ExitCode.AUTHENTICATION)
    try:
        endpoint.check()
        transport = websocket_connect(endpoint.url, endpoint.headers(), timeout)
        try:
            first = transport.receive()
        finally:
            transport.close()
        client = TranscriptionClient(config.transcription, config.dialect, today=date.today())
        for event in client.receive(first):
            if isinstance(event, ServerError):
                raise event.to_exception()
    except AuthenticationError as exc:
        sentence = str(endpoint.explain(exc))
        fix = "store a valid key, one of the ways the sentence says"
        return Finding(False, sentence, fix, ExitCode.AUTHENTICATION)
    except BillingError as exc:
        return Finding(False, str(exc), "add credit to the OpenAI account", ExitCode.BILLING)
    except TransportClosed as exc:
        return Finding(False, f"{exc}", "check the network and the url setting", ExitCode.NETWORK)
    except TraySttError as exc:
        return Finding(False, str(exc), "check the url and model settings", exc.exit_code)
    return Finding(True, f"{endpoint.host} accepted the key")


def log_folder(directory: Path) -> Finding:
    """The daily logs' folder can be written (or created: its nearest existing parent can)."""
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return Finding(
            False, f"{existing} is not a folder", f"set log_dir to a folder ({directory})"
        )
    if existing != directory:
        if os.access(existing, os.W_OK | os.X_OK):
            return Finding(True, f"{directory} will be created at the first transcript")
        return Finding(False, f"{directory} cannot be created in {existing}", "set log_dir")
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return Finding(
            False,
            f"{directory} is not writable ({reason})",
            f"chmod u+rwx {directory}, or set log_dir",
        )
    return Finding(True, f"{directory} is writable")


def key_sender(desktop: Desktop, find: Callable[[str], str | None]) -> Finding:
    """What types or pastes into windows: xdotool on X11, wtype or ydotool on Wayland."""
    if desktop.wayland:
        found = [tool for tool in ("wtype", "ydotool") if find(tool)]
        if found:
            return Finding(True, f"{found[0]} (Wayland)")
        fix = "sudo apt install wtype (wlroots desktops) or ydotool (others, with its daemon)"
        return Finding(False, "neither wtype nor ydotool is installed (Wayland)", fix)
    if not desktop.x11:
        return Finding(
            False, "no display: text cannot be sent to windows", "run in a desktop session"
        )
    if find("xdotool"):
        return Finding(True, "xdotool (X11)")
    return Finding(False, "xdotool is not installed (X11)", "sudo apt install xdotool")


def clipboard_tool(desktop: Desktop, find: Callable[[str], str | None]) -> Finding:
    """The tool tray-stt runs to copy: wl-copy on Wayland, xclip or xsel on X11."""
    if desktop.wayland and find("wl-copy") and find("wl-paste"):
        return Finding(True, "wl-copy (Wayland)")
    if desktop.x11:
        found = [tool for tool in ("xclip", "xsel") if find(tool)]
        if found:
            return Finding(True, f"{found[0]} (X11)")
    if desktop.wayland:
        return Finding(False, "wl-copy is not installed (Wayland)", "sudo apt install wl-clipboard")
    if not desktop.x11:
        return Finding(False, "no display: no clipboard", "run in a desktop session")
    return Finding(False, "neither xclip nor xsel is installed (X11)", "sudo apt install xclip")


def portal(desktop: Desktop) -> Finding:
    """The xdg-desktop-portal GlobalShortcuts interface, which is the hotkey on Wayland."""
    from tray_stt.desktop.probes import portal_shortcuts_version

    try:
        version = portal_shortcuts_version(BUS_TIMEOUT_S)
    except TraySttError as exc:
        if not desktop.wayland:
            return Finding(True, "not needed without Wayland (no session bus to ask)")
        return Finding(False, str(exc), "run in a desktop session with D-Bus")
    if version is not None:
        return Finding(True, f"GlobalShortcuts version {version}")
    if not desktop.wayland:
        return Finding(True, "none, and not needed without Wayland (the hotkey is grabbed from X)")
    return Finding(
        False,
        "no GlobalShortcuts portal on the session bus (the hotkey on Wayland)",
        "install xdg-desktop-portal with your desktop's backend (KDE 5.27+, GNOME 48+), or set "
        'hotkey = "off" and bind `tray-stt toggle` to a desktop shortcut',
    )


def tray_host(desktop: Desktop) -> Finding:
    """A StatusNotifier watcher (AppIndicator icons) or an XEmbed system tray."""
    from tray_stt.desktop.probes import (
        STATUS_NOTIFIER_WATCHER,
        bus_name_available,
        xembed_tray_owned,
    )

    seen: list[str] = []
    try:
        if bus_name_available(STATUS_NOTIFIER_WATCHER, BUS_TIMEOUT_S) == "running":
            return Finding(True, "a StatusNotifier watcher (AppIndicator icons)")
        seen.append("no StatusNotifier watcher")
    except TraySttError as exc:
        seen.append(str(exc).rstrip("."))
    if desktop.x11:
        try:
            if xembed_tray_owned(desktop.x11):
                return Finding(True, f"an XEmbed system tray on {desktop.x11}")
            seen.append(f"no XEmbed system tray on {desktop.x11}")
        except TraySttError as exc:
            seen.append(str(exc).rstrip("."))
    return Finding(
        False,
        "; ".join(seen),
        "use a panel with a system tray (GNOME: the AppIndicator extension); meanwhile "
        "tray-stt runs without an icon: bind `tray-stt toggle` to a shortcut",
    )


def pygobject() -> Finding:
    """PyGObject with GTK 3 and AppIndicator: the icon with a menu (docs/architecture.md,
    "Tray (pystray)")."""
    from tray_stt.tray.backend import gi_typelibs

    gi, gtk, indicator = gi_typelibs()
    if gi and gtk and indicator:
        return Finding(True, "PyGObject, GTK 3 and the AppIndicator typelib")
    if not gi:
        return Finding(
            False,
            "no PyGObject in this Python: the icon has no menu",
            "sudo apt install python3-gi gir1.2-ayatanaappindicator3-0.1, in a venv made "
            "with --system-site-packages",
        )
    if not gtk:
        return Finding(
            False, "no GTK 3 typelib: the icon has no menu", "sudo apt install gir1.2-gtk-3.0"
        )
    return Finding(
        False,
        "no AppIndicator typelib: a GTK status icon (XEmbed trays only)",
        "sudo apt install gir1.2-ayatanaappindicator3-0.1",
    )


def notifications() -> Finding:
    """org.freedesktop.Notifications on the session bus (else notify-send, else nothing)."""
    from tray_stt.desktop.probes import NOTIFICATIONS, bus_name_available

    try:
        how = bus_name_available(NOTIFICATIONS, BUS_TIMEOUT_S)
    except TraySttError as exc:
        return Finding(False, str(exc), "run in a desktop session with D-Bus")
    if how is not None:
        return Finding(True, f"a notification daemon ({how})")
    return Finding(
        False,
        "no notification daemon on the session bus: errors show only in the menu",
        "start your desktop's notification daemon (or sudo apt install dunst)",
    )


def keyring() -> Finding:
    from tray_stt.credentials import key_file, keyring_backend

    backend = keyring_backend()
    if backend is not None:
        return Finding(True, backend)
    return Finding(
        False,
        f"no system keyring: `tray-stt set-key` stores the key in {key_file()} (mode 600)",
        "sudo apt install gnome-keyring (or use KWallet), or keep the file",
    )


def xdg_open(find: Callable[[str], str | None]) -> Finding:
    if find("xdg-open"):
        return Finding(True, "xdg-open")
    return Finding(
        False,
        "xdg-open is not installed: Open today's log, Open log folder and Settings cannot open",
        "sudo apt install xdg-utils",
    )
