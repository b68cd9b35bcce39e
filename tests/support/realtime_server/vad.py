"""Audio helpers of the loopback realtime server: decoding, energy VAD, transcript deltas."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "FRAME_MS",
    "EnergyVad",
    "VadParams",
    "bytes_per_ms",
    "decode_int16",
    "frame_is_speech",
    "logprobs",
    "rms_threshold",
    "speech_ms",
    "split_deltas",
    "usage_tokens",
]

FRAME_MS = 20
RMS_AT_THRESHOLD_ONE = 1000.0  # threshold 0.5 (the API default) -> RMS 500 of int16 samples


def bytes_per_ms(format_type: str) -> int:
    """Bytes per millisecond: PCM16 at 24 kHz = 48; G.711 (8 kHz, 1 byte per sample) = 8."""
    return 48 if format_type == "audio/pcm" else 8


def _ulaw_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    magnitude = (((u & 0x0F) << 3) + 0x84) << exponent
    return np.where(u & 0x80, -(magnitude - 0x84), magnitude - 0x84).astype(np.int16)


def _alaw_table() -> np.ndarray:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    exponent = (a >> 4) & 0x07
    mantissa = (a & 0x0F) << 4
    magnitude = np.where(
        exponent == 0, mantissa + 8, (mantissa + 0x108) << np.maximum(exponent - 1, 0)
    )
    return np.where(a & 0x80, magnitude, -magnitude).astype(np.int16)


_G711 = {"audio/pcmu": _ulaw_table(), "audio/pcma": _alaw_table()}


def decode_int16(data: bytes, format_type: str) -> np.ndarray:
    """Samples of ``data`` as int16 (PCM16 little endian, or G.711 mu-law / A-law)."""
    if format_type == "audio/pcm":
        return np.frombuffer(data[: len(data) - len(data) % 2], dtype="<i2")
    return _G711[format_type][np.frombuffer(data, dtype=np.uint8)]


def rms_threshold(threshold: float) -> float:
    return RMS_AT_THRESHOLD_ONE * threshold


def frame_is_speech(frame: bytes, format_type: str, threshold: float) -> bool:
    samples = decode_int16(frame, format_type).astype(np.float64)
    if samples.size == 0:
        return False
    return float(np.sqrt(np.mean(samples * samples))) > rms_threshold(threshold)


def speech_ms(data: bytes, format_type: str, threshold: float = 0.5) -> int:
    """Milliseconds of ``data`` in 20 ms frames whose RMS exceeds the threshold."""
    frame = bytes_per_ms(format_type) * FRAME_MS
    frames = (data[i : i + frame] for i in range(0, len(data) - frame + 1, frame))
    return FRAME_MS * sum(frame_is_speech(f, format_type, threshold) for f in frames)


@dataclass(frozen=True)
class VadParams:
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500


@dataclass(frozen=True)
class VadEvent:
    kind: str  # "start" or "stop"
    audio_ms: int  # start: onset - prefix padding (>= 0); stop: end of the closing silence
    end_byte: int  # connection byte offset of the end of the frame that triggered the event


class EnergyVad:
    """Energy VAD on 20 ms frames aligned to the start of the connection's audio stream."""

    def __init__(self, format_type: str = "audio/pcm") -> None:
        self.format_type = format_type
        self.params: VadParams | None = None
        self.speaking = False
        self._pending = bytearray()
        self._consumed = 0  # bytes of the stream already cut into frames
        self._silence_ms = 0
        self.loud_ms = 0  # ms of loud frames since the owner last reset this counter

    def configure(self, params: VadParams | None, format_type: str) -> None:
        if format_type != self.format_type:
            self._pending.clear()
        self.format_type = format_type
        self.params = params
        if params is None:
            self.reset()

    def reset(self) -> None:
        """Forget an ongoing utterance (after a client commit or clear)."""
        self.speaking = False
        self._silence_ms = 0

    def feed(self, data: bytes, stream_offset: int) -> list[VadEvent]:
        """Feed audio that starts at byte ``stream_offset`` of the connection's stream."""
        per_ms = bytes_per_ms(self.format_type)
        frame = per_ms * FRAME_MS
        if stream_offset != self._consumed + len(self._pending):
            self._pending.clear()
            self._consumed = stream_offset
        self._pending.extend(data)
        events: list[VadEvent] = []
        while len(self._pending) >= frame:
            chunk = bytes(self._pending[:frame])
            del self._pending[:frame]
            start = self._consumed
            self._consumed += frame
            threshold = 0.5 if self.params is None else self.params.threshold
            loud = frame_is_speech(chunk, self.format_type, threshold)
            self.loud_ms += FRAME_MS if loud else 0
            if self.params is None:
                continue
            event = self._step(loud, start // per_ms, self._consumed // per_ms, self.params)
            if event is not None:
                events.append(VadEvent(event[0], event[1], self._consumed))
        return events

    def _step(
        self, loud: bool, start_ms: int, end_ms: int, params: VadParams
    ) -> tuple[str, int] | None:
        if loud:
            self._silence_ms = 0
            if not self.speaking:
                self.speaking = True
                return "start", max(0, start_ms - params.prefix_padding_ms)
            return None
        if self.speaking:
            self._silence_ms += FRAME_MS
            if self._silence_ms >= params.silence_duration_ms:
                self.reset()
                return "stop", end_ms
        return None


def split_deltas(text: str) -> list[str]:
    """Word-sized pieces of ``text`` (leading whitespace kept) whose concatenation is ``text``."""
    pieces = re.findall(r"\s*\S+", text)
    rest = text[len("".join(pieces)) :]
    if rest:
        if pieces:
            pieces[-1] += rest
        else:
            pieces.append(rest)
    return pieces


# Models OpenAI bills by the minute report ``usage`` of type ``duration`` (docs/protocol.md,
# "Server events").
DURATION_MODELS = frozenset(
    {"whisper-1", "gpt-transcribe", "gpt-live-transcribe", "gpt-realtime-whisper"}
)


def usage_for(model: str | None, audio_ms: int, text: str) -> dict[str, Any]:
    """The ``usage`` object the API sends for ``model``: duration or tokens."""
    if model in DURATION_MODELS:
        return {"type": "duration", "seconds": round(audio_ms / 1000, 3)}
    return usage_tokens(audio_ms, text)


def usage_tokens(audio_ms: int, text: str) -> dict[str, Any]:
    """A plausible ``usage`` object of type ``tokens`` for a completed transcription."""
    audio_tokens = max(1, audio_ms // 100)
    output_tokens = max(1, len(split_deltas(text)))
    return {
        "type": "tokens",
        "input_tokens": audio_tokens,
        "output_tokens": output_tokens,
        "total_tokens": audio_tokens + output_tokens,
        "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
    }


def logprobs(text: str) -> list[dict[str, Any]]:
    """One fake log-probability entry per word-sized piece of ``text``."""
    return [
        {"token": piece, "logprob": -0.01, "bytes": list(piece.encode())}
        for piece in split_deltas(text)
    ]
