"""Golden and behaviour tests of the sans-I/O protocol core."""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.realtime_server.sdk_validation import validate_client_event
from tray_stt.errors import ProtocolError
from tray_stt.realtime.events import (
    Notice,
    ServerError,
    SessionReady,
    SpeechStarted,
    TranscriptCompleted,
    TranscriptDelta,
    TranscriptFailed,
)
from tray_stt.realtime.models import Dialect, NoiseReduction, TranscriptionSettings, TurnMode
from tray_stt.realtime.protocol import TranscriptionClient
from tray_stt.realtime.wire import ErrorKind

TODAY = date(2026, 11, 23)
T0 = datetime(2026, 11, 23, 9, 30, 0).astimezone()
MS = 48  # bytes per millisecond of 24 kHz PCM16


def frame(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, "event_id": "event_x", **fields})


def sent(client: TranscriptionClient, dialect: str = "ga") -> list[dict[str, Any]]:
    """What the client wants sent, each checked against the official SDK's models."""
    events = [json.loads(text) for text in client.take_outgoing()]
    for event in events:
        validate_client_event(event, dialect)
    return events


def ready_client(
    settings: TranscriptionSettings | None = None, dialect: Dialect = Dialect.GA
) -> TranscriptionClient:
    client = TranscriptionClient(settings or TranscriptionSettings(), dialect, today=TODAY)
    client.connection_opened()
    created = "transcription_session.created" if dialect is Dialect.BETA else "session.created"
    updated = "transcription_session.updated" if dialect is Dialect.BETA else "session.updated"
    client.receive(frame(created, session={"id": "sess_1"}))
    client.receive(frame(updated, session={"id": "sess_1"}))
    sent(client, "beta" if dialect is Dialect.BETA else "ga")
    return client


def speech(client: TranscriptionClient, item: str, previous: str | None, start: int, end: int):
    client.receive(frame("input_audio_buffer.speech_started", item_id=item, audio_start_ms=start))
    client.receive(frame("input_audio_buffer.speech_stopped", item_id=item, audio_end_ms=end))
    return client.receive(
        frame("input_audio_buffer.committed", item_id=item, previous_item_id=previous)
    )


def completed(client: TranscriptionClient, item: str, text: str) -> list[Any]:
    return client.receive(
        frame(
            "conversation.item.input_audio_transcription.completed",
            item_id=item,
            content_index=0,
            transcript=text,
            usage={"type": "duration", "seconds": 1.0},
        )
    )


def test_session_update_ga_golden() -> None:
    settings = TranscriptionSettings(
        model="gpt-4o-transcribe", language="en", prompt="tray", logprobs=True
    )
    client = TranscriptionClient(settings, Dialect.GA, today=TODAY)
    client.connection_opened()
    assert client.take_outgoing() == []  # nothing is sent before the server speaks
    client.receive(frame("session.created", session={"id": "sess_1"}))
    [update] = sent(client)
    assert update == {
        "type": "session.update",
        "event_id": update["event_id"],
        "session": {
            "type": "transcription",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": {
                        "model": "gpt-4o-transcribe",
                        "language": "en",
                        "prompt": "tray",
                    },
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": 0.5,
                        "prefix_padding_ms": 300,
                        "silence_duration_ms": 500,
                    },
                    "noise_reduction": {"type": "near_field"},
                }
            },
            "include": ["item.input_audio_transcription.logprobs"],
        },
    }


def test_session_update_streaming_model_sends_explicit_null_turn_detection() -> None:
    settings = TranscriptionSettings(
        model="gpt-live-transcribe", keywords=("Kubernetes",), languages=("en",)
    )
    client = TranscriptionClient(settings, Dialect.GA, today=TODAY)
    client.connection_opened()
    client.receive(frame("session.created", session={}))
    [update] = sent(client)
    audio_input = update["session"]["audio"]["input"]
    assert "turn_detection" in audio_input and audio_input["turn_detection"] is None
    assert audio_input["transcription"] == {
        "model": "gpt-live-transcribe",
        "keywords": ["Kubernetes"],
        "languages": ["en"],
    }


