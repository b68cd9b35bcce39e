"""One WebSocket connection of the loopback realtime server (see server.py)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection

from tests.support.realtime_server.records import ConnectionRecord, ItemRecord, Scheduler
from tests.support.realtime_server.sdk_validation import (
    validate_client_event,
    validate_server_event,
)
from tests.support.realtime_server.session_config import (
    STREAMING_MODELS,
    ConfigError,
    SessionConfig,
    apply_beta_update,
    apply_ga_update,
    default_config,
    render_beta,
    render_ga,
)
from tests.support.realtime_server.vad import (
    EnergyVad,
    bytes_per_ms,
    logprobs,
    speech_ms,
    split_deltas,
    usage_for,
)

if TYPE_CHECKING:
    from tests.support.realtime_server.server import RealtimeServer

__all__ = ["RealtimeSession"]

EXPIRED_MESSAGE = "Your session hit the maximum duration of 60 minutes."
MIN_COMMIT_MS = 100
QUOTA_MESSAGE = (
    "429 Too Many Requests: You exceeded your current quota, please check your plan and "
    "billing details."
)


class RealtimeSession:
    """Protocol logic of one connection; ``run`` is called in the websockets handler thread."""

    def __init__(self, server: RealtimeServer, ws: ServerConnection, rec: ConnectionRecord):
        self.server = server
        self.ws = ws
        self.rec = rec
        self.dialect = rec.dialect
        self.lock = threading.RLock()
        self.cfg: SessionConfig = default_config(self.dialect)
        self.vad = EnergyVad()
        self.vad.configure(self.cfg.vad_params(), self.cfg.format_type)
        self.buffer = bytearray()
        self.buf_start = 0  # connection byte offset of buffer[0]
        self.pending_item_id: str | None = None  # pre-assigned at speech_started / first delta
        self.streamed = 0  # deltas already sent for the pending item (streaming models)
        self.last_item_id: str | None = None
        self.closed = False
        self.expires_at = int(time.time()) + 3600
        self.excluded = server._delivered_snapshot()
        self.cursor = 0
        self.tpos = 0  # position among transcribed items (for out_of_order)
        self.held: dict[int, tuple[ItemRecord, str]] = {}  # tpos -> completion held back
        self.scheduler = Scheduler(f"realtime-conn-{rec.index}", server._violation)

    # ----------------------------------------------------------------- plumbing
    def send(self, event_type: str, **fields: Any) -> bool:
        with self.lock:
            if self.closed or self.server.frozen:
                return False
            event = {"type": event_type, "event_id": self.server._new_id("event"), **fields}
            try:
                validate_server_event(event, self.dialect)
            except AssertionError as exc:
                self.server._violation(f"connection {self.rec.index}: server sent {exc}")
            try:
                self.ws.send(json.dumps(event))
            except (ConnectionClosed, OSError, RuntimeError):
                self.closed = True
                return False
            self.rec.server_events.append(event)
            return True

    def send_error(
        self,
        code: str | None,
        message: str,
        param: str | None = None,
        event_id: str | None = None,
        error_type: str = "invalid_request_error",
    ) -> bool:
        error = {"type": error_type, "code": code, "message": message, "param": param}
        return self.send("error", error={**error, "event_id": event_id})

    def fatal(
        self, error_type: str, code: str | None, message: str, close: int, reason: str
    ) -> None:
        self.send_error(code, message, error_type=error_type)
        with self.lock:
            if self.closed:
                return
            self.closed = True
            self.rec.close_code, self.rec.close_reason = close, reason
        with contextlib.suppress(Exception):
            self.ws.close(close, reason)

    def drop(self) -> None:
        """Abruptly drop TCP: no close frame (the client sees an abnormal closure)."""
        with self.lock:
            self.closed = True
            self.rec.dropped = True
            with contextlib.suppress(OSError):
                self.ws.socket.shutdown(socket.SHUT_RDWR)

    def abort(self) -> None:
        """Shut the socket down without taking the lock (unblocks a send stuck on a full pipe)."""
        self.closed = True
        with contextlib.suppress(OSError):
            self.ws.socket.shutdown(socket.SHUT_RDWR)

    # ----------------------------------------------------------------- lifecycle
    def run(self) -> None:
        try:
            refusal = self.server._refusal(self.rec)
            if refusal is not None:
                self.fatal(*refusal)
                return
            self.rec.session_id = self.server._new_id("sess")
            self._send_session("created")
            fatal = self.server._option(self.server.fatal_on_connect, self.rec.index)
            if fatal is not None:
                error_type, code, message = fatal
                self.fatal(error_type, code, message, 1008, f"{error_type}.{code}")
                return
            self.scheduler.call_later(self.server.session_max_s, self._expire)
            for message in self.ws:
                self._on_frame(message)
        except ConnectionClosed:
            pass
        finally:
            with self.lock:
                self.closed = True
            self.scheduler.stop()
            self.rec.finished.set()

    def _expire(self) -> None:
        self.fatal(
            "invalid_request_error", "session_expired", EXPIRED_MESSAGE, 1001, EXPIRED_MESSAGE
        )

    def _send_session(self, suffix: str) -> None:
        sid = self.rec.session_id or ""
        if self.dialect == "ga":
            self.send(f"session.{suffix}", session=render_ga(self.cfg, sid, self.expires_at))
        else:
            self.send(f"transcription_session.{suffix}", session=render_beta(self.cfg, sid))

    # ----------------------------------------------------------------- client events
    def _on_frame(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            self.rec.raw_frames.append(message)
            self.server._violation(f"connection {self.rec.index}: client sent a binary frame")
            self.send_error("invalid_event", "Binary frames are not supported; send JSON text.")
            return
        try:
            event = json.loads(message)
        except ValueError:
            event = None
            code, text = "invalid_json", "We could not parse the JSON body of your request."
        else:
            code, text = "invalid_event", "Expected a JSON object as the event."
        if not isinstance(event, dict):
            self.rec.raw_frames.append(message)
            self.server._violation(f"connection {self.rec.index}: bad frame {message[:200]!r}")
            self.send_error(code, text)
            return
        self.rec.client_events.append(event)
        try:
            validate_client_event(event, self.dialect)
        except AssertionError as exc:
            self.server._violation(f"connection {self.rec.index}: client sent {exc}")
        event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        event_type = event.get("type")
        if not isinstance(event_type, str):
            self.send_error("invalid_event", "The 'type' field is missing.", None, event_id)
            return
        update_type = "session.update" if self.dialect == "ga" else "transcription_session.update"
        handlers: dict[str, Callable[[dict[str, Any], str | None], None]] = {
            update_type: self._on_update,
            "input_audio_buffer.append": self._on_append,
            "input_audio_buffer.commit": self._on_commit,
            "input_audio_buffer.clear": self._on_clear,
        }
        with self.lock:
            handler = handlers.get(event_type)
            if handler is not None:
                handler(event, event_id)
            elif event_type in self.server.OTHER_CLIENT_TYPES:
                message = f"The event '{event_type}' is not supported in transcription sessions."
                self.send_error("unsupported_event", message, "type", event_id)
            else:
                supported = ", ".join(f"'{t}'" for t in [update_type, *list(handlers)[1:]])
                message = f"Invalid value: '{event_type}'. Supported values are: {supported}."
                self.send_error("invalid_value", message, "type", event_id)

    def _on_update(self, event: dict[str, Any], event_id: str | None) -> None:
        apply = apply_ga_update if self.dialect == "ga" else apply_beta_update
        try:
            new = apply(self.cfg, event.get("session"))
        except ConfigError as exc:
            self.send_error(exc.code, exc.message, exc.param, event_id)
            return
        self.cfg = new
        self.vad.configure(new.vad_params(), new.format_type)
        if new.turn_detection is None and self.streamed == 0:
            self.pending_item_id = None
        self._send_session("updated")

    def _on_append(self, event: dict[str, Any], event_id: str | None) -> None:
        try:
            data = base64.b64decode(event.get("audio", ""), validate=True)
        except (binascii.Error, TypeError, ValueError):
            message = "Invalid 'audio'. Expected base64-encoded audio data."
            self.send_error("invalid_value", message, "audio", event_id)
            return
        offset = len(self.rec.audio)
        self.rec.audio.extend(data)
        self.buffer.extend(data)
        limit = self.server._option(self.server.drop_after_ms, self.rec.index)
        per_ms = bytes_per_ms(self.cfg.format_type)
        if limit is not None and len(self.rec.audio) >= limit * per_ms:
            self.drop()
            return
        for vad_event in self.vad.feed(data, offset):
            if vad_event.kind == "start":
                self.pending_item_id = self.server._new_id("item")
                self.send(
                    "input_audio_buffer.speech_started",
                    audio_start_ms=vad_event.audio_ms,
                    item_id=self.pending_item_id,
                )
            elif self.pending_item_id is not None:
                item_id = self.pending_item_id
                self.send(
                    "input_audio_buffer.speech_stopped",
                    audio_end_ms=vad_event.audio_ms,
                    item_id=item_id,
                )
                cut = max(0, vad_event.end_byte - self.buf_start)
                audio = bytes(self.buffer[:cut])
                del self.buffer[:cut]
                self.buf_start += cut
                self._commit(item_id, audio, "vad")
        self._stream_deltas()

    def _on_commit(self, event: dict[str, Any], event_id: str | None) -> None:
        if self.server.ignore_commits:
            return
        ms = len(self.buffer) / bytes_per_ms(self.cfg.format_type)
        if ms < MIN_COMMIT_MS:
            message = (
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has {ms:.2f}ms of audio."
            )
            self.send_error("input_audio_buffer_commit_empty", message, None, event_id)
            return
        item_id = self.pending_item_id or self.server._new_id("item")
        audio, streamed = bytes(self.buffer), self.streamed
        self._reset_buffer()
        self._commit(item_id, audio, "commit", streamed)

    def _on_clear(self, event: dict[str, Any], event_id: str | None) -> None:
        self._reset_buffer()
        self.send("input_audio_buffer.cleared")

    def _reset_buffer(self) -> None:
        self.buffer.clear()
        self.buf_start = len(self.rec.audio)
        self.pending_item_id = None
        self.streamed = 0
        self.vad.reset()
        self.vad.loud_ms = 0

    # ----------------------------------------------------------------- items
    def _peek_index(self) -> int:
        n = self.cursor
        while n in self.excluded:
            n += 1
        return n

    def _take_index(self) -> int:
        n = self._peek_index()
        self.cursor = n + 1
        return n

    def _streaming(self) -> bool:
        return self.cfg.model in STREAMING_MODELS and not callable(self.server.transcripts)

    def _stream_deltas(self) -> None:
        """Streaming models: words of the upcoming item, paced by the loud audio received."""
        if self.cfg.turn_detection is not None or not self._streaming():
            return
        words = split_deltas(self.server._script_text(self._peek_index()))
        target = min(len(words) - 1, self.vad.loud_ms // self.server.stream_word_ms)
        while self.streamed < target:
            if self.pending_item_id is None:
                self.pending_item_id = self.server._new_id("item")
            self._send_delta(self.pending_item_id, words[self.streamed])
            self.streamed += 1

    def _send_delta(self, item_id: str, delta: str) -> None:
        fields: dict[str, Any] = {"item_id": item_id, "content_index": 0, "delta": delta}
        if self.cfg.include:
            fields["logprobs"] = logprobs(delta)
        if self.dialect == "ga":
            fields["obfuscation"] = self.server._token(11)
        self.send("conversation.item.input_audio_transcription.delta", **fields)

    def _commit(self, item_id: str, audio: bytes, via: str, streamed: int = 0) -> None:
        """Commit ``audio`` as ``item_id``; ``streamed`` deltas of it were sent before."""
        prev = self.last_item_id
        item = ItemRecord(item_id, prev, len(self.rec.items), audio, via)
        self.rec.items.append(item)
        self.last_item_id = item_id
        self.pending_item_id = None
        self.streamed = 0
        self.vad.loud_ms = 0
        self.send("input_audio_buffer.committed", previous_item_id=prev, item_id=item_id)
        content = [{"type": "input_audio", "transcript": None}]
        body = {"id": item_id, "type": "message", "status": "completed", "role": "user"}
        if self.dialect == "ga":
            self.send(
                "conversation.item.added", previous_item_id=prev, item={**body, "content": content}
            )
            self.send(
                "conversation.item.done", previous_item_id=prev, item={**body, "content": content}
            )
        else:
            item_obj = {**body, "object": "realtime.item", "content": content}
            self.send("conversation.item.created", previous_item_id=prev, item=item_obj)
        if self.cfg.transcription is None:
            return  # like the real API: the commit succeeds, no transcript ever
        if (
            streamed > 0
            or callable(self.server.transcripts)
            or speech_ms(audio, self.cfg.format_type) > 0
        ):
            item.script_index = self._take_index()
        text = self.server._transcribe(item)
        drops = self.server._option(self.server.drop_before_completion, self.rec.index) or ()
        if item.script_index is not None and item.script_index in drops:
            self.drop()
            return
        hostile = self.server._option(self.server.before_completion, self.rec.index)
        if hostile is not None and self._hostile(hostile, item):
            return
        words = split_deltas(text)
        if self.cfg.model == "whisper-1":
            deltas = [text] if text else []
        else:
            deltas = words[streamed:] if self._streaming() else words
        tpos = self.tpos
        self.tpos += 1
        delay = self.server.completion_delay
        self.scheduler.call_later(delay, lambda: self._complete(item, tpos, text, deltas))

    def _hostile(
        self, hostile: Callable[[RealtimeSession, ItemRecord], bool], item: ItemRecord
    ) -> bool:
        try:
            return hostile(self, item)
        except (ConnectionClosed, OSError, RuntimeError):
            self.closed = True  # the client closed on it, as it should
            return True

    def send_raw(self, message: str | bytes) -> None:
        """Send a frame as is: no validation, no record (hostile tests)."""
        self.ws.send(message)

    def _complete(self, item: ItemRecord, tpos: int, text: str, deltas: list[str]) -> None:
        with self.lock:
            for delta in deltas:
                self._send_delta(item.item_id, delta)
            if self.server.out_of_order and tpos % 2 == 0:
                # 1st, 3rd, ... transcribed item: held until the next one finished (or a timeout)
                self.held[tpos] = (item, text)
                hold = self.server.out_of_order_hold_s
                self.scheduler.call_later(hold, lambda: self._release(tpos))
                return
            self._finish(item, text)
            self._release(tpos - 1)

    def _release(self, tpos: int) -> None:
        with self.lock:
            held = self.held.pop(tpos, None)
            if held is not None:
                self._finish(*held)

    def _finish(self, item: ItemRecord, text: str) -> None:
        failure = (
            self.server.fail_items.get(item.script_index) if item.script_index is not None else None
        )
        if self.server.quota:
            failure = ("insufficient_quota", "insufficient_quota", QUOTA_MESSAGE)
        if failure is not None:
            error_type, code, message = (
                failure if len(failure) == 3 else (failure[0], None, failure[-1])
            )
            error = {
                "type": error_type,
                "code": code,
                "message": message.replace("{item_id}", item.item_id),
                "param": None,
            }
            ev = "conversation.item.input_audio_transcription.failed"
            if self.send(ev, item_id=item.item_id, content_index=0, error=error):
                item.status = "failed"
                self.server._deliver(item.script_index, None)
            return
        usage = usage_for(
            self.cfg.model, len(item.audio) // bytes_per_ms(self.cfg.format_type), text
        )
        fields: dict[str, Any] = {"item_id": item.item_id, "content_index": 0, "transcript": text}
        if self.cfg.include:
            fields["logprobs"] = logprobs(text)
        ev = "conversation.item.input_audio_transcription.completed"
        if self.send(ev, **fields, usage=usage):
            item.status = "completed"
            item.transcript = text
            self.server._deliver(item.script_index, text)
