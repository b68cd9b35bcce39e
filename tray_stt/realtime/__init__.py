"""The OpenAI Realtime transcription protocol: a sans-I/O core and the I/O shell around it.

Core (standard library only, no sockets, threads or clock calls; it may import tray_stt.errors):
``models`` (models, dialects, settings), ``pcm`` (the audio format), ``wire`` (JSON in and out),
``events`` (what the core reports), ``journal`` (audio kept for resends), ``turns`` (what a local
detector hands in), ``endpoint`` (where to connect, with which credentials) and ``protocol`` (the
state machine).

Shell: ``transport`` (the one module importing websocket-client) and ``session`` (threads,
reconnects, rollovers); it may import the core, errors and files, nothing above.
See docs/protocol.md and docs/architecture.md, "Layers".
"""
