"""The choice of pystray backend on Linux, from the environment, without PyGObject."""

from __future__ import annotations

import pytest

from tray_stt.tray.backend import choose_linux_backend


@pytest.mark.parametrize(
    ("env", "backend"),
    [
        ({}, None),  # no display at all: headless
        ({"DISPLAY": ":0"}, "xorg"),
        ({"WAYLAND_DISPLAY": "wayland-0"}, None),  # XEmbed does not exist on Wayland
        ({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "xorg"),  # XWayland
        ({"PYSTRAY_BACKEND": "gtk"}, "gtk"),
    ],
)
def test_choose_linux_backend_without_gi(
    env: dict[str, str], backend: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "gi", None)  # as in a venv without python3-gi
    assert choose_linux_backend(env) == backend
