"""Client events as JSON text, in either dialect, and classification of server errors.

Pure functions: docs/protocol.md, "Session configuration" and "Client events" for the shapes,
"Errors" for what each error means to us.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

from tray_stt.realtime.models import Dialect, NoiseReduction, TranscriptionSettings, TurnMode

LOGPROBS_INCLUDE = "item.input_audio_transcription.logprobs"


def _dumps(event: dict[str, Any]) -> str:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def _turn_detection(settings: TranscriptionSettings, dialect: Dialect) -> dict[str, Any] | None:
    turn = settings.effective_turn
    if not turn.on_server:
        return None
    if turn is TurnMode.SEMANTIC:
        return {"type": "semantic_vad", "eagerness": settings.eagerness}
    return {
        "type": "server_vad",
        "threshold": settings.vad_threshold,
        "prefix_padding_ms": settings.prefix_padding_ms,
        "silence_duration_ms": settings.silence_duration_ms,
    }


def _transcription(settings: TranscriptionSettings, dialect: Dialect) -> dict[str, Any]:
    fields: dict[str, Any] = {"model": settings.model}
    if settings.language:
        fields["language"] = settings.language
    if settings.prompt:
        fields["prompt"] = settings.prompt
    if dialect is Dialect.GA:
        if settings.keywords:
            fields["keywords"] = list(settings.keywords)
        if settings.languages:
            fields["languages"] = list(settings.languages)
        if settings.delay:
            fields["delay"] = settings.delay
    return fields


def _noise_reduction(settings: TranscriptionSettings) -> dict[str, str] | None:
    if settings.noise_reduction is NoiseReduction.OFF:
        return None
    return {"type": settings.noise_reduction.value}


def session_update(
    settings: TranscriptionSettings,
    dialect: Dialect,
    *,
    event_id: str,
    manual_turns: bool = False,
) -> str:
    """The configuration event; ``manual_turns`` forces ``turn_detection: null`` (for replays)."""
    turn = None if manual_turns else _turn_detection(settings, dialect)
    include = [LOGPROBS_INCLUDE] if settings.logprobs else None
    if dialect is Dialect.BETA:
        session: dict[str, Any] = {
            "input_audio_format": "pcm16",
            "input_audio_transcription": _transcription(settings, dialect),
            "turn_detection": turn,
            "input_audio_noise_reduction": _noise_reduction(settings),
        }
        if include:
            session["include"] = include
        return _dumps(
            {"type": "transcription_session.update", "event_id": event_id, "session": session}
        )
    audio_input = {
        "format": {"type": "audio/pcm", "rate": 24000},
        "transcription": _transcription(settings, dialect),
        # Explicit null matters: the server creates sessions with server_vad on
        # (docs/protocol.md, "Turn detection").
        "turn_detection": turn,
        "noise_reduction": _noise_reduction(settings),
    }
    ga: dict[str, Any] = {"type": "transcription", "audio": {"input": audio_input}}
    if include:
        ga["include"] = include
    return _dumps({"type": "session.update", "event_id": event_id, "session": ga})


def append(pcm: bytes) -> str:
    """``input_audio_buffer.append`` carrying 24 kHz PCM16 audio (no reply is expected)."""
    audio = base64.b64encode(pcm).decode("ascii")
    return _dumps({"type": "input_audio_buffer.append", "audio": audio})


def commit(event_id: str) -> str:
    """``input_audio_buffer.commit``; the event id comes back on ``commit_empty`` errors."""
    return _dumps({"type": "input_audio_buffer.commit", "event_id": event_id})


def clear(event_id: str) -> str:
    """``input_audio_buffer.clear``; its ``cleared`` reply also marks a point in the stream."""
    return _dumps({"type": "input_audio_buffer.clear", "event_id": event_id})


class ErrorKind(Enum):
    """What an ``error`` event means for the session."""

    AUTHENTICATION = "authentication"  # fatal: fix the key
    BILLING = "billing"  # fatal: add credit
    CONFIGURATION = "configuration"  # fatal: the server refused what we asked for
    RATE_LIMIT = "rate_limit"  # back off, reconnect
    SESSION_EXPIRED = "session_expired"  # roll over to a new session now
    BENIGN = "benign"  # e.g. a commit that raced a VAD commit
    ITEM = "item"  # one utterance failed; the session goes on
    UNKNOWN = "unknown"  # warn and go on

    @property
    def fatal(self) -> bool:
        """Whether no retry can help without the user changing something."""
        return self in (ErrorKind.AUTHENTICATION, ErrorKind.BILLING, ErrorKind.CONFIGURATION)


@dataclass(frozen=True)
class ServerErrorInfo:
    """The fields of a realtime ``error`` object (all optional on the wire but ``message``)."""

    type: str | None
    code: str | None
    message: str
    param: str | None
    event_id: str | None


_AUTH_CODES = {"invalid_api_key", "invalid_authentication", "unauthorized", "invalid_auth"}
_BILLING_CODES = {"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"}
_RATE_CODES = {"rate_limit_exceeded", "rate_limit_error", "too_many_requests"}
_CONFIG_CODES = {
    "beta_api_shape_disabled",
    "unknown_parameter",
    "integer_below_min_value",
    "invalid_model",
    "missing_model",
    "model_not_found",
}


def classify_error(error: ServerErrorInfo, *, config_event_ids: frozenset[str]) -> ErrorKind:
    """Map an error to what the client must do (docs/protocol.md, "Errors")."""
    code = (error.code or "").lower()
    etype = (error.type or "").lower()
    message = error.message.lower()
    if code == "input_audio_buffer_commit_empty":
        return ErrorKind.BENIGN
    if code == "session_expired" or "maximum duration" in message:
        return ErrorKind.SESSION_EXPIRED
    if code in _AUTH_CODES or etype == "authentication_error" or "authentication" in message:
        return ErrorKind.AUTHENTICATION
    if code in _BILLING_CODES or etype in _BILLING_CODES:
        return ErrorKind.BILLING
    if code in _RATE_CODES or etype in _RATE_CODES:
        return ErrorKind.RATE_LIMIT
    if code in _CONFIG_CODES or (error.event_id in config_event_ids and etype != "server_error"):
        return ErrorKind.CONFIGURATION
    if "turn detection is not supported" in message:
        return ErrorKind.CONFIGURATION
    return ErrorKind.UNKNOWN


def classify_item_failure(error: ServerErrorInfo) -> ErrorKind:
    """What a ``…transcription.failed`` reason means (docs/protocol.md, "Errors"): the API reports
    no credit per item too, as ``insufficient_quota`` or a bare "429 Too Many Requests"."""
    code = (error.code or "").lower()
    etype = (error.type or "").lower()
    message = error.message.lower()
    if code in _BILLING_CODES or etype in _BILLING_CODES or "quota" in message:
        return ErrorKind.BILLING
    if code in _RATE_CODES or etype in _RATE_CODES or "rate limit" in message:
        return ErrorKind.RATE_LIMIT
    if "429" in message or "too many requests" in message:
        return ErrorKind.BILLING
    return ErrorKind.ITEM
