"""The usage object of completed and failed items, parsed by the core and carried on events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.realtime.test_protocol import MS, T0, frame, ready_client, sent, speech
from tray_stt.realtime.events import TranscriptCompleted, TranscriptFailed
from tray_stt.realtime.models import TranscriptionSettings
from tray_stt.realtime.usage import Usage, parse_usage

COMPLETED = "conversation.item.input_audio_transcription.completed"
TOKENS = {
    "type": "tokens",
    "input_tokens": 42,
    "output_tokens": 7,
    "total_tokens": 49,
    "input_token_details": {"audio_tokens": 40, "text_tokens": 2},
}


def test_parse_usage_duration_shape() -> None:
    assert parse_usage({"type": "duration", "seconds": 2.5}) == Usage(seconds=2.5)
    assert parse_usage({"type": "duration", "seconds": 3}) == Usage(seconds=3.0)


def test_parse_usage_tokens_shape() -> None:
    usage = parse_usage(TOKENS)
    assert usage == Usage(None, 42, 7, 40, 2)
    assert usage is not None and not usage.by_duration


def test_parse_usage_tokens_without_details_counts_the_input_as_audio() -> None:
    raw = {"type": "tokens", "input_tokens": 10, "output_tokens": 3, "total_tokens": 13}
    assert parse_usage(raw) == Usage(None, 10, 3, 10, 0)


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "tokens",
        {},
        {"type": "duration"},
        {"type": "duration", "seconds": -1},
        {"type": "duration", "seconds": True},
        {"type": "tokens", "input_tokens": "4", "output_tokens": 1},
        {"type": "tokens", "input_tokens": 4, "output_tokens": -1},
        {"type": "minutes", "seconds": 3},
    ],
)
def test_parse_usage_malformed_is_none(raw: Any) -> None:
    assert parse_usage(raw) is None


def _complete(usage: object) -> TranscriptCompleted:
    client = ready_client(TranscriptionSettings(model="gpt-4o-transcribe"))
    client.append(bytes(2000 * MS), T0)
    sent(client)
    speech(client, "item_1", None, 100, 1300)
    [done] = client.receive(
        frame(COMPLETED, item_id="item_1", content_index=0, transcript="hi", usage=usage)
    )
    assert isinstance(done, TranscriptCompleted)
    return done


def test_completed_carries_tokens_usage_model_session_and_audio() -> None:
    meter = _complete(TOKENS).meter
    assert meter is not None
    assert meter.usage == Usage(None, 42, 7, 40, 2)
    assert meter.model == "gpt-4o-transcribe"
    assert meter.session_id == "sess_1"
    assert meter.audio_ms == 1200
    # the end of speech is where server VAD heard it stop, in capture time
    assert meter.ended_at == T0 + timedelta(milliseconds=1300)


def test_completed_carries_duration_usage() -> None:
    meter = _complete({"type": "duration", "seconds": 1.2}).meter
    assert meter is not None and meter.usage == Usage(seconds=1.2)


def test_completed_without_usage_is_still_metered() -> None:
    meter = _complete(None).meter
    assert meter is not None and meter.usage is None and meter.audio_ms == 1200


def test_failed_carries_usage_when_the_server_reports_it() -> None:
    client = ready_client()
    client.append(bytes(2000 * MS), T0)
    sent(client)
    speech(client, "item_1", None, 0, 800)
    [failed] = client.receive(
        frame(
            "conversation.item.input_audio_transcription.failed",
            item_id="item_1",
            content_index=0,
            error={"type": "server_error", "code": None, "message": "boom", "param": None},
            usage={"type": "duration", "seconds": 0.8},
        )
    )
    assert isinstance(failed, TranscriptFailed)
    assert failed.meter is not None and failed.meter.usage == Usage(seconds=0.8)
    assert failed.meter.audio_ms == 800