def test_session_update_beta_golden() -> None:
    settings = TranscriptionSettings(
        model="gpt-4o-transcribe", language="ko", noise_reduction=NoiseReduction.OFF
    )
    client = TranscriptionClient(settings, Dialect.BETA, today=TODAY)
    client.connection_opened()
    client.receive(frame("transcription_session.created", session={}))
    [update] = sent(client, "beta")
    assert update["type"] == "transcription_session.update"
    assert update["session"] == {
        "input_audio_format": "pcm16",
        "input_audio_transcription": {"model": "gpt-4o-transcribe", "language": "ko"},
        "turn_detection": {
            "type": "server_vad",
            "threshold": 0.5,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 500,
        },
        "input_audio_noise_reduction": None,
    }


def test_auto_dialect_follows_the_first_server_event() -> None:
    client = TranscriptionClient(
        TranscriptionSettings(model="whisper-1"), Dialect.AUTO, today=TODAY
    )
    client.connection_opened()
    client.receive(frame("transcription_session.created", session={}))
    assert client.dialect is Dialect.BETA
    assert sent(client, "beta")[0]["type"] == "transcription_session.update"


def test_auto_dialect_refuses_a_ga_only_model_on_a_beta_server() -> None:
    client = TranscriptionClient(TranscriptionSettings(), Dialect.AUTO, today=TODAY)
    client.connection_opened()
    [error] = client.receive(frame("transcription_session.created", session={}))
    assert isinstance(error, ServerError) and error.kind is ErrorKind.CONFIGURATION
    assert "--dialect ga" in str(error.to_exception())


def test_ga_client_refuses_a_beta_server_with_a_sentence() -> None:
    client = TranscriptionClient(TranscriptionSettings(), Dialect.GA, today=TODAY)
    client.connection_opened()
    [error] = client.receive(frame("transcription_session.created", session={}))
    assert isinstance(error, ServerError)
    assert "--dialect beta or auto" in str(error.to_exception())


def test_audio_waits_for_session_updated_then_flows() -> None:
    client = TranscriptionClient(TranscriptionSettings(), Dialect.GA, today=TODAY)
    client.connection_opened()
    client.append(b"\x01\x00" * 960, T0)
    client.receive(frame("session.created", session={}))
    assert [e["type"] for e in sent(client)] == ["session.update"]
    events = client.receive(frame("session.updated", session={"id": "sess_9"}))
    assert events == [SessionReady(Dialect.GA, "sess_9")]
    [append] = sent(client)
    assert append["type"] == "input_audio_buffer.append"
    client.append(b"\x02\x00" * 960, T0)
    assert [e["type"] for e in sent(client)] == ["input_audio_buffer.append"]


def test_transcripts_released_in_spoken_order_when_completed_out_of_order() -> None:
    client = ready_client()
    client.append(bytes(4000 * MS), T0)
    sent(client)
    speech(client, "item_1", None, 100, 900)
    speech(client, "item_2", "item_1", 1200, 2000)
    speech(client, "item_3", "item_2", 2300, 3000)
    assert completed(client, "item_3", "three") == []
    assert completed(client, "item_2", "two") == []
    released = completed(client, "item_1", "one")
    assert [e.text for e in released] == ["one", "two", "three"]
    assert released[0].started_at.second == 0 and released[1].started_at.second == 1
    assert client.outstanding == 0


def test_committed_events_out_of_order_are_placed_by_previous_item_id() -> None:
    client = ready_client()
    client.append(bytes(3000 * MS), T0)
    sent(client)
    client.receive(frame("input_audio_buffer.committed", item_id="b", previous_item_id="a"))
    # "a" was committed before "b" but the event arrives late: it must still come first.
    client.receive(frame("input_audio_buffer.committed", item_id="a", previous_item_id=None))
    assert completed(client, "a", "first") == []  # "b" was inserted before "a" was known
    released = completed(client, "b", "second")
    assert {e.text for e in released} == {"first", "second"}


