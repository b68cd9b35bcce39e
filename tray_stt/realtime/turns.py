"""Turns found on the client: what a local voice detector tells the session (``--turn local``).

The detector itself (Silero, numpy) lives in audio.vad; the session only needs these shapes, so
the realtime shell does not load numpy. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeAlias


@dataclass(frozen=True)
class SpeechBegan:
    """An utterance started; the next `Speech` opens with `preroll_ms` of audio before it."""

    preroll_ms: int


@dataclass(frozen=True)
class Speech:
    """Audio of the current utterance to send: 24 kHz mono PCM16 little-endian."""

    pcm: bytes


@dataclass(frozen=True)
class SpeechEnded:
    """The utterance is over: commit it now; `reason` is "silence", "max_length" or "end"."""

    reason: str


TurnEvent: TypeAlias = SpeechBegan | Speech | SpeechEnded


class TurnDetector(Protocol):
    """Segments 24 kHz PCM16 chunks into utterances (``audio.vad.LocalTurns``)."""

    def process(self, pcm: bytes) -> list[TurnEvent]:
        """The turn events of the next chunk."""
        ...

    def flush(self) -> list[TurnEvent]:
        """The events that end the input: the last utterance, if one is open."""
        ...
