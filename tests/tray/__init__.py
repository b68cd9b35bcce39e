"""Tests of tray_stt.tray: the icons and the pystray view."""