def test_deltas_accumulate_and_failed_items_are_reported_with_partial_text() -> None:
    client = ready_client()
    client.append(bytes(2000 * MS), T0)
    sent(client)
    speech(client, "item_1", None, 0, 800)
    delta = "conversation.item.input_audio_transcription.delta"
    client.receive(frame(delta, item_id="item_1", content_index=0, delta="Hello"))
    [last] = client.receive(frame(delta, item_id="item_1", content_index=0, delta=" wor"))
    assert last == TranscriptDelta("item_1", " wor", "Hello wor")
    [failed] = client.receive(
        frame(
            "conversation.item.input_audio_transcription.failed",
            item_id="item_1",
            content_index=0,
            error={"type": "server_error", "code": None, "message": "boom", "param": None},
        )
    )
    assert isinstance(failed, TranscriptFailed)
    assert (failed.reason, failed.partial_text) == ("boom", "Hello wor")


def test_streaming_model_deltas_before_commit_attach_to_the_item() -> None:
    client = ready_client(TranscriptionSettings(model="gpt-live-transcribe"))
    client.append(bytes(500 * MS), T0)
    sent(client)
    delta = "conversation.item.input_audio_transcription.delta"
    [early] = client.receive(frame(delta, item_id="item_7", delta="live "))
    assert early.text == "live "
    client.commit()
    assert [e["type"] for e in sent(client)] == ["input_audio_buffer.commit"]
    client.receive(frame("input_audio_buffer.committed", item_id="item_7", previous_item_id=None))
    [more] = client.receive(frame(delta, item_id="item_7", delta="text"))
    assert more.text == "live text"


def test_manual_commit_of_less_than_100_ms_is_not_sent() -> None:
    client = ready_client(TranscriptionSettings(turn=TurnMode.MANUAL))
    client.append(bytes(60 * MS), T0)
    client.commit()
    assert [e["type"] for e in sent(client)] == ["input_audio_buffer.append"]


def test_commit_empty_is_benign() -> None:
    client = ready_client(TranscriptionSettings(turn=TurnMode.MANUAL))
    client.append(bytes(200 * MS), T0)
    client.commit()
    commit_id = sent(client)[-1]["event_id"]
    error = {
        "type": "invalid_request_error",
        "code": "input_audio_buffer_commit_empty",
        "message": "buffer too small",
        "param": None,
        "event_id": commit_id,
    }
    assert client.receive(frame("error", error=error)) == []


@pytest.mark.parametrize(
    ("code", "etype", "message", "kind"),
    [
        ("invalid_api_key", "invalid_request_error", "Incorrect API key", ErrorKind.AUTHENTICATION),
        (
            None,
            "invalid_request_error",
            "Missing bearer or basic authentication in header",
            ErrorKind.AUTHENTICATION,
        ),
        (
            "insufficient_quota",
            "insufficient_quota",
            "You exceeded your current quota",
            ErrorKind.BILLING,
        ),
        ("rate_limit_exceeded", "rate_limit_error", "slow down", ErrorKind.RATE_LIMIT),
        (
            "session_expired",
            "invalid_request_error",
            "Your session hit the maximum duration",
            ErrorKind.SESSION_EXPIRED,
        ),
        ("beta_api_shape_disabled", "invalid_request_error", "no beta", ErrorKind.CONFIGURATION),
        ("something_new", "server_error", "hm", ErrorKind.UNKNOWN),
    ],
)
def test_error_classification(code: str | None, etype: str, message: str, kind: ErrorKind) -> None:
    client = ready_client()
    error = {"type": etype, "code": code, "message": message, "param": None}
    [event] = client.receive(frame("error", error=error))
    assert isinstance(event, ServerError) and event.kind is kind


def test_billing_error_says_to_add_credit() -> None:
    client = ready_client()
    error = {"type": "insufficient_quota", "code": "insufficient_quota", "message": "quota"}
    [event] = client.receive(frame("error", error=error))
    assert isinstance(event, ServerError)
    assert "add credit" in str(event.to_exception())
    assert event.to_exception().exit_code == 4


