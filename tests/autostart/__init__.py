"""Tests of tray_stt.autostart: start-at-login entries on each platform, and a simulated login."""
