"""The loopback realtime server: a local imitation of the OpenAI Realtime API (transcription)."""

from tests.support.realtime_server.server import RealtimeServer

__all__ = ["RealtimeServer"]
