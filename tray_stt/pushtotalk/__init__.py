"""Push-to-talk: the hotkey state machine, the dictation session, the delivery plan, sound cues.

``talk``, ``hotkey`` and ``delivery`` are pure (standard library only, like the realtime core),
so the configuration can use their types. ``dictation`` and ``cues`` may import those, the
realtime core and shell, audio, config, transcripts and errors; never desktop, tray or app
(the desktop adapters are handed in as protocols: a TextSink, an AudioSource).
"""
