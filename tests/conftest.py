"""Registers the shared fixtures of tests/support for every test module."""

import pytest

# Plain asserts in the helpers (waits, fakes) report their operands, as in test modules.
pytest.register_assert_rewrite("tests.support")

pytest_plugins = [
    "tests.support.xvfb",  # xvfb_display, own_xvfb, xvfb_env
    "tests.support.dbus_fixtures",  # private_session_bus, notification_daemon
    "tests.support.tray_host",  # tray_host (trayer on own_xvfb)
    "tests.support.tray_harness",  # tray (a Controller and TrayView on a FakeIcon)
]
