"""The tray icon: ``view`` (a pystray view of the app's snapshots), ``backend`` (which pystray
backend runs), ``gtk`` and ``xorg`` (one patch per pystray backend), ``icons``.

May import app.state (snapshots and commands), push-to-talk's vocabulary, the realtime core,
config and the base modules; never app.controller or the other app modules. pystray and Pillow
are imported only here, lazily.
"""
