"""Validate realtime events against the ``openai`` package's pydantic models, strictly.

The SDK models accept (and keep) unknown keys. Here every key must be declared by the model the
SDK picks for it, except for a short, documented list of fields the real API sends although the
SDK 3.54 models do not declare them (``_UNMODELLED_SERVER_FIELDS``). A typo'd key therefore fails.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Iterator
from typing import Any

import pydantic
from openai.types.beta.realtime import realtime_client_event as beta_client
from openai.types.beta.realtime import realtime_server_event as beta_server
from openai.types.realtime import realtime_client_event as ga_client
from openai.types.realtime import realtime_server_event as ga_server
from pydantic import TypeAdapter

__all__ = ["DIALECTS", "validate_client_event", "validate_server_event"]

DIALECTS = ("ga", "beta")

_UNIONS: dict[tuple[str, str], Any] = {
    ("ga", "client"): ga_client.RealtimeClientEvent,
    ("beta", "client"): beta_client.RealtimeClientEvent,
    ("ga", "server"): ga_server.RealtimeServerEvent,
    ("beta", "server"): beta_server.RealtimeServerEvent,
}

# Fields the real API sends but the SDK models of the event do not declare ("*" = any list index).
# GA: session.created/updated reuse the *create request* model, which lacks id/object/expires_at
# (docs/protocol.md, "Server events"); deltas carry an unmodelled ``obfuscation`` string
# (docs/protocol.md, "Server events").
# Beta: TranscriptionSession is the REST response model; the events also carry id/object/include/
# input_audio_noise_reduction (docs/protocol.md, "Server events"; OpenAI's example
# RealtimeBetaServerEventTranscriptionSessionCreated).
_SESSION_EXTRAS = frozenset({("session", "id"), ("session", "object"), ("session", "expires_at")})
_BETA_SESSION_EXTRAS = _SESSION_EXTRAS | {
    ("session", "include"),
    ("session", "input_audio_noise_reduction"),
}
_UNMODELLED_SERVER_FIELDS: dict[tuple[str, str], frozenset[tuple[str, ...]]] = {
    ("ga", "session.created"): _SESSION_EXTRAS,
    ("ga", "session.updated"): _SESSION_EXTRAS,
    ("ga", "conversation.item.input_audio_transcription.delta"): frozenset({("obfuscation",)}),
    ("beta", "transcription_session.created"): _BETA_SESSION_EXTRAS,
    ("beta", "transcription_session.updated"): _BETA_SESSION_EXTRAS,
}
# The beta SDK's TranscriptionSession requires ``client_secret`` (REST response), but over the
# WebSocket the session echo has none/null; a placeholder is substituted for validation only.
_PLACEHOLDER_CLIENT_SECRET = {"expires_at": 0, "value": "placeholder"}


@functools.cache
def _classes_by_type(dialect: str, side: str) -> dict[str, type[pydantic.BaseModel]]:
    """Map each event ``type`` string of the SDK union to its pydantic class."""
    union = _UNIONS[(dialect, side)]
    members = typing.get_args(typing.get_args(union)[0])  # Annotated[Union[...], ...]
    result: dict[str, type[pydantic.BaseModel]] = {}
    for cls in members:
        for literal in typing.get_args(cls.model_fields["type"].annotation):
            result[literal] = cls
    return result


@functools.cache
def _adapter(cls: type[pydantic.BaseModel]) -> TypeAdapter[Any]:
    return TypeAdapter(cls)


def _walk_extras(value: object, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """Yield the path of every key a validated model kept as an undeclared extra."""
    if isinstance(value, pydantic.BaseModel):
        for key in value.__pydantic_extra__ or {}:
            yield (*path, key)
        for name in type(value).model_fields:
            yield from _walk_extras(getattr(value, name), (*path, name))
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _walk_extras(item, (*path, "*"))


def _fmt(path: tuple[str, ...]) -> str:
    return ".".join(path).replace(".*", "[*]")


def _describe(event: object) -> str:
    text = repr(event)
    return text if len(text) <= 300 else text[:300] + "..."


def _validate(
    event: dict[str, Any],
    dialect: str,
    side: str,
    allowed_extras: frozenset[tuple[str, ...]] = frozenset(),
) -> None:
    if dialect not in DIALECTS:
        raise ValueError(f"dialect must be one of {DIALECTS}, not {dialect!r}")
    if not isinstance(event, dict):
        raise AssertionError(f"{dialect} {side} event is not a JSON object: {_describe(event)}")
    event_type = event.get("type")
    classes = _classes_by_type(dialect, side)
    if not isinstance(event_type, str) or event_type not in classes:
        raise AssertionError(
            f"unknown {dialect} {side} event type {event_type!r} (not in the openai SDK union): "
            f"{_describe(event)}"
        )
    cls = classes[event_type]
    try:
        model = _adapter(cls).validate_python(event)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{_fmt(tuple(str(p) for p in err['loc'])) or '<root>'}: {err['msg']}"
            for err in exc.errors()
        )
        raise AssertionError(
            f"invalid {dialect} {side} event {event_type!r} ({cls.__name__}): {problems}; "
            f"event: {_describe(event)}"
        ) from None
    unknown = [_fmt(path) for path in _walk_extras(model, ()) if path not in allowed_extras]
    if unknown:
        raise AssertionError(
            f"{dialect} {side} event {event_type!r} ({cls.__name__}) has keys the SDK model does "
            f"not declare: {', '.join(unknown)}; event: {_describe(event)}"
        )


def validate_client_event(event: dict[str, Any], dialect: str) -> None:
    """Raise AssertionError unless ``event`` is a valid, typo-free client event of ``dialect``."""
    _validate(event, dialect, "client")


def validate_server_event(event: dict[str, Any], dialect: str) -> None:
    """Raise AssertionError unless ``event`` is a valid server event of ``dialect``.

    Beta ``transcription_session.created`` has no SDK class: it is checked with the
    ``transcription_session.updated`` model after swapping the type string.
    """
    if not isinstance(event, dict):
        raise AssertionError(f"{dialect} server event is not a JSON object: {_describe(event)}")
    event_type = event.get("type")
    allowed = _UNMODELLED_SERVER_FIELDS.get((dialect, str(event_type)), frozenset())
    if dialect == "beta" and event_type in (
        "transcription_session.created",
        "transcription_session.updated",
    ):
        event = dict(event, type="transcription_session.updated")
        session = event.get("session")
        if isinstance(session, dict) and session.get("client_secret") is None:
            event["session"] = dict(session, client_secret=_PLACEHOLDER_CLIENT_SECRET)
    _validate(event, dialect, "server", allowed)
