"""The application: the composition of every layer below it.

``state`` (snapshots and commands, which the tray may import), ``controller`` (the one thread that
changes application state), ``listening`` and ``pushtotalk`` (compositions of microphone,
session and desktop), ``service`` (the tray service), ``control`` (the control socket and its
one table of commands), ``console`` (terminal output of the CLI) and ``signals``. Only
``__main__`` imports from here; ``controller`` never imports the tray, pystray, pynput, Xlib or
sounddevice.
"""
