"""Tests of tray_stt.desktop: notifications, the portal and X11 hotkeys, the hotkey process."""
