"""Session configuration of the loopback realtime server: validation, merging, rendering.

Updates are atomic: ``apply_ga_update``/``apply_beta_update`` return a new config or raise
``ConfigError`` without touching the old one. The internal form uses GA names.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from tests.support.realtime_server.vad import VadParams

__all__ = [
    "STREAMING_MODELS",
    "ConfigError",
    "SessionConfig",
    "apply_beta_update",
    "apply_ga_update",
    "default_config",
    "render_beta",
    "render_ga",
]

STREAMING_MODELS = frozenset({"gpt-live-transcribe", "gpt-realtime-whisper"})
PCM_RATE = 24000
_LOGPROBS = "item.input_audio_transcription.logprobs"
_SERVER_VAD_KEYS = {
    "type",
    "threshold",
    "prefix_padding_ms",
    "silence_duration_ms",
    "idle_timeout_ms",
    "create_response",
    "interrupt_response",
}
_SEMANTIC_VAD_KEYS = {"type", "eagerness", "create_response", "interrupt_response"}
_GA_TRANSCRIPTION_KEYS = {"model", "language", "prompt", "languages", "keywords", "delay"}
_BETA_MODELS = ("gpt-4o-transcribe", "gpt-4o-mini-transcribe", "whisper-1")
_BETA_FORMATS = {"pcm16": "audio/pcm", "g711_ulaw": "audio/pcmu", "g711_alaw": "audio/pcma"}


class ConfigError(Exception):
    """A rejected session update; becomes an ``invalid_request_error`` error event."""

    def __init__(self, code: str, message: str, param: str | None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param


@dataclass
class SessionConfig:
    format_type: str = "audio/pcm"
    transcription: dict[str, Any] | None = None
    turn_detection: dict[str, Any] | None = None
    noise_reduction: dict[str, Any] | None = None
    include: list[str] | None = None
    modalities: list[str] = field(default_factory=lambda: ["text"])

    @property
    def model(self) -> str | None:
        return None if self.transcription is None else self.transcription.get("model")

    def vad_params(self) -> VadParams | None:
        td = self.turn_detection
        if td is None:
            return None
        if td["type"] == "semantic_vad":  # emulated as server VAD with 500 ms of silence
            return VadParams(0.5, 300, 500)
        return VadParams(td["threshold"], td["prefix_padding_ms"], td["silence_duration_ms"])


def default_config(dialect: str) -> SessionConfig:
    silence = (
        200 if dialect == "ga" else 500
    )  # GA session.created, beta example (docs/protocol.md, "Turn detection")
    return SessionConfig(turn_detection=_server_vad({}, None, silence))


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    names = {str: "string", int: "integer", float: "number", list: "array", dict: "object"}
    return names.get(type(value), "unknown")


def _expect(value: object, kinds: tuple[str, ...], param: str) -> None:
    kind = _kind(value)
    if kind not in kinds and not (kind == "integer" and "number" in kinds):
        raise ConfigError(
            "invalid_type",
            f"Invalid type for '{param}': expected {' or '.join(kinds)}, but got {kind} instead.",
            param,
        )


def _keys(obj: dict[str, Any], allowed: set[str], prefix: str) -> None:
    for key in obj:
        if key not in allowed:
            param = f"{prefix}.{key}"
            raise ConfigError("unknown_parameter", f"Unknown parameter: '{param}'.", param)


def _choice(value: object, allowed: tuple[str, ...], param: str) -> None:
    if value not in allowed:
        supported = ", ".join(f"'{a}'" for a in allowed)
        raise ConfigError(
            "invalid_value", f"Invalid value: '{value}'. Supported values are: {supported}.", param
        )


def _server_vad(td: dict[str, Any], old: dict[str, Any] | None, silence: int) -> dict[str, Any]:
    base = old if old is not None and old.get("type") == "server_vad" else {}
    out = {
        "type": "server_vad",
        "threshold": base.get("threshold", 0.5),
        "prefix_padding_ms": base.get("prefix_padding_ms", 300),
        "silence_duration_ms": base.get("silence_duration_ms", silence),
    }
    out.update({k: v for k, v in base.items() if k not in out})
    out.update(td)
    return out


def _turn_detection(td: object, old: dict[str, Any] | None, prefix: str) -> dict[str, Any] | None:
    if td is None:
        return None
    _expect(td, ("object",), prefix)
    assert isinstance(td, dict)
    _choice(td.get("type"), ("server_vad", "semantic_vad"), f"{prefix}.type")
    _keys(td, _SERVER_VAD_KEYS if td["type"] == "server_vad" else _SEMANTIC_VAD_KEYS, prefix)
    for key in ("prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms"):
        if key in td and not (key == "idle_timeout_ms" and td[key] is None):
            _expect(td[key], ("integer",), f"{prefix}.{key}")
    if "threshold" in td:
        _expect(td["threshold"], ("number",), f"{prefix}.threshold")
        if not 0.0 <= td["threshold"] <= 1.0:
            raise ConfigError(
                "decimal_out_of_range",
                f"Invalid '{prefix}.threshold': expected a value between 0 and 1.",
                f"{prefix}.threshold",
            )
    if td["type"] == "server_vad":
        return _server_vad(td, old, 500)
    if "eagerness" in td:
        _choice(td["eagerness"], ("low", "medium", "high", "auto"), f"{prefix}.eagerness")
    return {"type": "semantic_vad", "eagerness": "auto", **td}


def _transcription(tr: object, old: dict[str, Any] | None, prefix: str) -> dict[str, Any] | None:
    if tr is None:
        return None
    _expect(tr, ("object",), prefix)
    assert isinstance(tr, dict)
    merged = {"model": None, "language": None, "prompt": None, **(old or {}), **tr}
    if not isinstance(merged["model"], str) or not merged["model"]:
        raise ConfigError(
            "missing_required_parameter",
            f"Missing required parameter: '{prefix}.model'.",
            f"{prefix}.model",
        )
    for key in ("language", "prompt"):
        if merged[key] is not None:
            _expect(merged[key], ("string",), f"{prefix}.{key}")
    return merged


def _noise(nr: object, old: dict[str, Any] | None, prefix: str) -> dict[str, Any] | None:
    if nr is None:
        return None
    _expect(nr, ("object",), prefix)
    assert isinstance(nr, dict)
    _keys(nr, {"type", "strength"}, prefix)
    merged = {"type": "near_field", "strength": 1.0, **(old or {}), **nr}
    _choice(merged["type"], ("near_field", "far_field"), f"{prefix}.type")
    return merged


def _include(value: object, prefix: str) -> list[str] | None:
    if value is None:
        return None
    _expect(value, ("array",), prefix)
    assert isinstance(value, list)
    for i, entry in enumerate(value):
        _choice(entry, (_LOGPROBS,), f"{prefix}[{i}]")
    return list(value)


def _check_model(cfg: SessionConfig, td_param: str) -> None:
    if cfg.model in STREAMING_MODELS and cfg.turn_detection is not None:
        raise ConfigError(
            "invalid_value",
            "Turn detection is not supported for this transcription model",
            td_param,
        )


def apply_ga_update(cfg: SessionConfig, session: object) -> SessionConfig:
    """The config after a GA ``session.update``'s ``session`` object, or ConfigError."""
    _expect(session, ("object",), "session")
    assert isinstance(session, dict)
    _keys(session, {"type", "audio", "include"}, "session")
    if "type" not in session:
        raise ConfigError(
            "missing_required_parameter",
            "Missing required parameter: 'session.type'.",
            "session.type",
        )
    _choice(session["type"], ("transcription",), "session.type")
    new = copy.deepcopy(cfg)
    if "include" in session:
        new.include = _include(session["include"], "session.include")
    audio = session.get("audio")
    if audio is None:
        return new
    _expect(audio, ("object",), "session.audio")
    _keys(audio, {"input"}, "session.audio")
    inp = audio.get("input")
    if inp is None:
        return new
    p = "session.audio.input"
    _expect(inp, ("object",), p)
    _keys(inp, {"format", "transcription", "turn_detection", "noise_reduction"}, p)
    if "format" in inp:
        new.format_type = _ga_format(inp["format"], f"{p}.format")
    if "transcription" in inp:
        tr = inp["transcription"]
        if isinstance(tr, dict):
            _keys(tr, _GA_TRANSCRIPTION_KEYS, f"{p}.transcription")
        new.transcription = _transcription(tr, cfg.transcription, f"{p}.transcription")
    if "turn_detection" in inp:
        td = inp["turn_detection"]
        new.turn_detection = _turn_detection(td, cfg.turn_detection, f"{p}.turn_detection")
    if "noise_reduction" in inp:
        nr = inp["noise_reduction"]
        new.noise_reduction = _noise(nr, cfg.noise_reduction, f"{p}.noise_reduction")
    _check_model(new, "session.audio.input.turn_detection")
    return new


