"""A loopback WebSocket server imitating the OpenAI Realtime API in transcription mode.

Threaded (``websockets.sync``), on 127.0.0.1 and a free port::

    with RealtimeServer(transcripts=["hello there", "second one"]) as server:
        client = connect(server.url, headers={"Authorization": "Bearer test-key"})
        ...
        server.wait_for(lambda: len(server.delivered) == 2)
        assert server.violations == []

Protocol reference: docs/protocol.md; this server: docs/testing.md, "The loopback realtime server".
The per-connection logic is in connection.py, session config in session_config.py, VAD in vad.py.

Script rule ("exactly once" across reconnects): the server keeps the set of delivered script
indices (an item whose ``completed`` or ``failed`` event was sent). On each connection the i-th
committed non-empty item gets the i-th smallest index not delivered when that connection opened.
"Non-empty" means the committed audio has a 20 ms frame louder than the VAD threshold (with a
callable ``transcripts`` every transcribed item counts). Silent items complete with ``""`` and
no index. With ``transcription`` null, commits succeed but nothing is transcribed.
"""

from __future__ import annotations

import random
import string
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from tests.support.realtime_server.connection import RealtimeSession
from tests.support.realtime_server.records import ConnectionRecord, ItemRecord

__all__ = ["ConnectionRecord", "ItemRecord", "RealtimeServer"]

Transcriber = Callable[[bytes], str]
FatalError = tuple[str, str, str]  # (error type, code, message)
Failure = tuple[str, str] | tuple[str, str | None, str]  # (type, message) | (type, code, message)
# Misbehaviour in place of a completion: gets the connection and the item just committed; True
# means it took over (the completion is not sent, so the item is still owed on a later connection).
Hostile = Callable[[RealtimeSession, ItemRecord], bool]

_ALPHABET = string.ascii_letters + string.digits
_GA_OTHER_TYPES = frozenset(
    {
        "session.close",
        "session.input_audio_buffer.append",
        "conversation.item.create",
        "conversation.item.truncate",
        "conversation.item.delete",
        "conversation.item.retrieve",
        "response.create",
        "response.cancel",
        "output_audio_buffer.clear",
    }
)
_BETA_OTHER_TYPES = (_GA_OTHER_TYPES - {"session.close", "session.input_audio_buffer.append"}) | {
    "session.update"
}


