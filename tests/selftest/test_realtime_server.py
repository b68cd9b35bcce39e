"""Tests of the loopback realtime server (tests/support/realtime_server/) with a raw client."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import pytest
from websockets.exceptions import ConnectionClosed

from tests.support.realtime_server import RealtimeServer
from tests.support.realtime_server.client import (
    AUTH,
    COMPLETED,
    DELTA,
    FAILED,
    Client,
    ga_update,
    silence,
    tone,
)


@pytest.fixture
def make_client() -> Iterator[Callable[..., Client]]:
    clients: list[Client] = []

    def make(url: str, headers: dict[str, str] | None = None) -> Client:
        clients.append(Client(url, headers))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def item_ids_in_order(client: Client) -> list[str]:
    return [e["item_id"] for e in client.of_type("input_audio_buffer.committed")]


# ---------------------------------------------------------------------------- handshake
def test_ga_handshake_and_update(make_client: Callable[..., Client]) -> None:
    with RealtimeServer() as server:
        assert server.url == f"ws://127.0.0.1:{server.port}/v1/realtime?intent=transcription"
        client = make_client(server.url, {**AUTH, "OpenAI-Log-Session": "1"})
        created = client.wait_type("session.created")[0]
        session = created["session"]
        assert session["audio"]["input"]["transcription"] is None
        assert session["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 200
        assert abs(session["expires_at"] - (time.time() + 3600)) < 60
        assert created["event_id"].startswith("event_") and session["id"].startswith("sess_")
        client.send(ga_update("gpt-4o-mini-transcribe", noise_reduction={"type": "near_field"}))
        updated = client.wait_type("session.updated")[0]["session"]["audio"]["input"]
        assert updated["transcription"] == {
            "model": "gpt-4o-mini-transcribe",
            "language": None,
            "prompt": None,
        }
        assert updated["noise_reduction"] == {"type": "near_field", "strength": 1.0}
        rec = server.connections[0]
        assert rec.headers["authorization"] == "Bearer test-key"
        assert rec.headers["openai-log-session"] == "1"
        assert rec.path == "/v1/realtime?intent=transcription"
        assert [e["type"] for e in rec.client_events] == ["session.update"]
        assert server.violations == []


def test_beta_handshake_update_and_vad(make_client: Callable[..., Client]) -> None:
    with RealtimeServer(dialect="beta", transcripts=["beta words"]) as server:
        client = make_client(server.url, {"api-key": "test-key", "OpenAI-Beta": "realtime=v1"})
        assert (
            client.wait_type("transcription_session.created")[0]["session"]["input_audio_format"]
            == "pcm16"
        )
        client.send(
            {
                "type": "transcription_session.update",
                "session": {
                    "input_audio_transcription": {"model": "gpt-4o-transcribe"},
                    "include": [],
                },
            }
        )
        session = client.wait_type("transcription_session.updated")[0]["session"]
        assert session["input_audio_transcription"]["model"] == "gpt-4o-transcribe"
        client.append(silence(200) + tone(400) + silence(600))
        assert client.wait_type(COMPLETED)[0]["transcript"] == "beta words"
        types = [e["type"] for e in client.events]
        assert "conversation.item.created" in types and "conversation.item.added" not in types
        assert server.violations == []


@pytest.mark.parametrize(
    ("headers", "code", "reason"),
    [
        ({}, None, "invalid_request_error"),
        (
            {"Authorization": "Bearer wrong-key"},
            "invalid_api_key",
            "invalid_request_error.invalid_api_key",
        ),
    ],
)
def test_auth_failure_closes_3000(
    make_client: Callable[..., Client], headers: dict[str, str], code: str | None, reason: str
) -> None:
    with RealtimeServer() as server:
        client = make_client(server.url, headers)
        client.wait_closed()
        assert [e["type"] for e in client.events] == ["error"]
        assert client.events[0]["error"]["code"] == code
        assert (client.ws.close_code, client.ws.close_reason) == (3000, reason)
        assert server.violations == []


def test_beta_header_on_ga_closes_4000(make_client: Callable[..., Client]) -> None:
    with RealtimeServer() as server:
        client = make_client(server.url, {**AUTH, "OpenAI-Beta": "realtime=v1"})
        client.wait_closed()
        assert client.events[0]["error"]["code"] == "beta_api_shape_disabled"
        assert client.ws.close_code == 4000
        assert client.ws.close_reason == "invalid_request_error.beta_api_shape_disabled"


def test_beta_update_on_ga_is_a_nonfatal_error(make_client: Callable[..., Client]) -> None:
    with RealtimeServer() as server:
        client = make_client(server.url)
        client.send({"type": "transcription_session.update", "event_id": "ev1", "session": {}})
        error = client.wait_type("error")[0]["error"]
        assert (error["code"], error["param"], error["event_id"]) == (
            "invalid_value",
            "type",
            "ev1",
        )
        client.send({"type": "input_audio_buffer.clear"})
        client.wait_type("input_audio_buffer.cleared")
        assert (
            len(server.violations) == 1 and "transcription_session.update" in server.violations[0]
        )


def test_fatal_on_connect(make_client: Callable[..., Client]) -> None:
    quota = ("insufficient_quota", "insufficient_quota", "You exceeded your current quota.")
    with RealtimeServer(fatal_on_connect=[quota, None]) as server:
        first = make_client(server.url)
        first.wait_closed()
        assert [e["type"] for e in first.events] == ["session.created", "error"]
        assert first.ws.close_code == 1008
        second = make_client(server.url)
        second.wait_type("session.created")
        assert not second.closed.wait(0.1)
        assert server.violations == []


# ---------------------------------------------------------------------------- session.update
def test_update_errors_are_atomic(make_client: Callable[..., Client]) -> None:
    with RealtimeServer() as server:
        client = make_client(server.url)
        bad_rate = ga_update("whisper-1", format={"type": "audio/pcm", "rate": 16000})
        client.send(bad_rate)
        unknown = {
            "type": "session.update",
            "session": {"type": "transcription", "input_audio_format": "pcm16"},
        }
        client.send(unknown)
        client.send(ga_update("gpt-live-transcribe"))  # VAD still on from session.created
        errors = [e["error"] for e in client.wait_type("error", 3)]
        assert [(e["code"], e["param"]) for e in errors[:2]] == [
            ("integer_below_min_value", "session.audio.input.format.rate"),
            ("unknown_parameter", "session.input_audio_format"),
        ]
        assert (
            errors[2]["message"] == "Turn detection is not supported for this transcription model"
        )
        client.send(ga_update("gpt-live-transcribe", turn_detection=None))
        session = client.wait_type("session.updated")[0]["session"]["audio"]["input"]
        assert session["turn_detection"] is None
        assert session["transcription"]["model"] == "gpt-live-transcribe"
        assert len(client.of_type("session.updated")) == 1  # nothing applied from the bad ones
        assert len(server.violations) == 2  # the SDK models reject rate 16000 and the unknown key


def test_bad_frames_get_nonfatal_errors(make_client: Callable[..., Client]) -> None:
    with RealtimeServer() as server:
        client = make_client(server.url)
        client.ws.send("{not json")
        client.ws.send(b"\x00\x01")
        client.send({"event_id": "x"})
        codes = [e["error"]["code"] for e in client.wait_type("error", 3)]
        assert codes == ["invalid_json", "invalid_event", "invalid_event"]
        assert server.connections[0].raw_frames == ["{not json", b"\x00\x01"]
        assert len(server.violations) == 3


# ---------------------------------------------------------------------------- audio and items
def test_server_vad_full_sequence(make_client: Callable[..., Client]) -> None:
    with RealtimeServer(transcripts=["hello there world", "second"]) as server:
        client = make_client(server.url)
        client.send(ga_update("gpt-4o-transcribe"))
        client.append(silence(400) + tone(500) + silence(400) + tone(300) + silence(300))
        completed = client.wait_type(COMPLETED, 2)
        starts = client.of_type("input_audio_buffer.speech_started")
        stops = client.of_type("input_audio_buffer.speech_stopped")
        assert [e["audio_start_ms"] for e in starts] == [100, 1000]  # onset 400 / 1300 - 300 ms
        assert [e["audio_end_ms"] for e in stops] == [1100, 1800]  # speech end + 200 ms silence
        first, second = item_ids_in_order(client)
        assert [e["item_id"] for e in starts] == [first, second]
        committed = client.of_type("input_audio_buffer.committed")
        assert [e["previous_item_id"] for e in committed] == [None, first]
        types = [
            e["type"]
            for e in client.events
            if e.get("item_id", e.get("item", {}).get("id")) == first
        ]
        assert types[:5] == [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "conversation.item.added",
            "conversation.item.done",
        ]
        assert types[-1] == COMPLETED
        deltas = [e["delta"] for e in client.of_type(DELTA) if e["item_id"] == first]
        assert deltas == ["hello", " there", " world"]
        assert [e["transcript"] for e in completed] == ["hello there world", "second"]
        assert completed[0]["usage"]["type"] == "tokens"
        items = server.connections[0].items
        assert [len(i.audio) // 48 for i in items] == [1100, 700]
        assert [(i.script_index, i.transcript, i.via) for i in items] == [
            (0, "hello there world", "vad"),
            (1, "second", "vad"),
        ]
        assert server.delivered == ["hello there world", "second"]
        assert server.violations == []


def test_manual_commit_clear_and_commit_empty(make_client: Callable[..., Client]) -> None:
    with RealtimeServer(transcripts=["only one"]) as server:
        client = make_client(server.url)
        client.send(ga_update("whisper-1", turn_detection=None))
        client.wait_type("session.updated")
        client.append(tone(50))
        client.send({"type": "input_audio_buffer.commit", "event_id": "c1"})
        error = client.wait_type("error")[0]["error"]
        assert error["code"] == "input_audio_buffer_commit_empty"
        assert error["event_id"] == "c1" and "buffer only has 50.00ms" in error["message"]
        client.send({"type": "input_audio_buffer.clear"})
        client.append(tone(300) + silence(100))
        client.send({"type": "input_audio_buffer.commit"})
        completed = client.wait_type(COMPLETED)[0]
        assert [e["delta"] for e in client.of_type(DELTA)] == ["only one"]  # whisper-1: one delta
        assert completed["transcript"] == "only one"
        assert client.of_type("input_audio_buffer.speech_started") == []
        assert len(client.of_type("input_audio_buffer.cleared")) == 1
        assert len(client.of_type("input_audio_buffer.committed")) == 1
        assert len(server.connections[0].items[0].audio) == 48 * 400
        assert server.violations == []


def test_client_commit_during_vad_speech_uses_vad_item(make_client: Callable[..., Client]) -> None:
    with RealtimeServer(transcripts=["cut short"]) as server:
        client = make_client(server.url)
        client.send(ga_update("gpt-4o-transcribe"))
        client.append(tone(300))
        started = client.wait_type("input_audio_buffer.speech_started")[0]
        client.send({"type": "input_audio_buffer.commit"})
        client.wait_type(COMPLETED)
        assert item_ids_in_order(client) == [started["item_id"]]
        assert client.of_type("input_audio_buffer.speech_stopped") == []
        assert server.violations == []


def test_semantic_vad_waits_500_ms_of_silence(make_client: Callable[..., Client]) -> None:
    with RealtimeServer(transcripts=["semantic"]) as server:
        client = make_client(server.url)
        client.send(ga_update("gpt-4o-transcribe", turn_detection={"type": "semantic_vad"}))
        client.append(tone(300) + silence(400))
        client.wait_type("input_audio_buffer.speech_started")
        time.sleep(0.05)
        assert client.of_type("input_audio_buffer.speech_stopped") == []
        client.append(silence(200))
        assert client.wait_type("input_audio_buffer.speech_stopped")[0]["audio_end_ms"] == 800
        assert client.wait_type(COMPLETED)[0]["transcript"] == "semantic"
        assert server.violations == []


def test_transcription_null_commits_without_transcripts(make_client: Callable[..., Client]) -> None:
    with RealtimeServer(transcripts=["never"]) as server:
        client = make_client(server.url)
        client.append(silence(100) + tone(300) + silence(400))
        client.wait_type("conversation.item.done")
        time.sleep(0.1)
        assert client.of_type(DELTA) == client.of_type(COMPLETED) == []
        assert server.delivered == [] and server.connections[0].items[0].script_index is None


def test_streaming_model_deltas_before_commit(make_client: Callable[..., Client]) -> None:
    with RealtimeServer(transcripts=["one two three four"]) as server:
        client = make_client(server.url)
        client.send(ga_update("gpt-live-transcribe", turn_detection=None))
        client.wait_type("session.updated")
        client.append(tone(700))
        early = client.wait_type(DELTA, 3)
        time.sleep(0.05)
        assert client.of_type("input_audio_buffer.committed") == []
        client.send({"type": "input_audio_buffer.commit"})
        completed = client.wait_type(COMPLETED)[0]
        committed = client.of_type("input_audio_buffer.committed")[0]
        assert {e["item_id"] for e in early} == {committed["item_id"]}
        assert "".join(e["delta"] for e in client.of_type(DELTA)) == completed["transcript"]
        assert completed["transcript"] == "one two three four"
        assert server.violations == []


def test_out_of_order_completions(make_client: Callable[..., Client]) -> None:
    with RealtimeServer(transcripts=["a", "b", "c", "d"], out_of_order=True) as server:
        client = make_client(server.url)
        client.send(ga_update("gpt-4o-transcribe", turn_detection=None))
        for _ in range(4):
            client.append(tone(200))
            client.send({"type": "input_audio_buffer.commit"})
        completed = client.wait_type(COMPLETED, 4)
        ids = item_ids_in_order(client)
        assert [e["item_id"] for e in completed] == [ids[1], ids[0], ids[3], ids[2]]
        assert [e["transcript"] for e in completed] == ["b", "a", "d", "c"]
        assert server.delivered == ["b", "a", "d", "c"]
        assert server.violations == []


def test_item_failure(make_client: Callable[..., Client]) -> None:
    failure = ("server_error", "Input transcription failed for item '{item_id}'.")
    with RealtimeServer(transcripts=["ok", "bad", "fine"], fail_items={1: failure}) as server:
        client = make_client(server.url)
        client.send(ga_update("gpt-4o-transcribe", turn_detection=None))
        for _ in range(3):
            client.append(tone(200))
            client.send({"type": "input_audio_buffer.commit"})
        client.wait_type(COMPLETED, 2)
        failed = client.wait_type(FAILED)[0]
        assert failed["item_id"] == item_ids_in_order(client)[1]
        assert (
            failed["error"]["message"]
            == f"Input transcription failed for item '{failed['item_id']}'."
        )
        assert server.delivered == ["ok", "fine"] and server.delivered_indices == {0, 1, 2}
        assert server.violations == []


def test_callable_transcriber_gets_item_audio(make_client: Callable[..., Client]) -> None:
    with RealtimeServer(transcripts=lambda pcm: f"{len(pcm) // 48} ms") as server:
        client = make_client(server.url)
        update = ga_update("gpt-4o-transcribe", turn_detection=None)
        update["session"]["include"] = ["item.input_audio_transcription.logprobs"]
        client.send(update)
        client.append(tone(250))
        client.send({"type": "input_audio_buffer.commit"})
        completed = client.wait_type(COMPLETED)[0]
        assert completed["transcript"] == "250 ms"
        assert [p["token"] for p in completed["logprobs"]] == ["250", " ms"]
        assert server.violations == []


# ---------------------------------------------------------------------------- faults
def test_drop_after_ms_closes_without_close_frame(make_client: Callable[..., Client]) -> None:
    with RealtimeServer(drop_after_ms=[300]) as server:
        client = make_client(server.url)
        with contextlib.suppress(ConnectionClosed):  # the drop may race our sends
            client.append(silence(500))
        client.wait_closed()
        assert client.ws.protocol.close_rcvd is None  # abnormal closure, no close frame
        assert client.ws.close_code == 1006
        assert server.connections[0].dropped
        assert server.violations == []


def test_session_expiry_closes_1001(make_client: Callable[..., Client]) -> None:
    with RealtimeServer(session_max_s=0.1) as server:
        client = make_client(server.url)
        client.wait_closed()
        error = client.of_type("error")[0]["error"]
        assert error["code"] == "session_expired"
        assert client.ws.close_code == 1001
        assert client.ws.close_reason == "Your session hit the maximum duration of 60 minutes."
        assert server.violations == []


def test_delivered_indices_across_reconnect(make_client: Callable[..., Client]) -> None:
    script = ["first", "second", "third"]
    with RealtimeServer(transcripts=script, drop_before_completion=[[1]]) as server:
        first = make_client(server.url)
        first.send(ga_update("gpt-4o-transcribe", turn_detection=None))
        first.append(tone(200))
        first.send({"type": "input_audio_buffer.commit"})
        first.wait_type(COMPLETED)
        first.append(tone(200))
        first.send({"type": "input_audio_buffer.commit"})  # committed, then dropped
        first.wait_closed()
        assert server.connections[0].dropped
        assert len(first.of_type("input_audio_buffer.committed")) == 2
        # the client re-sends the unfinished utterance: it gets transcript 2 again
        second = make_client(server.url)
        second.send(ga_update("gpt-4o-transcribe", turn_detection=None))
        for _ in range(2):
            second.append(tone(200))
            second.send({"type": "input_audio_buffer.commit"})
        assert [e["transcript"] for e in second.wait_type(COMPLETED, 2)] == ["second", "third"]
        assert server.delivered == script
        # past the end of the script
        third = make_client(server.url)
        third.send(ga_update("gpt-4o-transcribe", turn_detection=None))
        third.append(tone(200))
        third.send({"type": "input_audio_buffer.commit"})
        assert third.wait_type(COMPLETED)[0]["transcript"] == "utterance 4"
        assert server.violations == []


def test_resending_a_delivered_utterance_shifts_the_script(
    make_client: Callable[..., Client],
) -> None:
    with RealtimeServer(transcripts=["first", "second"]) as server:
        first = make_client(server.url)
        first.send(ga_update("gpt-4o-transcribe", turn_detection=None))
        first.append(tone(200))
        first.send({"type": "input_audio_buffer.commit"})
        first.wait_type(COMPLETED)
        first.close()
        second = make_client(server.url)
        second.send(ga_update("gpt-4o-transcribe", turn_detection=None))
        second.append(tone(200))  # wrongly re-sent: the server hands out the next script entry
        second.send({"type": "input_audio_buffer.commit"})
        assert second.wait_type(COMPLETED)[0]["transcript"] == "second"
        assert server.violations == []
