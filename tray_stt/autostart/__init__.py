"""Start at login: ``common`` (shared by every platform), ``xdg`` (Linux and BSD desktop entry),
``desktop_entry`` (the file format), ``macos`` (LaunchAgent), ``windows`` (Run key) and
``choose`` (this platform's, and the ``tray-stt autostart`` command).

The platform modules import ``common``, which imports none of them. May import the base modules
(tray_stt, errors, files, resources) only.
"""
