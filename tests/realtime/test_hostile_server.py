"""A hostile server: garbage, binary and huge frames, control characters, ghost items, events
out of any order, closes at every point. The session must not crash, hang, lose or duplicate a
transcript, or let server text control the terminal or forge log lines."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.realtime.test_session import Collector, chunks_of, tone_bursts
from tests.support.realtime_server import RealtimeServer
from tests.support.realtime_server.connection import RealtimeSession
from tests.support.realtime_server.records import ItemRecord
from tray_stt.errors import TraySttError
from tray_stt.realtime.endpoint import Endpoint
from tray_stt.realtime.events import Notice, TranscriptCompleted, TranscriptFailed
from tray_stt.realtime.models import TranscriptionSettings
from tray_stt.realtime.session import Session, SessionOptions
from tray_stt.realtime.transport import MAX_MESSAGE_BYTES
from tray_stt.transcripts import DailyLog, log_first

Hook = Callable[[RealtimeSession, ItemRecord], bool]
COMPLETED = "conversation.item.input_audio_transcription.completed"
LINE = re.compile(r"\d\d:\d\d:\d\d  [^\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]+")
SCRIPT = ["one", "two", "three"]
BOUND_S = 30  # generous: tells "returned" from "hung"


def event(kind: str, **fields: object) -> str:
    return json.dumps({"type": kind, "event_id": "event_evil", **fields})


def then_complete(*frames: str | bytes) -> Hook:
    """Send ``frames`` as they are, then let the real completion follow."""

    def hook(conn: RealtimeSession, item: ItemRecord) -> bool:
        for frame in frames:
            conn.send_raw(frame)
        return False

    return hook


def forged_completion(text: str) -> Hook:
    """Complete the real item with ``text`` (the server's own completion is not sent)."""

    def hook(conn: RealtimeSession, item: ItemRecord) -> bool:
        conn.send_raw(event(COMPLETED, item_id=item.item_id, content_index=0, transcript=text))
        return True

    return hook


def huge(fragments: int) -> Hook:
    """A message just over the limit, in one frame or in fragments, instead of the completion."""
    size = MAX_MESSAGE_BYTES + 1

    def hook(conn: RealtimeSession, item: ItemRecord) -> bool:
        body = event(COMPLETED, item_id=item.item_id, content_index=0, transcript="x" * size)
        if fragments == 1:
            conn.send_raw(body)
        else:
            step = len(body) // fragments + 1
            conn.ws.send([body[i : i + step] for i in range(0, len(body), step)])
        return True

    return hook


def close(code: int | None) -> Hook:
    """End the connection after the commit: a close frame with ``code``, or TCP dropped."""

    def hook(conn: RealtimeSession, item: ItemRecord) -> bool:
        if code is None:
            conn.drop()
        else:
            conn.closed = True
            conn.ws.close(code, "hostile")
        return True

    return hook


GHOST = event(COMPLETED, item_id="item_ghost", content_index=0, transcript="not yours")
OUT_OF_ORDER = [
    event("session.created", session={"id": "sess_evil"}),
    event("input_audio_buffer.speech_stopped", item_id="item_zz", audio_end_ms=99999),
    event("input_audio_buffer.committed", item_id="item_zz", previous_item_id="item_nope"),
    event("conversation.item.input_audio_transcription.delta", item_id="item_q", delta="\x1b[2J"),
    event(
        "conversation.item.input_audio_transcription.failed",
        item_id="item_q",
        content_index=0,
        error={"type": "server_error", "message": "\x1b]0;title\x07"},
    ),
    event("input_audio_buffer.cleared"),
    event("session.updated", session={"id": "sess_evil"}),
]
HOOKS: dict[str, Hook] = {
    "garbage": then_complete("not json {", "", "{" * 100_000, "[1, 2]", "null", '"text"'),
    "binary": then_complete(b"\xff\xfe\x00garbage", b'{"type": "session.updated"}'),
    "malformed": then_complete(
        event(COMPLETED, item_id=None, transcript=5), event("error", error="nope")
    ),
    "ghost": then_complete(GHOST),
    "out_of_order": then_complete(*OUT_OF_ORDER),
    "controls": forged_completion("\x1b[2J\x1b[H\rhello\r\n09:00:00  forged\x1b]0;x\x07\u202e"),
    "huge": huge(1),
    "huge_fragmented": huge(8),
    "close_1000": close(1000),
    "close_1011": close(1011),
    "close_4999": close(4999),
    "drop": close(None),
}


FORGING = {HOOKS["out_of_order"], HOOKS["controls"]}  # commit or complete on their own


def run_session(server: RealtimeServer, log_dir: Path, bursts: int) -> tuple[Collector, Path]:
    """A session with a daily log, as the console runs it; fails the test if it hangs."""
    collector = Collector()
    log = DailyLog(log_dir)

    def on_event(ev: object) -> None:
        collector(ev)  # type: ignore[arg-type]
        if isinstance(ev, TranscriptCompleted):
            log_first(log, ev.text, ev.started_at, collector, collector)  # type: ignore[arg-type]

    session = Session(
        Endpoint(server.url, "test-key"),
        TranscriptionSettings(),
        on_event,
        options=SessionOptions(
            final_wait_s=3, backoff_s=0.01, backoff_max_s=0.05, connect_timeout_s=5
        ),
        today=date(2026, 11, 23),
    )
    errors: list[BaseException] = []

    def run() -> None:
        try:
            session.run(chunks_of(tone_bursts(bursts)), wait_ready=True)
        except TraySttError as exc:  # reported to the user: allowed
            errors.append(exc)
        except BaseException as exc:  # noqa: BLE001 - a crash is what the test looks for
            errors.append(AssertionError(f"crashed: {exc!r}"))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(BOUND_S)
    assert not worker.is_alive(), "the session hung"
    log.close()
    crashes = [e for e in errors if isinstance(e, AssertionError)]
    assert not crashes, crashes
    collector.events.extend(errors)  # type: ignore[arg-type]
    return collector, log.path_for(date.today())


def check_invariants(collector: Collector, log_path: Path, bursts: int | None) -> None:
    """Each utterance completed once or reported; every log line whole and clean.

    ``bursts`` None: the server invented commits, which can join utterances (their audio is
    still transcribed once, as one), so only the rest is checked.
    """
    completed = [e for e in collector.events if isinstance(e, TranscriptCompleted)]
    failed = [e for e in collector.events if isinstance(e, TranscriptFailed)]
    fatal = [e for e in collector.events if isinstance(e, TraySttError)]
    assert len({e.item_id for e in completed}) == len(completed), "a transcript came twice"
    texts = [e.text for e in completed]
    assert all(texts.count(t) <= 1 for t in SCRIPT), texts
    # Every utterance spoken is completed or reported; a commit the server invents (it cannot
    # be told from a VAD commit) is reported as failed, never printed as words.
    assert bursts is None or len(completed) + len(failed) >= bursts or fatal
    for ev in completed:
        assert not re.search(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", ev.text)
    lines = []
    for path in log_path.parent.glob("*.txt"):
        data = path.read_bytes()
        assert data == b"" or data.endswith(b"\n")
        lines += data.decode("utf-8").splitlines()
    assert all(LINE.fullmatch(line) for line in lines), lines
    assert len(lines) == sum(1 for e in completed if e.text.strip())


@pytest.mark.parametrize("behaviour", list(HOOKS))
def test_hostile_server_first_connection(behaviour: str, tmp_path: Path) -> None:
    transcripts = SCRIPT[:2]
    with RealtimeServer(transcripts=transcripts, before_completion=[HOOKS[behaviour]]) as server:
        collector, log_path = run_session(server, tmp_path, 2)
    check_invariants(collector, log_path, 2)
    texts = collector.texts
    if behaviour == "controls":
        assert texts == [" hello 09:00:00  forged"] * 2  # every item on that connection
        assert log_path.read_text().splitlines()[0].endswith("  hello 09:00:00  forged")
    else:
        assert texts == transcripts  # nothing lost, nothing twice, nothing forged
    notices = [e.message for e in collector.events if isinstance(e, Notice)]
    if behaviour in ("garbage", "binary"):
        assert any("not JSON" in n for n in notices)
    if behaviour == "ghost":
        assert any("item_ghost" in n for n in notices)
    if behaviour.startswith("huge"):
        assert any(f"over the limit of {MAX_MESSAGE_BYTES:,}" in n for n in notices)


def test_hostile_server_huge_frame_closes_and_its_audio_is_resent(tmp_path: Path) -> None:
    with RealtimeServer(transcripts=["one"], before_completion=[huge(1)]) as server:
        collector, _ = run_session(server, tmp_path, 1)
        first = server.connections[0]
    assert collector.texts == ["one"]
    assert len(server.connections) == 2  # the first connection's audio was sent again
    assert first.close_code in (None, 1009)


BEHAVIOURS = st.lists(st.sampled_from([None, *HOOKS.values()]), min_size=0, max_size=4)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    behaviours=BEHAVIOURS,
    drops=st.lists(st.one_of(st.none(), st.integers(0, 2500)), max_size=3),
    out_of_order=st.booleans(),
)
def test_hostile_server_property_session_invariants(
    tmp_path_factory: pytest.TempPathFactory,
    behaviours: list[Hook | None],
    drops: list[int | None],
    out_of_order: bool,
) -> None:
    """Arbitrary misbehaviour per connection, through the whole session shell."""
    log_dir = tmp_path_factory.mktemp("log")
    with RealtimeServer(
        transcripts=SCRIPT,
        before_completion=behaviours,
        drop_after_ms=drops,
        out_of_order=out_of_order,
        out_of_order_hold_s=0.2,
    ) as server:
        collector, log_path = run_session(server, log_dir, 3)
    forged = any(b in FORGING for b in behaviours)
    check_invariants(collector, log_path, None if forged else 3)


def scripted_frames() -> list[str]:
    """One whole utterance as the server tells it, frame by frame (docs/protocol.md, "Server
    events")."""
    item = {"item_id": "item_a"}
    return [
        event("session.created", session={"id": "sess_a"}),
        event("session.updated", session={"id": "sess_a"}),
        event("input_audio_buffer.speech_started", audio_start_ms=300, **item),
        event("input_audio_buffer.speech_stopped", audio_end_ms=900, **item),
        event("input_audio_buffer.committed", previous_item_id=None, **item),
        event("conversation.item.input_audio_transcription.delta", delta="hel", **item),
        event(COMPLETED, content_index=0, transcript="hello", **item),
    ]


def _read_until(ws: object, done: Callable[[str | bytes], bool]) -> None:
    for message in ws:  # type: ignore[attr-defined]
        if done(message):
            return


class ScriptedServer:
    """Connection k sends the first ``cut[k]`` frames of the script, then closes; once the
    cuts are used up, connections play the whole script and answer the end-of-input barrier."""

    def __init__(self, cuts: list[int], drop: bool) -> None:
        from websockets.sync.server import serve

        self.cuts, self.drop, self.connections = cuts, drop, 0
        self._server = serve(self._handle, "127.0.0.1", 0, max_queue=None)  # never backpressure
        self.url = f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/v1/realtime"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _handle(self, ws: object) -> None:
        import socket

        from websockets.exceptions import ConnectionClosed

        index, self.connections = self.connections, self.connections + 1
        frames = scripted_frames()
        cut = self.cuts[index] if index < len(self.cuts) else len(frames)
        audio_ms = 0

        def heard(message: str | bytes) -> bool:
            nonlocal audio_ms
            if '"input_audio_buffer.append"' in str(message):
                audio_ms += len(json.loads(message)["audio"]) * 3 // 4 // 48
            return audio_ms >= 1000

        try:
            for number, frame in enumerate(frames[:cut]):
                if number == 1:  # session.updated answers the client's session.update
                    _read_until(ws, lambda m: '"session.update"' in str(m))
                if number == 2:  # speech is reported in audio the client has sent
                    _read_until(ws, heard)
                ws.send(frame)  # type: ignore[attr-defined]
            if cut < len(frames):
                if self.drop:
                    ws.socket.shutdown(socket.SHUT_RDWR)  # type: ignore[attr-defined]
                else:
                    ws.close(1011, "cut")  # type: ignore[attr-defined]
                return
            for message in ws:  # type: ignore[attr-defined]
                if '"input_audio_buffer.clear"' in message:
                    ws.send(event("input_audio_buffer.cleared"))  # type: ignore[attr-defined]
        except (ConnectionClosed, OSError):
            pass

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()


@pytest.mark.parametrize("drop", [False, True], ids=["close_frame", "tcp_drop"])
@pytest.mark.parametrize("cut", range(len(scripted_frames())))
def test_hostile_server_closes_at_every_point(cut: int, drop: bool, tmp_path: Path) -> None:
    with ScriptedServer([cut], drop) as server:
        collector, log_path = run_session(server, tmp_path, 1)  # type: ignore[arg-type]
    check_invariants(collector, log_path, 1)
    assert collector.texts.count("hello") <= 1
    assert server.connections >= 2
