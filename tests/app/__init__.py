"""Tests of tray_stt.app: the controller, the control socket, the tray service and the commands."""
