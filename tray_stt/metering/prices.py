"""What each transcription model costs: a dated table, overridable in the configuration.

Sources, read on ``PRICES_DATE``: https://openai.com/api/pricing/ and
https://platform.openai.com/docs/pricing (section "Transcription and speech generation"; the
token-billed models list audio input, text input and text output per million tokens). Models
billed by the minute report ``usage`` of type ``duration``; the others of type ``tokens``
(docs/protocol.md, "Server events"). A model missing here is metered but its cost is unknown
(None): a price is never guessed, since a wrong one is worse than none for a budget the user
relies on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tray_stt.realtime.usage import Usage

PRICES_DATE = "2026-12-02"
PRICES_SOURCE = "https://openai.com/api/pricing/"


@dataclass(frozen=True)
class Price:
    """USD per minute of billed audio, or per million tokens (audio in, text in, text out)."""

    per_minute: float | None = None
    audio_in: float = 0.0
    text_in: float = 0.0
    text_out: float = 0.0

    def describe(self) -> str:
        """The price as a user reads it on the pricing page."""
        if self.per_minute is not None:
            return f"${self.per_minute:g}/min"
        return (
            f"${self.audio_in:g} audio in, ${self.text_in:g} text in, "
            f"${self.text_out:g} text out per 1M tokens"
        )


PRICES: Mapping[str, Price] = {
    "gpt-transcribe": Price(per_minute=0.0045),
    "gpt-live-transcribe": Price(per_minute=0.017),
    "gpt-realtime-whisper": Price(per_minute=0.017),
    "whisper-1": Price(per_minute=0.006),
    "gpt-4o-transcribe": Price(audio_in=6.00, text_in=2.50, text_out=10.00),
    "gpt-4o-mini-transcribe": Price(audio_in=3.00, text_in=1.25, text_out=5.00),
}


def price_of(model: str, overrides: Mapping[str, Price] | None = None) -> Price | None:
    """The price of ``model``: the configuration's override first, then the table; else None."""
    if overrides and model in overrides:
        return overrides[model]
    return PRICES.get(model)


def cost_usd(price: Price | None, usage: Usage | None) -> float | None:
    """What one item cost, from the usage the server reported; None when it cannot be known.

    Unknown when the model has no price, the server reported no usage, or the usage's shape does
    not match how the price is stated (seconds against a token price, or tokens against a
    per-minute one).
    """
    if price is None or usage is None:
        return None
    if price.per_minute is not None:
        return None if usage.seconds is None else usage.seconds / 60 * price.per_minute
    if usage.seconds is not None:
        return None
    return (
        usage.audio_tokens * price.audio_in
        + usage.text_tokens * price.text_in
        + usage.output_tokens * price.text_out
    ) / 1_000_000
