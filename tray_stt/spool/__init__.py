"""The crash-safe audio spool: live audio not yet in the log, on disk until it is.

Layer: above the realtime shell, below audio. May import the base, the realtime core (``pcm``)
and ``platformdirs``; never the session, audio, desktop or app layers (the session reaches the
spool through its ``AudioSpool`` protocol). See README "What is kept, and for how long".
"""