def test_reconnect_resends_committed_but_untranscribed_audio_exactly_once() -> None:
    client = ready_client()
    audio = (bytes(range(256)) * 600)[: 3000 * MS]
    client.append(audio, T0)
    sent(client)
    speech(client, "item_1", None, 100, 900)
    speech(client, "item_2", "item_1", 1200, 2000)
    completed(client, "item_2", "two")  # held: item_1 comes first
    client.connection_lost()
    client.connection_opened()
    client.receive(frame("session.created", session={}))
    [config] = sent(client)
    assert config["session"]["audio"]["input"]["turn_detection"] is None  # VAD off to resend
    client.receive(frame("session.updated", session={}))
    replay = sent(client)
    kinds = [e["type"] for e in replay]
    # item_1's audio, a commit, VAD back on, then the uncommitted tail.
    commit_at = kinds.index("input_audio_buffer.commit", 1)
    assert kinds[commit_at + 1] == "session.update"
    assert (
        replay[commit_at + 1]["session"]["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    )
    resent = b"".join(base64.b64decode(e["audio"]) for e in replay[:commit_at])
    assert resent == audio[100 * MS : 900 * MS]  # exactly item_1, not item_2 (transcribed)
    tail = b"".join(base64.b64decode(e["audio"]) for e in replay[commit_at + 2 :])
    assert tail == audio[2000 * MS :]  # from the end of item_2 to the end of the audio
    client.receive(frame("input_audio_buffer.committed", item_id="item_a", previous_item_id=None))
    released = completed(client, "item_a", "one")
    assert [e.text for e in released] == ["one", "two"]


def test_manual_commit_unacknowledged_at_drop_is_sent_again() -> None:
    client = ready_client(TranscriptionSettings(turn=TurnMode.MANUAL))
    client.append(bytes(500 * MS), T0)
    client.commit()
    sent(client)
    client.connection_lost()
    client.connection_opened()
    client.receive(frame("session.created", session={}))
    client.receive(frame("session.updated", session={}))
    kinds = [e["type"] for e in sent(client)]
    assert kinds == ["session.update", "input_audio_buffer.append", "input_audio_buffer.commit"]


def test_finish_in_server_vad_pads_silence_and_clears_as_a_barrier() -> None:
    client = ready_client()
    client.append(bytes(1000 * MS), T0)
    sent(client)
    client.finish()
    out = sent(client)
    assert out[-1]["type"] == "input_audio_buffer.clear"
    assert not client.finished
    client.receive(frame("input_audio_buffer.cleared"))
    assert client.finished


def test_finish_in_manual_mode_commits_the_tail_and_waits_for_it() -> None:
    client = ready_client(TranscriptionSettings(turn=TurnMode.MANUAL))
    client.append(bytes(1000 * MS), T0)
    client.finish()
    assert [e["type"] for e in sent(client)][-1] == "input_audio_buffer.commit"
    assert not client.finished
    client.receive(frame("input_audio_buffer.committed", item_id="i1", previous_item_id=None))
    assert not client.finished
    [done] = completed(client, "i1", "all of it")
    assert done.text == "all of it" and client.finished


def test_flush_reports_unfinished_utterances_as_failed_in_order() -> None:
    client = ready_client()
    client.append(bytes(3000 * MS), T0)
    sent(client)
    speech(client, "a", None, 0, 900)
    speech(client, "b", "a", 1000, 2000)
    completed(client, "b", "bee")
    events = client.flush("no transcript arrived within 30 s")
    assert isinstance(events[0], TranscriptFailed) and isinstance(events[1], TranscriptCompleted)


def failures(events: list[Any]) -> list[tuple[datetime, str]]:
    return [(e.started_at, e.reason) for e in events if isinstance(e, TranscriptFailed)]


def test_flush_reports_each_turn_the_server_never_acknowledged() -> None:
    """Manual turns committed in an outage: each one is a failure, none disappears silently."""
    client = ready_client(TranscriptionSettings(turn=TurnMode.MANUAL))
    client.append(bytes(1000 * MS), T0)
    assert client.commit()  # sent, never acknowledged
    client.connection_lost()
    client.append(bytes(1500 * MS), T0 + timedelta(seconds=1))
    assert client.commit()  # only marked: no connection
    client.append(bytes(500 * MS), T0 + timedelta(seconds=2.5))
    client.finish()
    events = client.flush("no transcript arrived within 30 s")
    reason = "no transcript arrived within 30 s"
    assert failures(events) == [
        (T0, reason),
        (T0 + timedelta(seconds=1), reason),
        (T0 + timedelta(seconds=2.5), reason),
    ]
    assert client.flush("again") == []  # reported once


def test_flush_in_an_outage_with_server_turns_reports_the_unheard_audio_once() -> None:
    client = ready_client()
    client.append(bytes(800 * MS), T0)
    speech(client, "a", None, 0, 700)
    completed(client, "a", "heard")
    client.connection_lost()
    client.append(bytes(2000 * MS), T0 + timedelta(seconds=0.8))  # never reached the server
    client.finish()  # pads with silence for server VAD: not the user's audio
    events = client.flush("gave up")
    [(began, reason)] = failures(events)
    assert T0 < began <= T0 + timedelta(seconds=0.8) and reason == "gave up"


def test_flush_with_everything_acknowledged_reports_nothing_more() -> None:
    client = ready_client(TranscriptionSettings(turn=TurnMode.MANUAL))
    client.append(bytes(1000 * MS), T0)
    client.finish()
    client.receive(frame("input_audio_buffer.committed", item_id="i1", previous_item_id=None))
    completed(client, "i1", "all of it")
    assert client.flush("gave up") == []


def test_silence_between_utterances_is_not_kept_forever_when_live() -> None:
    client = TranscriptionClient(TranscriptionSettings(), Dialect.GA, today=TODAY, retain_ms=2000)
    client.connection_opened()
    client.receive(frame("session.created", session={}))
    client.receive(frame("session.updated", session={}))
    for _ in range(100):  # 10 s of silence, no speech reported
        client.append(bytes(100 * MS), T0)
    sent(client)
    assert client.buffered_ms <= 2000


def test_speech_started_reports_item() -> None:
    client = ready_client()
    client.append(bytes(1000 * MS), T0)
    sent(client)
    events = client.receive(
        frame("input_audio_buffer.speech_started", item_id="i", audio_start_ms=10)
    )
    assert events == [SpeechStarted("i")]
    assert client.speech_in_progress


def test_malformed_known_event_becomes_a_notice() -> None:
    client = ready_client()
    [event] = client.receive(frame("conversation.item.input_audio_transcription.completed"))
    assert isinstance(event, Notice)


def test_results_for_items_never_committed_are_ignored_with_a_notice() -> None:
    """A completed or failed item this client never committed is not the user's speech: it
    must not be logged as a transcript (a stale connection's, or a forgery)."""
    client = ready_client()
    client.append(bytes(1000 * MS), T0)
    sent(client)
    [done] = client.receive(
        frame(
            "conversation.item.input_audio_transcription.completed",
            item_id="ghost",
            content_index=0,
            transcript="forged words",
        )
    )
    [failed] = client.receive(
        frame(
            "conversation.item.input_audio_transcription.failed",
            item_id="ghost2",
            content_index=0,
            error={"message": "nope"},
        )
    )
    assert isinstance(done, Notice) and "ghost" in done.message
    assert isinstance(failed, Notice) and "ghost2" in failed.message
    speech(client, "i1", None, 0, 900)
    assert completed(client, "i1", "real words")[0].text == "real words"


def test_unknown_events_are_ignored() -> None:
    client = ready_client()
    assert client.receive(frame("rate_limits.updated", rate_limits=[])) == []


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '"text"', "", "{"])
def test_non_object_frames_raise_protocol_error(text: str) -> None:
    client = ready_client()
    with pytest.raises(ProtocolError):
        client.receive(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
event_types = st.sampled_from(
    [
        "session.created",
        "session.updated",
        "transcription_session.created",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "input_audio_buffer.cleared",
        "conversation.item.input_audio_transcription.delta",
        "conversation.item.input_audio_transcription.completed",
        "conversation.item.input_audio_transcription.failed",
        "error",
        "whatever",
    ]
)
field_names = st.sampled_from(
    [
        "item_id",
        "previous_item_id",
        "audio_start_ms",
        "audio_end_ms",
        "delta",
        "transcript",
        "error",
        "session",
        "content_index",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=40),
            st.builds(
                lambda kind, extra: json.dumps({"type": kind, **extra}),
                event_types,
                st.dictionaries(field_names, json_values, max_size=5),
            ),
        ),
        max_size=12,
    )
)
def test_core_never_raises_on_arbitrary_server_text_except_protocol_error(
    frames: list[str],
) -> None:
    client = ready_client()
    client.append(bytes(500 * MS), T0)
    for text in frames:
        with contextlib.suppress(ProtocolError):
            client.receive(text)
        client.take_outgoing()
    client.finish()
    client.flush("gave up")


