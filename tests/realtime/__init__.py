"""Tests of tray_stt.realtime: the protocol core, the session worker and the audio journal."""
