"""tray-stt: realtime speech-to-text from the system tray, over the OpenAI Realtime API.

The package is layered (docs/architecture.md, "Layers"): ``realtime`` (the sans-I/O protocol core
and its connection shell), ``audio``, ``pushtotalk``, ``desktop``, ``autostart``, ``tray`` and
``app`` (the composition), on top of a few modules here that every layer may use. This module
imports nothing.
"""

__version__ = "0.1.0"

APP_NAME = "tray-stt"
"""The product's name as the user sees it: notification titles, messages, the command."""

APP_ID = "tray-stt"
"""The name the desktop knows the application by: desktop entries, the icon, the portal's app id."""