MODES = [(d, t) for d in (Dialect.GA, Dialect.BETA) for t in TurnMode]
MODES.remove((Dialect.BETA, TurnMode.SEMANTIC))  # refused before connecting (beta has no semantic)


@pytest.mark.parametrize(("dialect", "turn"), MODES)
@pytest.mark.parametrize("extras", [{}, {"logprobs": True, "noise_reduction": NoiseReduction.OFF}])
def test_every_client_event_validates_against_the_sdk(
    dialect: Dialect, turn: TurnMode, extras: dict[str, Any]
) -> None:
    settings = TranscriptionSettings(model="gpt-4o-transcribe", turn=turn, language="en", **extras)
    client = ready_client(settings, dialect)  # validates the session update
    client.append(bytes(500 * MS), T0)
    client.commit()
    client.finish()
    kinds = {event["type"] for event in sent(client, dialect.value)}
    assert "input_audio_buffer.append" in kinds and kinds <= {
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
    }


@pytest.mark.parametrize(
    "settings",
    [
        TranscriptionSettings(
            model="gpt-live-transcribe", keywords=("k8s",), languages=("en", "ko")
        ),
        TranscriptionSettings(model="gpt-realtime-whisper", delay="low"),
        TranscriptionSettings(model="gpt-transcribe", turn=TurnMode.SEMANTIC, eagerness="high"),
    ],
)
def test_ga_only_options_validate_against_the_sdk(settings: TranscriptionSettings) -> None:
    client = TranscriptionClient(settings, Dialect.GA, today=TODAY)
    client.connection_opened()
    client.receive(frame("session.created", session={}))
    [update] = sent(client)
    assert update["session"]["audio"]["input"]["transcription"]["model"] == settings.model


