"""tray-stt: realtime speech-to-text from the system tray, over the OpenAI Realtime API."""

__version__ = "0.1.0"
