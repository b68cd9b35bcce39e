"""Adapters to the desktop: keyboard (pynput), the hotkey helper process, the portal hotkey,
X11 windows, text injection, the clipboard, notifications, dialogs.

Each wraps one native library or tool and is replaceable by a fake in tests. May import
push-to-talk's pure modules, audio, config, transcripts, resources and errors; never autostart,
tray or app. pynput is imported only by ``keyboard``, pyperclip only by ``clipboard``, Xlib only
by ``xwindows`` (and tray.xorg, which extends pystray's own Xlib icon), jeepney by ``notify``
and ``portal_hotkey``.
"""
