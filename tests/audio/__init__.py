"""Tests of tray_stt.audio: WAV input, the microphone, PortAudio, Silero and turn detection."""
