"""Transcription settings and what each model can do with them (docs/protocol.md, "Models").

A configuration a model cannot honour is refused here, before any connection, with a sentence that
says why and what to use instead. Unknown model names pass through: new models appear often.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from tray_stt.errors import ConfigError


class Dialect(StrEnum):
    """Which shape of the protocol the server speaks."""

    GA = "ga"
    BETA = "beta"  # retired on api.openai.com; Azure preview and older local servers
    AUTO = "auto"  # decided by the server's first event


class TurnMode(StrEnum):
    """Who decides where an utterance ends."""

    SERVER = "server"  # server_vad
    SEMANTIC = "semantic"  # semantic_vad
    MANUAL = "manual"  # turn_detection: null; the client commits (push-to-talk, end of file)
    LOCAL = "local"  # turn_detection: null; a voice-activity detector on the client commits

    @property
    def on_server(self) -> bool:
        """Whether the server decides where turns end (server or semantic VAD)."""
        return self in (TurnMode.SERVER, TurnMode.SEMANTIC)


class NoiseReduction(StrEnum):
    """Server-side input noise reduction."""

    NEAR_FIELD = "near_field"
    FAR_FIELD = "far_field"
    OFF = "off"


class DeltaStyle(StrEnum):
    """How a model streams partial text."""

    WHOLE = "whole"  # one delta holding the whole turn (whisper-1)
    AFTER_COMMIT = "after_commit"  # incremental, but only once the turn is committed
    LIVE = "live"  # while audio arrives, before the commit


EAGERNESS = ("low", "medium", "high", "auto")
DELAYS = ("minimal", "low", "medium", "high", "xhigh")


@dataclass(frozen=True)
class ModelInfo:
    """What one transcription model supports."""

    name: str
    server_vad: bool
    prompt: bool
    keywords: bool
    languages: bool
    delay: bool
    deltas: DeltaStyle
    beta: bool  # available in the legacy beta dialect
    shutdown: date | None = None
    replacement: str | None = None


_LEGACY_SHUTDOWN = date(2027, 2, 26)


def _legacy(name: str, deltas: DeltaStyle, *, prompt: bool = True, beta: bool = True) -> ModelInfo:
    return ModelInfo(
        name, True, prompt, False, False, False, deltas, beta, _LEGACY_SHUTDOWN, "gpt-transcribe"
    )


MODELS: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        _legacy("whisper-1", DeltaStyle.WHOLE),
        _legacy("gpt-4o-transcribe", DeltaStyle.AFTER_COMMIT),
        _legacy("gpt-4o-mini-transcribe", DeltaStyle.AFTER_COMMIT),
        _legacy("gpt-4o-mini-transcribe-2025-12-15", DeltaStyle.AFTER_COMMIT, beta=False),
        _legacy("gpt-4o-transcribe-diarize", DeltaStyle.AFTER_COMMIT, prompt=False, beta=False),
        ModelInfo(
            "gpt-4o-transcribe-latest",
            True,
            True,
            False,
            False,
            False,
            DeltaStyle.AFTER_COMMIT,
            beta=False,
        ),
        ModelInfo(
            "gpt-transcribe", True, True, True, True, False, DeltaStyle.AFTER_COMMIT, beta=False
        ),
        # The two streaming models refuse server turn detection: the client commits.
        ModelInfo("gpt-live-transcribe", False, True, True, True, True, DeltaStyle.LIVE, False),
        ModelInfo("gpt-realtime-whisper", False, False, False, False, True, DeltaStyle.LIVE, False),
    )
}

DEFAULT_MODEL = "gpt-transcribe"
STREAMING_MODELS = tuple(m.name for m in MODELS.values() if m.deltas is DeltaStyle.LIVE)


def model_info(name: str) -> ModelInfo:
    """The capabilities of a model; unknown names are assumed to behave like gpt-transcribe."""
    known = MODELS.get(name)
    if known is not None:
        return known
    base = MODELS[DEFAULT_MODEL]
    return ModelInfo(name, True, True, True, True, True, base.deltas, beta=True)


@dataclass(frozen=True)
class TranscriptionSettings:
    """Everything sent to the server in the session configuration."""

    model: str = DEFAULT_MODEL
    language: str | None = None
    prompt: str | None = None
    keywords: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    delay: str | None = None
    noise_reduction: NoiseReduction = NoiseReduction.NEAR_FIELD
    logprobs: bool = False
    turn: TurnMode | None = None  # None: the model's own default
    vad_threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    eagerness: str = "auto"

    @property
    def effective_turn(self) -> TurnMode:
        """The turn mode in force: the configured one, else what the model supports."""
        if self.turn is not None:
            return self.turn
        return TurnMode.SERVER if model_info(self.model).server_vad else TurnMode.LOCAL


def check_settings(settings: TranscriptionSettings, dialect: Dialect, today: date) -> list[str]:
    """Refuse what the model or dialect cannot do; return warnings (deprecations) to show."""
    info = model_info(settings.model)
    name = settings.model
    turn = settings.effective_turn
    if turn.on_server and not info.server_vad:
        raise ConfigError(
            f"{name} does not support server turn detection: use --turn local (a voice "
            "detector on this computer ends each utterance) or --turn manual."
        )
    _refuse_unsupported(settings, info)
    if dialect is Dialect.BETA:
        _refuse_in_beta(settings, info, turn)
    return _deprecation_warnings(info, today)


def _refuse_unsupported(settings: TranscriptionSettings, info: ModelInfo) -> None:
    name = settings.model
    if settings.prompt and not info.prompt:
        raise ConfigError(
            f"{name} does not accept a prompt: remove it, or use gpt-live-transcribe or "
            "gpt-transcribe, which do."
        )
    if settings.keywords and not info.keywords:
        raise ConfigError(
            f"{name} does not accept keywords: use gpt-transcribe or gpt-live-transcribe, "
            "or put the words in the prompt instead."
        )
    if settings.languages and not info.languages:
        raise ConfigError(
            f"{name} does not accept a list of languages: use gpt-transcribe or "
            "gpt-live-transcribe, or set a single language."
        )
    if settings.delay and not info.delay:
        raise ConfigError(
            f"{name} has no delay setting: use gpt-realtime-whisper for tunable latency, "
            "or remove the delay."
        )


def _refuse_in_beta(settings: TranscriptionSettings, info: ModelInfo, turn: TurnMode) -> None:
    if not info.beta:
        raise ConfigError(
            f"{settings.model} is only available in the GA dialect: use --dialect ga, or a "
            "beta model (whisper-1, gpt-4o-transcribe, gpt-4o-mini-transcribe)."
        )
    if turn is TurnMode.SEMANTIC:
        raise ConfigError(
            "The beta dialect supports only server turn detection in transcription sessions: "
            "use --turn server or --dialect ga."
        )
    if settings.keywords or settings.languages or settings.delay:
        raise ConfigError(
            "Keywords, languages and delay exist only in the GA dialect: use --dialect ga, "
            "or remove them."
        )


def _deprecation_warnings(info: ModelInfo, today: date) -> list[str]:
    if info.shutdown is None:
        return []
    instead = f" Switch to {info.replacement}." if info.replacement else ""
    if today >= info.shutdown:
        return [f"{info.name} was shut down on {info.shutdown}; the server may refuse it.{instead}"]
    return [f"{info.name} is scheduled to shut down on {info.shutdown}.{instead}"]