def _ga_format(fmt: object, prefix: str) -> str:
    _expect(fmt, ("object",), prefix)
    assert isinstance(fmt, dict)
    _choice(fmt.get("type"), ("audio/pcm", "audio/pcmu", "audio/pcma"), f"{prefix}.type")
    _keys(fmt, {"type", "rate"} if fmt["type"] == "audio/pcm" else {"type"}, prefix)
    rate = fmt.get("rate", PCM_RATE)
    _expect(rate, ("integer",), f"{prefix}.rate")
    if rate < PCM_RATE:
        code, bound = "integer_below_min_value", f">= {PCM_RATE}"
    elif rate > PCM_RATE:
        code, bound = "integer_above_max_value", f"<= {PCM_RATE}"
    else:
        return str(fmt["type"])
    raise ConfigError(
        code,
        f"Invalid '{prefix}.rate': {code.replace('_', ' ')}. Expected a value {bound}, "
        f"but got {rate} instead.",
        f"{prefix}.rate",
    )


def apply_beta_update(cfg: SessionConfig, session: object) -> SessionConfig:
    """The config after a beta ``transcription_session.update``'s ``session``, or ConfigError."""
    _expect(session, ("object",), "session")
    assert isinstance(session, dict)
    allowed = {
        "input_audio_format",
        "input_audio_transcription",
        "turn_detection",
        "input_audio_noise_reduction",
        "include",
        "modalities",
        "client_secret",
    }
    _keys(session, allowed, "session")
    new = copy.deepcopy(cfg)
    if "input_audio_format" in session:
        fmt = session["input_audio_format"]
        _choice(fmt, tuple(_BETA_FORMATS), "session.input_audio_format")
        new.format_type = _BETA_FORMATS[fmt]
    if "input_audio_transcription" in session:
        tr = session["input_audio_transcription"]
        if isinstance(tr, dict):
            _keys(tr, {"model", "language", "prompt"}, "session.input_audio_transcription")
        new.transcription = _transcription(
            tr, cfg.transcription, "session.input_audio_transcription"
        )
        if new.transcription is not None:  # the beta API only knew these three models
            param = "session.input_audio_transcription.model"
            _choice(new.transcription["model"], _BETA_MODELS, param)
    if "turn_detection" in session:
        new.turn_detection = _turn_detection(
            session["turn_detection"], cfg.turn_detection, "session.turn_detection"
        )
    if "input_audio_noise_reduction" in session:
        new.noise_reduction = _noise(
            session["input_audio_noise_reduction"],
            cfg.noise_reduction,
            "session.input_audio_noise_reduction",
        )
    if "include" in session:
        new.include = _include(session["include"], "session.include")
    if session.get("modalities") is not None:
        _expect(session["modalities"], ("array",), "session.modalities")
        new.modalities = list(session["modalities"])
    _check_model(new, "session.turn_detection")
    return new