def offline_client(settings: TranscriptionSettings, offline_ms: int) -> TranscriptionClient:
    client = TranscriptionClient(settings, Dialect.GA, today=TODAY, offline_ms=offline_ms)
    client.connection_opened()
    client.receive(frame("session.created", session={"id": "sess_1"}))
    client.receive(frame("session.updated", session={"id": "sess_1"}))
    sent(client)
    return client


def reconnect(client: TranscriptionClient) -> list[dict[str, Any]]:
    """What a new connection is sent after its configuration."""
    client.connection_opened()
    client.receive(frame("session.created", session={}))
    client.receive(frame("session.updated", session={}))
    config, *events = sent(client)
    assert config["type"] == "session.update"
    return events


def test_a_long_outage_keeps_only_the_newest_audio_and_every_committed_turn() -> None:
    client = offline_client(TranscriptionSettings(), offline_ms=1000)
    audio = (bytes(range(256)) * 1200)[: 5000 * MS]
    client.append(audio[: 1000 * MS], T0)
    sent(client)
    speech(client, "item_1", None, 100, 900)  # committed, not yet transcribed
    client.connection_lost()
    for second in range(1, 5):  # four seconds captured with the network down
        client.append(audio[second * 1000 * MS : (second + 1) * 1000 * MS], T0)
    assert client.dropped_ms == 3100  # from the end of item_1 (0.9 s) to the newest second (4 s)
    # In memory: item_1 (with the rest of the block it is in) and the newest second.
    assert client.buffered_ms == 1000 + 1000
    replay = reconnect(client)
    commit_at = [e["type"] for e in replay].index("input_audio_buffer.commit")
    resent = b"".join(base64.b64decode(e["audio"]) for e in replay[:commit_at])
    assert resent == audio[100 * MS : 900 * MS]  # the committed turn is never dropped
    tail = b"".join(base64.b64decode(e["audio"]) for e in replay[commit_at + 2 :])
    assert tail == audio[4000 * MS :]


def test_a_long_outage_drops_manual_turns_that_ended_in_the_dropped_audio() -> None:
    client = offline_client(TranscriptionSettings(turn=TurnMode.MANUAL), offline_ms=1000)
    client.connection_lost()
    client.append(bytes([1]) * (500 * MS), T0)
    assert client.commit()  # this turn's audio is dropped below: its commit must go too
    client.append(bytes([2]) * (2000 * MS), T0)
    assert client.commit()
    assert client.dropped_ms == 1500
    replay = reconnect(client)
    assert [e["type"] for e in replay] == ["input_audio_buffer.append", "input_audio_buffer.commit"]
    assert base64.b64decode(replay[0]["audio"]) == bytes([2]) * (1000 * MS)


