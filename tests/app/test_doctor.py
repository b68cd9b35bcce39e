"""``tray-stt doctor``'s decisions without a desktop: which checks the configuration needs, the
table, the exit code, bounded checks, and the key check against the loopback server."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.realtime_server import RealtimeServer
from tray_stt.app.doctor import (
    Check,
    Desktop,
    Finding,
    Result,
    checks_for,
    clipboard_tool,
    exit_code,
    format_table,
    key_accepted,
    key_present,
    key_sender,
    log_folder,
    needs_clipboard_tool,
    needs_key_sender,
    needs_portal,
    run_checks,
)
from tray_stt.config import Config
from tray_stt.errors import ExitCode
from tray_stt.pushtotalk.delivery import DeliveryMode

X11 = Desktop("linux", ":1", "")
WAYLAND = Desktop("linux", "", "wayland-0")
HEADLESS = Desktop("linux", "", "")


def tools(*names: str) -> Callable[[str], str | None]:
    """A ``which`` that finds exactly ``names``."""
    return lambda name: f"/usr/bin/{name}" if name in names else None


def test_doctor_what_the_configuration_needs() -> None:
    default = Config()  # a hotkey, paste delivery, clipboard off
    assert needs_key_sender(default) and needs_clipboard_tool(default)
    assert not needs_portal(default, X11) and needs_portal(default, WAYLAND)
    no_hotkey = replace(default, hotkey="off")
    assert not needs_key_sender(no_hotkey) and not needs_clipboard_tool(no_hotkey)
    assert not needs_portal(no_hotkey, WAYLAND)
    assert needs_clipboard_tool(replace(no_hotkey, clipboard=True))
    typing = replace(default, delivery=DeliveryMode.TYPE)
    assert needs_key_sender(typing) and not needs_clipboard_tool(typing)
    copying = replace(default, delivery=DeliveryMode.CLIPBOARD)
    assert not needs_key_sender(copying) and needs_clipboard_tool(copying)
    required = {c.name: c.required for c in checks_for(no_hotkey, {"DISPLAY": ":1"}, "linux")}
    assert required == {
        "microphone": True,
        "API key set": True,
        "API key accepted": True,
        "log folder": True,
        "key sender": False,
        "clipboard tool": False,
        "shortcuts portal": False,
        "tray host": False,
        "PyGObject": False,
        "notifications": False,
        "keyring": False,
        "xdg-open": False,
    }
    assert not {c.name: c.required for c in checks_for(replace(default, log=False), {}, "linux")}[
        "log folder"
    ]
    assert [c.name for c in checks_for(default, {}, "darwin")] == [
        "microphone",
        "API key set",
        "API key accepted",
        "log folder",
    ]


def test_doctor_tools_per_session() -> None:
    assert key_sender(X11, tools("xdotool")).passed
    missing = key_sender(X11, tools())
    assert not missing.passed and missing.fix == "sudo apt install xdotool"
    assert key_sender(WAYLAND, tools("ydotool")).detail == "ydotool (Wayland)"
    assert "wtype" in key_sender(WAYLAND, tools("xdotool")).fix
    assert not key_sender(HEADLESS, tools("xdotool")).passed
    assert clipboard_tool(X11, tools("xsel")).detail == "xsel (X11)"
    assert clipboard_tool(X11, tools("wl-copy", "wl-paste")).fix == "sudo apt install xclip"
    assert clipboard_tool(WAYLAND, tools("wl-copy", "wl-paste")).passed
    assert "wl-clipboard" in clipboard_tool(WAYLAND, tools("xclip")).fix


def test_doctor_exit_code_and_table() -> None:
    ok = Result("microphone", True, Finding(True, "PortAudio: 1 input device"))
    warn = Result("xdg-open", False, Finding(False, "xdg-open is not installed", "apt it"))
    key = Result(
        "API key accepted", True, Finding(False, "rejected", "set-key", ExitCode.AUTHENTICATION)
    )
    tool = Result("key sender", True, Finding(False, "no xdotool", "sudo apt install xdotool"))
    assert exit_code([ok, warn]) == ExitCode.OK  # advisory failures do not count
    assert exit_code([ok, key, tool]) == ExitCode.AUTHENTICATION  # the first required failure
    assert exit_code([tool, key]) == ExitCode.USAGE
    table = format_table([ok, warn, key]).splitlines()
    assert table[0].split() == ["check", "result", "found"]
    assert table[1].split()[:3] == ["microphone", "ok", "PortAudio:"]
    assert "warn" in table[2] and table[3].strip() == "→ apt it"
    assert "FAIL" in table[4] and table[5].strip() == "→ set-key"
    assert table[-2] == "Not ready: API key accepted must be fixed for what is configured."
    assert table[-1] == "Optional, missing: xdg-open."
    assert format_table([ok]).splitlines()[-1] == "Everything the configuration needs is here."


def test_doctor_checks_are_bounded_and_never_raise() -> None:
    hang = threading.Event()

    def hangs() -> Finding:
        hang.wait(30)
        return Finding(True, "late")

    def raises() -> Finding:
        raise RuntimeError("boom")

    results = run_checks(
        [
            Check("fine", True, lambda: Finding(True, "yes")),
            Check("hangs", False, hangs),
            Check("raises", True, raises),
        ],
        timeout=0.5,
    )
    hang.set()
    assert [r.status for r in results] == ["ok", "warn", "FAIL"]
    assert results[1].finding.detail.startswith("no answer within")
    assert "RuntimeError('boom')" in results[2].finding.detail


def test_doctor_log_folder(tmp_path: Path) -> None:
    assert log_folder(tmp_path).passed
    assert "will be created" in log_folder(tmp_path / "new" / "logs").detail
    (tmp_path / "file").write_text("")
    blocked = log_folder(tmp_path / "file" / "logs")
    assert not blocked.passed and "is not a folder" in blocked.detail


def test_doctor_key_present_and_accepted_by_the_loopback_server() -> None:
    assert not key_present(Config(api_key=None)).passed
    missing = key_accepted(Config(api_key=None))
    assert not missing.passed and missing.exit_code == ExitCode.AUTHENTICATION
    with RealtimeServer() as server:
        good = Config(url=server.url, api_key="test-key")
        assert key_present(good).detail == "a key is set for 127.0.0.1 (…-key)"
        accepted = key_accepted(good)
        assert accepted.passed, accepted
        rejected = key_accepted(replace(good, api_key="sk-wrong"))
        assert not rejected.passed and rejected.exit_code == ExitCode.AUTHENTICATION
        assert "set-key" in rejected.detail
        assert len(server.connections) == 2  # one short connection each
        assert server.violations == []
    # Nothing listens there any more: the network, exit code 5, within the bound.
    gone = key_accepted(good, timeout=2.0)
    assert not gone.passed and gone.exit_code == ExitCode.NETWORK


@pytest.mark.parametrize("platform", ["linux"])
def test_doctor_every_check_runs_here_without_raising(platform: str) -> None:
    """On this machine as it is (whatever it has): a row per check, never an exception."""
    results = run_checks(checks_for(Config(api_key=None), {}, platform), timeout=20)
    assert all(r.finding.detail for r in results)
    assert not any("the check itself failed" in r.finding.detail for r in results), results
