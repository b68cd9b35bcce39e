"""Tests of tray_stt.app: the controller, the control socket, the service and the commands."""