class RealtimeServer:
    """Imitation of ``wss://api.openai.com/v1/realtime?intent=transcription``.

    Keyword options (per-connection lists are indexed by connection order, 0 = first
    connection; missing entries and None mean "normal"):

    - ``transcripts``: scripted transcript per utterance in spoken order, or a callable
      ``f(pcm: bytes) -> str`` transcribing each committed item's audio.
    - ``dialect``: "ga" or "beta".  ``api_key``: accepted via ``Authorization: Bearer`` or
      ``api-key``.
    - ``completion_delay``: seconds from commit to deltas + completed.
    - ``out_of_order``: hold the 1st, 3rd, ... transcribed item's ``completed`` of a connection
      until the next item finished, or ``out_of_order_hold_s`` passed.
    - ``fail_items``: {script index: (type, message) or (type, code, message)} -> ``failed``;
      ``{item_id}`` in the message is replaced by the item id.
    - ``fatal_on_connect``: per connection (type, code, message): error after session.created,
      then close 1008 with reason ``type.code``.
    - ``drop_after_ms``: per connection, drop TCP (no close frame) once that many ms of audio
      arrived on the connection.  ``drop_before_completion``: per connection, script indices
      whose item is committed (committed + item events sent) and then the TCP connection dropped.
    - ``session_max_s``: error ``session_expired`` + close 1001 after that many seconds.
    - ``ping_interval``/``ping_timeout``/``close_timeout``: websockets keepalive and close.
    - ``stream_word_ms``: streaming models send one pre-commit delta per this many ms of loud
      audio (the last word is always held back until the commit).
    - ``port``: listen on this port (0: a free one), so a test can open it after refusing.
    - ``refuse_status``: per handshake, an HTTP status refusing the upgrade (e.g. 503: a server
      slow to recover).

    Switchable at any time (attributes): ``quota`` (every item fails with
    ``insufficient_quota``, as an account without credit), ``frozen`` (nothing is sent at all,
    not even ``session.created``: a server that accepts and says nothing, or freezes
    mid-stream; pongs still go out, as the library answers them), ``ignore_commits`` (client
    commits get no answer). ``freeze_after_items``: set ``frozen`` once that many items were
    delivered (once).
    """

    OTHER_CLIENT_TYPES: frozenset[str] = _GA_OTHER_TYPES

    def __init__(
        self,
        *,
        transcripts: Sequence[str] | Transcriber = (),
        dialect: str = "ga",
        api_key: str = "test-key",
        completion_delay: float = 0.02,
        out_of_order: bool = False,
        out_of_order_hold_s: float = 1.0,
        fail_items: Mapping[int, Failure] | None = None,
        fatal_on_connect: Sequence[FatalError | None] = (),
        drop_after_ms: Sequence[float | None] = (),
        drop_before_completion: Sequence[Sequence[int] | None] = (),
        session_max_s: float = 3600.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        close_timeout: float = 1.0,
        stream_word_ms: int = 200,
        before_completion: Sequence[Hostile | None] = (),
        port: int = 0,
        refuse_status: Sequence[int | None] = (),
        freeze_after_items: int | None = None,
    ) -> None:
        if dialect not in ("ga", "beta"):
            raise ValueError(f"dialect must be 'ga' or 'beta', not {dialect!r}")
        self.transcripts = transcripts if callable(transcripts) else list(transcripts)
        self.dialect = dialect
        self.api_key = api_key
        self.completion_delay = completion_delay
        self.out_of_order = out_of_order
        self.out_of_order_hold_s = out_of_order_hold_s
        self.fail_items: dict[int, Failure] = dict(fail_items or {})
        self.fatal_on_connect = list(fatal_on_connect)
        self.drop_after_ms = list(drop_after_ms)
        self.drop_before_completion = list(drop_before_completion)
        self.session_max_s = session_max_s
        self.stream_word_ms = stream_word_ms
        self.before_completion = list(before_completion)
        self.refuse_status = list(refuse_status)
        self.freeze_after_items = freeze_after_items
        self.quota = False
        self.frozen = False
        self.ignore_commits = False
        self.handshakes = 0
        if dialect == "beta":
            self.OTHER_CLIENT_TYPES = _BETA_OTHER_TYPES

        # Recording (read by tests; appended to under self._lock).
        self.connections: list[ConnectionRecord] = []
        self.delivered: list[str] = []  # transcripts of script items sent in ``completed``
        self.delivered_indices: set[int] = set()  # script indices completed or failed
        self.violations: list[str] = []

        self._lock = threading.RLock()
        self._counters = {"item": 0, "sess": 0}
        self._sessions: list[RealtimeSession] = []
        self._random = random.Random()
        self._server: Server = serve(
            self._handle,
            "127.0.0.1",
            port,
            process_request=self._process_request,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
            max_size=16 * 2**20,
        )
        self.port: int = self._server.socket.getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/v1/realtime?intent=transcription"
        self._stopped = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="realtime-server", daemon=True
        )
        self._thread.start()

    # ----------------------------------------------------------------- public API
    def __enter__(self) -> RealtimeServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Close every connection (1001), stop listening and join all threads. Idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        closer = threading.Thread(
            target=self._server.shutdown, kwargs={"reason": "server shutting down"}, daemon=True
        )
        closer.start()
        closer.join(timeout=3)
        if closer.is_alive():  # e.g. a send blocked on a client that stopped reading
            for session in list(self._sessions):
                session.abort()
            closer.join(timeout=5)
        self._thread.join(timeout=5)

    def wait_for(self, predicate: Callable[[], object], timeout: float = 5.0) -> bool:
        """Poll ``predicate`` until truthy; True, or AssertionError after ``timeout`` seconds.

        Exceptions raised by the predicate (e.g. IndexError before a connection exists)
        count as "not yet".
        """
        deadline = time.monotonic() + timeout
        last_exc: Exception | None = None
        while True:
            try:
                if predicate():
                    return True
            except Exception as exc:
                last_exc = exc
            if time.monotonic() >= deadline:
                hint = f" (last error: {last_exc!r})" if last_exc is not None else ""
                raise AssertionError(f"condition not met within {timeout} s{hint}")
            time.sleep(0.005)

    # ----------------------------------------------------------------- used by sessions
    def _process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        with self._lock:
            index = self.handshakes
            self.handshakes += 1
        status = self._option(self.refuse_status, index)
        if status is None:
            return None
        return ws.respond(HTTPStatus(status), '{"error": {"message": "try again later"}}\n')

    def _handle(self, ws: ServerConnection) -> None:
        request = ws.request
        assert request is not None
        headers = {name.lower(): value for name, value in request.headers.raw_items()}
        with self._lock:
            rec = ConnectionRecord(len(self.connections), request.path, headers, self.dialect)
            self.connections.append(rec)
        self._check_url(rec)
        session = RealtimeSession(self, ws, rec)
        with self._lock:
            self._sessions.append(session)
        try:
            session.run()
        except Exception:
            self._violation(f"server bug on connection {rec.index}: {traceback.format_exc()}")

    def _check_url(self, rec: ConnectionRecord) -> None:
        query = parse_qs(urlsplit(rec.path).query)
        if query.get("intent") != ["transcription"]:
            self._violation(f"connection {rec.index}: URL {rec.path!r} lacks intent=transcription")
        if self.dialect == "ga" and "model" in query:
            self._violation(
                f"connection {rec.index}: URL {rec.path!r} has a model parameter, which creates "
                "a conversation session"
            )

    def _refusal(self, rec: ConnectionRecord) -> tuple[str, str | None, str, int, str] | None:
        """(type, code, message, close code, close reason) if the upgrade must be refused."""
        headers = rec.headers
        auth = headers.get("authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else headers.get("api-key")
        error = "invalid_request_error"
        if key is None:
            return error, None, "Missing bearer or basic authentication in header", 3000, error
        if key != self.api_key:
            masked = key[:3] + "*" * max(len(key) - 7, 0) + key[-4:]
            message = (
                f"Incorrect API key provided: {masked}. You can find your API key at "
                "https://platform.openai.com/account/api-keys."
            )
            return error, "invalid_api_key", message, 3000, f"{error}.invalid_api_key"
        if self.dialect == "ga" and "realtime=v1" in headers.get("openai-beta", ""):
            message = (
                "The Realtime Beta API is no longer supported. "
                "Please use /v1/realtime for the GA API."
            )
            return (
                error,
                "beta_api_shape_disabled",
                message,
                4000,
                f"{error}.beta_api_shape_disabled",
            )
        return None

    def _violation(self, message: str) -> None:
        with self._lock:
            self.violations.append(message)

    def _token(self, length: int) -> str:
        return "".join(self._random.choices(_ALPHABET, k=length))

    def _new_id(self, prefix: str) -> str:
        if prefix == "event":
            return f"event_{self._token(21)}"
        with self._lock:
            self._counters[prefix] += 1
            return f"{prefix}_{self._counters[prefix]:03d}"

    @staticmethod
    def _option(values: Sequence[Any], index: int) -> Any:
        return values[index] if index < len(values) else None

    def _delivered_snapshot(self) -> set[int]:
        with self._lock:
            return set(self.delivered_indices)

    def _deliver(self, index: int | None, transcript: str | None) -> None:
        if index is None:
            return
        with self._lock:
            self.delivered_indices.add(index)
            if transcript is not None:
                self.delivered.append(transcript)
            limit = self.freeze_after_items
            if limit is not None and len(self.delivered_indices) >= limit:
                self.frozen = True
                self.freeze_after_items = None  # once: thawing is up to the test

    def _script_text(self, index: int) -> str:
        script = self.transcripts
        assert not callable(script)
        return script[index] if index < len(script) else f"utterance {index + 1}"

    def _transcribe(self, item: ItemRecord) -> str:
        if callable(self.transcripts):
            try:
                return str(self.transcripts(item.audio))
            except Exception as exc:
                self._violation(f"transcripts callable raised {exc!r} for {item.item_id}")
                return ""
        return "" if item.script_index is None else self._script_text(item.script_index)
