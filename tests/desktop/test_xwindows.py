"""Tests of the X11 hotkey grab (tray_stt.desktop.xwindows.KeyGrab) on a real Xvfb server."""

from __future__ import annotations

import os

import pytest

from tray_stt.pushtotalk.hotkey import _NAMED, keysym_name

PUNCTUATION = list(";,./[]-=`'\\")


@pytest.mark.parametrize("key", sorted(_NAMED) + PUNCTUATION + ["a", "7"])
def test_every_key_name_has_an_x_keysym(key: str) -> None:
    from Xlib import XK

    assert XK.string_to_keysym(keysym_name(key)) != 0, keysym_name(key)


@pytest.mark.desktop
@pytest.mark.parametrize("key", ["space", "home", "tab", "up", "page_up", "f5", ";", "/", "a"])
def test_key_grab_takes_named_and_punctuation_keys(own_xvfb: str, key: str) -> None:
    from tray_stt.desktop.xwindows import KeyGrab

    grab = KeyGrab(key, frozenset({"ctrl", "alt"}), own_xvfb)
    grab.close()


@pytest.mark.desktop
def test_key_grab_of_a_key_not_on_the_layout_says_so_and_leaks_nothing(own_xvfb: str) -> None:
    from tray_stt.desktop.xwindows import KeyGrab

    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(ValueError, match="no key 'ĳ' on this keyboard layout"):
        KeyGrab("ĳ", frozenset({"ctrl"}), own_xvfb)
    assert len(os.listdir("/proc/self/fd")) == before
