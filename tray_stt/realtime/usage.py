"""What one transcribed item cost and took, as the server reported it (docs/protocol.md, "Server
events").

``conversation.item.input_audio_transcription.completed`` carries a ``usage`` object of one of two
shapes: ``{"type": "duration", "seconds": ...}`` for models billed by the minute, or
``{"type": "tokens", "input_tokens", "output_tokens", "total_tokens", "input_token_details":
{"audio_tokens", "text_tokens"}}`` for models billed by the token. Pure: parsed here, stored and
priced by the ledger (``tray_stt/metering``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Usage:
    """One item's billing: ``seconds`` for duration-billed models, else the token counts."""

    seconds: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    audio_tokens: int = 0  # of input_tokens, the audio ones
    text_tokens: int = 0  # of input_tokens, the text ones (the prompt)

    @property
    def by_duration(self) -> bool:
        """Whether the server billed this item by audio duration rather than by tokens."""
        return self.seconds is not None


@dataclass(frozen=True)
class Metering:
    """What the usage ledger needs of one released item, beside its text.

    ``ended_at`` is the capture time of the end of the utterance (where server VAD heard speech
    stop, or where the client committed): the latency meter measures from there to the moment
    the completed transcript is consumed. ``audio_ms`` is the utterance's audio the client sent.
    """

    model: str
    session_id: str | None
    audio_ms: int
    ended_at: datetime
    usage: Usage | None = None


def parse_usage(raw: object) -> Usage | None:
    """The ``usage`` object of a completed (or failed) event, or None if absent or malformed.

    Malformed usage never costs the user a transcript: the item is still metered (audio sent,
    count) and its cost shows as unknown.
    """
    if not isinstance(raw, dict):
        return None
    kind = raw.get("type")
    if kind == "duration":
        seconds = raw.get("seconds")
        if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds >= 0:
            return Usage(seconds=float(seconds))
        return None
    if kind == "tokens":
        details = raw.get("input_token_details")
        details = details if isinstance(details, dict) else {}
        counts: list[object] = [
            raw.get("input_tokens"),
            raw.get("output_tokens"),
            details.get("audio_tokens", 0),
            details.get("text_tokens", 0),
        ]
        ints = [c for c in counts if isinstance(c, int) and not isinstance(c, bool) and c >= 0]
        if len(ints) != len(counts):
            return None
        input_tokens, output_tokens, audio, text = ints
        if not details:  # no split reported: a transcription model's input is audio
            audio = input_tokens
        return Usage(None, input_tokens, output_tokens, audio, text)
    return None