def render_ga(cfg: SessionConfig, session_id: str, expires_at: int) -> dict[str, Any]:
    """The GA ``session`` object of session.created/session.updated (nulls explicit)."""
    fmt: dict[str, Any] = {"type": cfg.format_type}
    if cfg.format_type == "audio/pcm":
        fmt["rate"] = PCM_RATE
    return {
        "type": "transcription",
        "object": "realtime.transcription_session",
        "id": session_id,
        "expires_at": expires_at,
        "audio": {
            "input": {
                "format": fmt,
                "transcription": copy.deepcopy(cfg.transcription),
                "noise_reduction": copy.deepcopy(cfg.noise_reduction),
                "turn_detection": copy.deepcopy(cfg.turn_detection),
            }
        },
        "include": None if cfg.include is None else list(cfg.include),
    }


def render_beta(cfg: SessionConfig, session_id: str) -> dict[str, Any]:
    """The beta ``session`` object of transcription_session.created/.updated."""
    fmt = {v: k for k, v in _BETA_FORMATS.items()}[cfg.format_type]
    tr = cfg.transcription
    td = cfg.turn_detection
    if td is not None:
        keys = ("type", "threshold", "prefix_padding_ms", "silence_duration_ms")
        td = {k: td[k] for k in keys if k in td}
    nr = cfg.noise_reduction
    return {
        "id": session_id,
        "object": "realtime.transcription_session",
        "input_audio_format": fmt,
        "input_audio_transcription": None
        if tr is None
        else {"model": tr["model"], "language": tr["language"], "prompt": tr["prompt"]},
        "turn_detection": td,
        "input_audio_noise_reduction": None if nr is None else {"type": nr["type"]},
        "include": [] if cfg.include is None else list(cfg.include),
        "modalities": list(cfg.modalities),
        "client_secret": None,
    }
