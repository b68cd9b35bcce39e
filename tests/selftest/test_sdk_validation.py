"""Unit tests of tests/support/realtime_server/sdk_validation.py (strict checks, openai SDK)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.realtime_server.client import COMPLETED, DELTA, ga_update
from tests.support.realtime_server.sdk_validation import (
    validate_client_event,
    validate_server_event,
)


def test_validation_accepts_good_events_and_explicit_nulls() -> None:
    validate_client_event(ga_update("gpt-live-transcribe", turn_detection=None), "ga")
    validate_client_event({"type": "input_audio_buffer.commit", "event_id": "e1"}, "ga")
    beta = {
        "type": "transcription_session.update",
        "session": {"input_audio_format": "pcm16", "turn_detection": None},
    }
    validate_client_event(beta, "beta")
    validate_server_event({"type": "input_audio_buffer.cleared", "event_id": "event_1"}, "ga")
    delta = {"type": DELTA, "event_id": "e", "item_id": "item_1", "delta": "hi", "obfuscation": "x"}
    validate_server_event(delta, "ga")


@pytest.mark.parametrize(
    ("event", "dialect", "needle"),
    [
        (
            {
                "type": "session.update",
                "session": {"type": "transcription", "input_audio_format": "pcm16"},
            },
            "ga",
            "session.input_audio_format",
        ),
        (ga_update(turn_detection={"type": "server_vad", "silence_ms": 300}), "ga", "silence_ms"),
        (ga_update(format={"type": "audio/pcm", "rate": 16000}), "ga", "rate"),
        ({"type": "input_audio_buffer.commit", "eventid": "x"}, "ga", "eventid"),
        ({"type": "transcription_session.update", "session": {}}, "ga", "unknown ga client"),
        ({"type": "session.update", "session": {"type": "transcription"}}, "beta", "session.type"),
        ({"type": "input_audio_buffer.append"}, "beta", "audio"),
    ],
)
def test_validation_rejects_bad_client_events(
    event: dict[str, Any], dialect: str, needle: str
) -> None:
    with pytest.raises(AssertionError, match=needle):
        validate_client_event(event, dialect)


def test_validation_rejects_bad_server_events() -> None:
    with pytest.raises(AssertionError, match="obfuscation"):  # beta deltas: no unmodelled extras
        validate_server_event(
            {"type": DELTA, "event_id": "e", "item_id": "i", "obfuscation": "x"}, "beta"
        )
    with pytest.raises(AssertionError, match="transcrpt"):
        validate_server_event(
            {"type": COMPLETED, "event_id": "e", "item_id": "i", "transcrpt": ""}, "ga"
        )


def test_validation_checks_nested_lists_and_required_nulls() -> None:
    completed = {
        "type": COMPLETED,
        "event_id": "e",
        "item_id": "i",
        "content_index": 0,
        "transcript": "a",
        "usage": {"type": "duration", "seconds": 1.0},
        "logprobs": [{"token": "a", "logprob": -1.0, "bytes": [97]}],
    }
    validate_server_event(completed, "ga")
    typo = {**completed, "logprobs": [{**completed["logprobs"][0], "byte": 97}]}
    with pytest.raises(AssertionError, match=r"logprobs\[\*\]\.byte"):
        validate_server_event(typo, "ga")
    with pytest.raises(AssertionError, match="transcript"):
        validate_server_event({**completed, "transcript": None}, "ga")


def test_session_events_allow_only_the_documented_unmodelled_fields() -> None:
    audio = {"input": {"transcription": None, "turn_detection": None, "noise_reduction": None}}
    session = {"type": "transcription", "object": "realtime.transcription_session", "id": "s"}
    created = {"type": "session.created", "event_id": "e", "session": {**session, "audio": audio}}
    validate_server_event({**created, "session": {**created["session"], "expires_at": 1}}, "ga")
    with pytest.raises(AssertionError, match="session.expires"):
        validate_server_event({**created, "session": {**created["session"], "expires": 1}}, "ga")
    beta_session = {"id": "s", "object": "realtime.transcription_session", "include": []}
    beta_created = {"type": "transcription_session.created", "event_id": "e"}
    validate_server_event({**beta_created, "session": beta_session}, "beta")
    with pytest.raises(AssertionError, match="session.inlcude"):
        validate_server_event({**beta_created, "session": {"inlcude": []}}, "beta")
    with pytest.raises(AssertionError, match="unknown beta server event type"):
        validate_server_event({**beta_created, "type": "transcription_session.done"}, "beta")
