"""A raw realtime client and test audio for tests of the loopback realtime server."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

__all__ = ["AUTH", "COMPLETED", "DELTA", "FAILED", "Client", "ga_update", "silence", "tone"]

AUTH = {"Authorization": "Bearer test-key"}
DELTA = "conversation.item.input_audio_transcription.delta"
COMPLETED = "conversation.item.input_audio_transcription.completed"
FAILED = "conversation.item.input_audio_transcription.failed"


def tone(ms: int, amplitude: int = 8000) -> bytes:
    t = np.arange(24 * ms) / 24000
    return (amplitude * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()


def silence(ms: int) -> bytes:
    return bytes(48 * ms)


def ga_update(model: str | None = "gpt-4o-transcribe", **audio_input: Any) -> dict[str, Any]:
    if model is not None:
        audio_input.setdefault("transcription", {"model": model})
    audio_input.setdefault("format", {"type": "audio/pcm", "rate": 24000})
    return {
        "type": "session.update",
        "session": {"type": "transcription", "audio": {"input": audio_input}},
    }


class Client:
    """A raw client; a thread reads every event into ``events`` (so the server never blocks)."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.ws: ClientConnection = connect(
            url,
            additional_headers=AUTH if headers is None else headers,
            close_timeout=2,
        ).__enter__()  # works with every websockets >= 14 (17.1 wants connect() as a context)
        self.events: list[dict[str, Any]] = []
        self.closed = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for message in self.ws:
                self.events.append(json.loads(message))
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()

    def send(self, event: dict[str, Any]) -> None:
        self.ws.send(json.dumps(event))

    def append(self, pcm: bytes, chunk_ms: int = 100) -> None:
        step = 48 * chunk_ms
        for i in range(0, len(pcm), step):
            chunk = base64.b64encode(pcm[i : i + step]).decode()
            self.send({"type": "input_audio_buffer.append", "audio": chunk})

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in list(self.events) if e["type"] == event_type]

    def wait(self, predicate: Callable[[], object], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, f"timeout; events: {self.events}"
            time.sleep(0.005)

    def wait_type(self, event_type: str, count: int = 1) -> list[dict[str, Any]]:
        self.wait(lambda: len(self.of_type(event_type)) >= count)
        return self.of_type(event_type)

    def wait_closed(self) -> None:
        assert self.closed.wait(5), "server did not close the connection"

    def close(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            self.ws.close()
        self._reader.join(5)
