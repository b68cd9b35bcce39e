"""Typed events the protocol core and the session report to whoever shows or stores them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from tray_stt.errors import (
    AuthenticationError,
    BillingError,
    ConfigError,
    ConnectionFailed,
    ServiceError,
    TraySttError,
)
from tray_stt.realtime.models import Dialect
from tray_stt.realtime.usage import Metering
from tray_stt.realtime.wire import ErrorKind, ServerErrorInfo


@dataclass(frozen=True)
class SessionReady:
    """The server accepted the configuration; audio is flowing."""

    dialect: Dialect
    session_id: str | None


@dataclass(frozen=True)
class SpeechStarted:
    """Server VAD heard speech begin (``input_audio_buffer.speech_started``)."""

    item_id: str


@dataclass(frozen=True)
class SpeechStopped:
    """Server VAD heard speech end (``input_audio_buffer.speech_stopped``)."""

    item_id: str


@dataclass(frozen=True)
class TranscriptDelta:
    """Partial text of an utterance; ``text`` is everything received for it so far."""

    item_id: str
    delta: str
    text: str


@dataclass(frozen=True)
class TranscriptCompleted:
    """The final text of one utterance, released in spoken order."""

    text: str
    started_at: datetime
    item_id: str
    # For the usage ledger; None from sources that bill nothing. Metadata: events that say the
    # same thing are equal whatever their metering.
    meter: Metering | None = field(default=None, compare=False)
    # Capture time of the utterance's end (the source's clock: a file's own timeline for
    # ``transcribe``, so subtitles know where it lies). Metadata, as ``meter``.
    ended_at: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True)
class TranscriptFailed:
    """An utterance the server could not transcribe; ``partial_text`` is what had arrived.

    ``kind`` classifies the reason (docs/protocol.md, "Errors"): ``BILLING`` for no credit,
    ``RATE_LIMIT``, ``ITEM`` for this utterance only, ``UNKNOWN`` when the client gave up.
    ``audio_start_ms``/``audio_end_ms`` place the utterance in the session's audio, counted from
    the first byte of input (for a file: the offset in the file).
    """

    reason: str
    partial_text: str
    started_at: datetime
    item_id: str
    kind: ErrorKind = ErrorKind.ITEM
    audio_start_ms: int = 0
    audio_end_ms: int = 0
    meter: Metering | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Notice:
    """Something the user may want to know that needs no action (a malformed frame, a retry)."""

    message: str


class Outage(Enum):
    """Why no connection streams, for displays that tell "network down" from "server trouble"."""

    NETWORK = "network"  # name resolution, refused, unreachable, reset, TLS, connect timeout
    SERVER = "server"  # HTTP 5xx or 429 on the upgrade, rate limiting
    # the server accepted and stopped answering (docs/protocol.md, "Session lifetime and
    # reconnection")
    STALLED = "stalled"


@dataclass(frozen=True)
class Reconnecting:
    """A connection failed for a reason retrying can fix; the next try is in ``delay_s``.

    ``attempt`` counts the consecutive failures (1 for the first).
    """

    reason: str
    delay_s: float
    outage: Outage = Outage.NETWORK
    attempt: int = 1

    @property
    def message(self) -> str:
        """The sentence a console or a tooltip shows."""
        return f"Connection problem ({self.reason}); retrying in {self.delay_s:.1f} s."


@dataclass(frozen=True)
class ServerError:
    """An ``error`` event, classified."""

    kind: ErrorKind
    error: ServerErrorInfo

    def to_exception(self) -> TraySttError:
        """The user-facing error for this server error, with a sentence saying what to do."""
        detail = self.error.code or self.error.type or "error"
        message = self.error.message.rstrip(".")
        if self.kind is ErrorKind.AUTHENTICATION:
            return AuthenticationError.rejected("The server", detail)
        if self.kind is ErrorKind.BILLING:
            return BillingError.no_credit(detail)
        if self.kind is ErrorKind.CONFIGURATION:
            if self.error.type == "client_configuration":
                return ConfigError(self.error.message)
            return ConfigError(
                f"The server refused the session configuration ({detail}): {message}."
            )
        if self.kind is ErrorKind.RATE_LIMIT:
            return ConnectionFailed(
                f"The server kept rate-limiting the session ({detail}): {message}."
            )
        return ServiceError(f"The server reported an error ({detail}): {message}.")


class SessionState(Enum):
    """Where the session's connection stands, for status displays."""

    CONNECTING = "connecting"
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    FINISHED = "finished"


@dataclass(frozen=True)
class StateChanged:
    """The session moved to another state; ``detail`` says why, for the user."""

    state: SessionState
    detail: str = ""


Event = (
    SessionReady
    | SpeechStarted
    | SpeechStopped
    | TranscriptDelta
    | TranscriptCompleted
    | TranscriptFailed
    | Notice
    | Reconnecting
    | ServerError
    | StateChanged
)
