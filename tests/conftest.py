"""Registers the shared fixtures of tests/support for every test module."""

from pathlib import Path

import pytest

# Plain asserts in the helpers (waits, fakes) report their operands, as in test modules.
pytest.register_assert_rewrite("tests.support")

pytest_plugins = [
    "tests.support.xvfb",  # xvfb_display, own_xvfb, xvfb_env
    "tests.support.dbus_fixtures",  # private_session_bus, notification_daemon, mpris_players
    "tests.support.tray_host",  # tray_host (trayer on own_xvfb)
    "tests.support.tray_harness",  # tray (a Controller and TrayView on a FakeIcon)
]


@pytest.fixture(autouse=True)
def _private_state_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test's XDG state (audio spool, usage ledger) in a directory of its own, never
    the user's."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    return state
