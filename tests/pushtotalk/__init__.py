"""Tests of tray_stt.pushtotalk: the hotkey machine, dictation turns, delivery and cues."""