def test_without_an_offline_limit_nothing_is_dropped_during_an_outage() -> None:
    client = ready_client()
    client.connection_lost()
    client.append(bytes(10_000 * MS), T0)
    assert client.dropped_ms == 0 and client.buffered_ms == 10_000


def test_failed_item_is_told_once_as_a_span_for_the_spool_and_settled_past() -> None:
    client = ready_client()
    client.append(bytes(2000 * MS), T0)
    sent(client)
    speech(client, "item_1", None, 100, 800)
    assert client.settled_offset <= 100 * MS  # committed, not transcribed: still needed
    client.receive(
        frame(
            "conversation.item.input_audio_transcription.failed",
            item_id="item_1",
            content_index=0,
            error={"type": "insufficient_quota", "code": None, "message": "quota", "param": None},
        )
    )
    assert client.take_failed_spans() == [(100 * MS, 800 * MS, "quota")]
    assert client.take_failed_spans() == []
    assert client.settled_offset >= 800 * MS


def test_completed_item_is_settled_without_a_failed_span() -> None:
    client = ready_client()
    client.append(bytes(2000 * MS), T0)
    sent(client)
    speech(client, "item_1", None, 100, 800)
    completed(client, "item_1", "hello")
    assert client.settled_offset >= 800 * MS
    assert client.take_failed_spans() == []


def test_a_long_outage_is_one_failed_span_however_many_chunks_it_drops() -> None:
    client = offline_client(TranscriptionSettings(), offline_ms=1000)
    client.append(bytes(1000 * MS), T0)
    sent(client)
    speech(client, "item_1", None, 100, 900)
    client.connection_lost()
    for _ in range(4 * 25):  # four seconds of 40 ms chunks with the network down
        client.append(bytes(40 * MS), T0)
    assert client.take_failed_spans() == [(900 * MS, 4000 * MS, "the connection was down too long")]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ({"type": "insufficient_quota", "code": "insufficient_quota", "message": "No."}, "billing"),
        ({"type": "server_error", "code": None, "message": "429 Too Many Requests"}, "billing"),
        ({"type": "x", "code": None, "message": "You exceeded your current quota."}, "billing"),
        ({"type": "x", "code": "rate_limit_exceeded", "message": "429: slow down"}, "rate_limit"),
        ({"type": "server_error", "code": None, "message": "Input transcription failed"}, "item"),
    ],
)
def test_failed_item_carries_a_typed_kind_and_its_place_in_the_input(
    error: dict[str, Any], kind: str
) -> None:
    """No credit is recognised from the item failure itself (docs/protocol.md, "Errors")."""
    client = ready_client()
    client.append(bytes(2000 * MS), T0)
    speech(client, "a", None, 500, 1500)
    [failed] = client.receive(
        frame(
            "conversation.item.input_audio_transcription.failed",
            item_id="a",
            content_index=0,
            error={**error, "param": None},
        )
    )
    assert isinstance(failed, TranscriptFailed)
    assert failed.kind is ErrorKind(kind)
    assert (failed.audio_start_ms, failed.audio_end_ms) == (500, 1500)


def test_backlog_sent_after_an_outage_is_not_trimmed_as_silence_before_the_server_hears_it() -> (
    None
):
    """Speech captured in an outage keeps its capture time when the server reports it late."""
    client = TranscriptionClient(TranscriptionSettings(), Dialect.GA, today=TODAY, retain_ms=2000)
    client.connection_opened()
    client.append(bytes(6000 * MS), T0)  # captured while no connection was ready
    client.receive(frame("session.created", session={}))
    client.receive(frame("session.updated", session={}))  # the backlog goes out at once
    sent(client)
    assert client.buffered_ms >= 6000
    speech(client, "a", None, 1000, 2000)
    [done] = completed(client, "a", "late")
    assert done.started_at == T0 + timedelta(seconds=1)
