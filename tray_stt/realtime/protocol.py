"""Sans-I/O client of the realtime transcription protocol: text in, typed events out.

No sockets, threads or clocks: the I/O shell (session.py) feeds server frames to ``receive``, audio
to ``append`` and sends what ``take_outgoing`` returns. The client owns the whole session, across
connections: completed transcripts are released in spoken order, and audio whose transcript has not
arrived when a connection ends is sent again on the next one, so each utterance is transcribed
exactly once (docs/protocol.md, "Ordering, resends and exactly once").
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from tray_stt.errors import ConfigError, ProtocolError
from tray_stt.realtime import wire
from tray_stt.realtime.events import (
    Event,
    Notice,
    ServerError,
    SessionReady,
    SpeechStarted,
    SpeechStopped,
    TranscriptCompleted,
    TranscriptDelta,
    TranscriptFailed,
)
from tray_stt.realtime.journal import AudioJournal
from tray_stt.realtime.models import Dialect, TranscriptionSettings, TurnMode, check_settings
from tray_stt.realtime.pcm import BYTES_PER_MS, MAX_APPEND_BYTES, MIN_COMMIT_BYTES, peak
from tray_stt.realtime.text import clean_text
from tray_stt.realtime.usage import Metering, Usage, parse_usage
from tray_stt.realtime.wire import ErrorKind, ServerErrorInfo

# Audio dropped in a long outage is cut at the quietest block boundary within this much of
# where the limit falls, judged by the loudest sample this close on either side.
OFFLINE_CUT_SCAN_BYTES = 5000 * BYTES_PER_MS
_EDGE_BYTES = 20 * BYTES_PER_MS


class _Link(Enum):
    CLOSED = "closed"
    AWAITING_CREATED = "awaiting_created"
    CONFIGURING = "configuring"
    READY = "ready"


@dataclass
class _Utterance:
    """One committed turn, from its commit until its transcript is released."""

    start: int
    end: int
    started_at: datetime
    item_id: str
    text: str = ""
    outcome: TranscriptCompleted | TranscriptFailed | None = None
    ended_at: datetime | None = None  # capture time of the end of speech, for the latency meter


@dataclass
class _Connection:
    """What is known about the current connection only."""

    link: _Link = _Link.AWAITING_CREATED
    items: dict[str, _Utterance] = field(default_factory=dict)
    speech_starts: dict[str, int] = field(default_factory=dict)
    speech_stops: dict[str, int] = field(default_factory=dict)
    early_text: dict[str, str] = field(default_factory=dict)
    commits: dict[str, int] = field(default_factory=dict)  # our commit event id -> offset
    replays: deque[_Utterance] = field(default_factory=deque)
    segments: list[tuple[int, int]] = field(default_factory=list)  # (conn offset, journal offset)
    sent_bytes: int = 0  # audio sent on this connection
    sent_to: int = 0  # journal offset the live tail was sent up to
    live_from: int = 0  # journal end when the connection got ready: later audio is sent live
    heard_to: int = 0  # what had been sent when the server was last heard from
    config_ids: set[str] = field(default_factory=set)
    paused: bool = False
    committed_to: int = 0  # journal offset of the last commit sent
    barrier: str | None = None
    barrier_done: bool = False
    session_id: str | None = None  # the server's, from session.updated: keys the usage ledger


class TranscriptionClient:
    """The protocol state machine for one transcription session, across reconnections."""

    def __init__(
        self,
        settings: TranscriptionSettings,
        dialect: Dialect = Dialect.GA,
        *,
        today: date,
        retain_ms: int | None = None,
        offline_ms: int | None = None,
        unheard_ms: int | None = None,
    ) -> None:
        """``retain_ms`` bounds the silence kept between utterances in VAD modes. Only a live
        source, which the server keeps up with, may set it; with None, silence is dropped only
        where the server confirmed the audio (fast file streaming runs far ahead of the server).

        ``offline_ms`` bounds the uncommitted audio kept while no connection streams: a
        microphone goes on capturing through a long outage, and memory must not grow all day
        (48 KB a second). The oldest is dropped first and counted in ``dropped_ms``. Turns already
        committed are always kept for their resend.

        ``unheard_ms``: with ``retain_ms``, also keep up to this much audio sent since the server
        was last heard from (``heard``), so a dead path found by pings loses none of it.
        """
        self.settings = settings
        self.dialect = dialect
        self.warnings = check_settings(
            settings, Dialect.GA if dialect is Dialect.AUTO else dialect, today
        )
        self._today = today
        self._retain = None if retain_ms is None else retain_ms * BYTES_PER_MS
        self._offline_limit = None if offline_ms is None else offline_ms * BYTES_PER_MS
        self._unheard = 0 if unheard_ms is None else unheard_ms * BYTES_PER_MS
        self._dropped = 0
        self._failed_spans: list[tuple[int, int, str]] = []  # for the shell's spool
        self._journal = AudioJournal()
        # Before any audio there is no utterance to time; the epoch only keeps the type simple.
        self._latest_capture = datetime.fromtimestamp(0, UTC)
        self._order: list[_Utterance] = []
        self._frontier = 0  # audio before this is committed or discarded silence
        self._marks: list[int] = []  # manual commits not yet sent
        self._finishing = False
        self._input_end: int | None = None  # where the input ended, before any padding
        self._ids = 0
        self._outbox: list[str] = []
        self._conn = _Connection(link=_Link.CLOSED)

    # -- what the shell asks ---------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Whether the current connection is configured and streaming."""
        return self._conn.link is _Link.READY

    @property
    def outstanding(self) -> int:
        """Utterances committed but not yet released."""
        return len(self._order)

    @property
    def speech_in_progress(self) -> bool:
        """Whether the server reported speech that has not been committed yet."""
        return bool(self._conn.speech_starts)  # each start is forgotten at its commit

    @property
    def finished(self) -> bool:
        """Whether the end of input was acknowledged and every transcript released."""
        conn = self._conn
        acknowledged = conn.barrier_done and not conn.commits and not self._marks
        return self._finishing and acknowledged and not self._order

    @property
    def buffered_ms(self) -> int:
        """Audio kept for a possible resend."""
        return self._journal.kept_bytes // BYTES_PER_MS

    @property
    def settled_ms(self) -> int:
        """Audio before this offset (from the first byte of input) is transcribed, reported as
        failed, or silence; what follows is still in the air or not yet sent."""
        pending = [u.start for u in self._order]
        return min([self._frontier, *pending]) // BYTES_PER_MS

    @property
    def awaiting_answer(self) -> bool:
        """Whether the server owes an answer: a commit, a transcript or the end-of-input
        barrier (the session's stall detection, docs/protocol.md, "Session lifetime and
        reconnection")."""
        conn = self._conn
        barrier = conn.barrier is not None and not conn.barrier_done
        return bool(conn.commits or conn.replays or barrier or self._order)

    @property
    def held_ms(self) -> int:
        """Audio held in memory: captured, and not yet transcribed, released or dropped."""
        return self._journal.kept_bytes // BYTES_PER_MS

    @property
    def dropped_ms(self) -> int:
        """Audio dropped so far because it was captured during too long an outage."""
        return self._dropped // BYTES_PER_MS

    @property
    def settled_offset(self) -> int:
        """Audio before this offset is transcribed and released, or silence, or failed (those
        spans are told once by ``take_failed_spans``): a spool may delete it once logged."""
        return self._journal.start

    def take_failed_spans(self) -> list[tuple[int, int, str]]:
        """Audio ``[start, end)`` released as failed or dropped in an outage since the last
        call, with the reason: a spool keeps it for a later retry."""
        spans, self._failed_spans = self._failed_spans, []
        return spans

    def _note_failed(self, start: int, end: int, reason: str) -> None:
        """Remember a failed span; one that grows (an outage, chunk by chunk) stays one."""
        spans = self._failed_spans
        if spans and spans[-1][2] == reason and spans[-1][0] <= start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]), reason)
        else:
            spans.append((start, end, reason))

    def take_outgoing(self) -> list[str]:
        """The JSON texts to send, in order; empties the outbox."""
        out, self._outbox = self._outbox, []
        return out

    # -- audio and turns -------------------------------------------------------------------

    def append(self, pcm: bytes, when: datetime) -> None:
        """Add captured 24 kHz PCM16 audio; it is sent as soon as the connection is ready."""
        self._journal.append(pcm, when)
        self._latest_capture = when
        if self._streaming:
            self._send_tail()
        else:
            self._bound_offline_audio()

    def commit(self) -> bool:
        """End the current turn here (manual turns, push-to-talk release); False if too short."""
        marked = self._mark_turn_end()
        if self._streaming:
            self._send_tail()
        return marked

    def discard(self) -> None:
        """Drop the audio since the last turn end (push-to-talk cancel, or a new press).

        The server's buffer is emptied (``input_audio_buffer.clear``) and the audio is never
        committed or resent. While an earlier commit is in flight its offsets stay as they are:
        the dropped audio then only widens that bookkeeping, never what the server transcribes.
        """
        if not self._marks and not self._conn.commits:
            self._frontier = max(self._frontier, self._journal.end)
            self._trim()
        if self._streaming:
            self._outbox.append(wire.clear(self._next_id("clear")))

    def _bound_offline_audio(self) -> None:
        """Keep at most the newest ``offline_ms`` of the audio no connection has taken yet."""
        if self._offline_limit is None:
            return
        oldest_kept = self._journal.end - self._offline_limit
        if oldest_kept <= self._frontier:
            return
        oldest_kept = self._quiet_cut(oldest_kept)
        dropped_from = max(self._frontier, self._journal.start)
        self._dropped += oldest_kept - dropped_from
        self._note_failed(dropped_from, oldest_kept, "the connection was down too long")
        # Only uncommitted audio lies past the frontier; committed turns before it stay whole.
        self._journal.forget(dropped_from, oldest_kept)
        self._frontier = oldest_kept
        # Manual turn ends inside the dropped audio would commit nothing (or the wrong audio).
        self._marks = [mark for mark in self._marks if mark > oldest_kept]
        self._trim()

    def _quiet_cut(self, at: int) -> int:
        """Where to cut audio dropped in an outage: the quietest block boundary in the few
        seconds from ``at``, so a word is not split between what is dropped (lost, or retried
        from the spool) and what is kept; ``at`` itself if no block begins there."""
        best, quietest = at, None
        for start in self._journal.block_starts(at, at + OFFLINE_CUT_SCAN_BYTES):
            loudness = peak(self._journal.read(start - _EDGE_BYTES, start + _EDGE_BYTES))
            if quietest is None or loudness < quietest:
                best, quietest = start, loudness
        return best

    def _mark_turn_end(self) -> bool:
        # The server refuses commits of less than 100 ms; such a sliver joins the next turn.
        turn_start = max([self._frontier, *self._marks, *self._conn.commits.values()])
        if self._journal.end - turn_start >= MIN_COMMIT_BYTES:
            self._marks.append(self._journal.end)
            return True
        return False

    def finish(self) -> None:
        """No more audio: close the last turn and ask the server to confirm it saw everything."""
        if self._finishing:
            return
        self._finishing = True
        self._input_end = self._journal.end
        if self.settings.effective_turn is TurnMode.SERVER:
            # Trailing silence lets server VAD close an utterance the input ended in; the clear
            # that follows is a barrier (``cleared`` comes after every commit it caused) and
            # never makes the server transcribe silence.
            pad_ms = self.settings.silence_duration_ms + 300
            when = self._time_at(self._journal.end)
            self._journal.append(bytes(pad_ms * BYTES_PER_MS), when)
        else:
            self._mark_turn_end()
        if self._streaming:
            self._send_tail()
            self._send_barrier()

    def flush(self, reason: str) -> list[Event]:
        """Give up waiting: release every unfinished utterance as failed, in order.

        Audio no utterance holds yet (turns whose commit was never acknowledged, speech the
        server never got to hear in an outage) is reported too, a failure per turn, so that
        nothing the user said disappears without a word.
        """
        for utterance in self._order:
            if utterance.outcome is None:
                utterance.outcome = self._failed(utterance, reason)
        events = self._release()
        end = self._journal.end if self._input_end is None else self._input_end
        turn_ends = {*self._marks, *self._conn.commits.values()}
        start = self._frontier
        for turn_end in sorted({e for e in turn_ends if start < e < end} | {end}):
            if turn_end - start >= MIN_COMMIT_BYTES:
                began = self._time_at(start)
                events.append(
                    TranscriptFailed(
                        reason,
                        "",
                        began,
                        "",
                        kind=ErrorKind.UNKNOWN,
                        audio_start_ms=start // BYTES_PER_MS,
                        audio_end_ms=turn_end // BYTES_PER_MS,
                    )
                )
                self._note_failed(start, turn_end, reason)
            start = turn_end
        self._marks.clear()
        self._frontier = max(self._frontier, end)
        return events

    # -- connection lifecycle --------------------------------------------------------------

    def connection_opened(self) -> None:
        """A new connection: what the last one left unfinished will be sent on it."""
        # Turn ends whose commit the old connection never acknowledged are sent again.
        unacknowledged = [o for i, o in self._conn.commits.items() if not i.startswith("replay")]
        self._marks = sorted(m for m in {*unacknowledged, *self._marks} if m > self._frontier)
        self._conn = _Connection()
        self._outbox.clear()

    def connection_lost(self) -> None:
        """The connection ended; nothing is sent until the next one is ready."""
        self._conn.link = _Link.CLOSED

    def heard(self) -> None:
        """The server is alive (any frame, or a pong): what was sent so far reached it."""
        self._conn.heard_to = self._conn.sent_to

    def pause(self) -> None:
        """Stop sending audio on this connection (before a planned rollover)."""
        self._conn.paused = True

    # -- server frames ---------------------------------------------------------------------

    def receive(self, text: str) -> list[Event]:
        """Interpret one server frame. Raises ProtocolError only if it is not a JSON object."""
        try:
            event = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ProtocolError(f"The server sent a frame that is not JSON: {text[:80]!r}") from exc
        if not isinstance(event, dict):
            raise ProtocolError(f"The server sent JSON that is not an event: {text[:80]!r}")
        self.heard()
        kind = event.get("type")
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            # unknown events are ignored, as the protocol asks (docs/protocol.md, "Server events")
            return []
        try:
            return handler(self, event)
        except (KeyError, TypeError, ValueError, AttributeError):
            return [Notice(f"Ignored a malformed {kind} event from the server.")]

    def _on_created(self, event: dict[str, Any]) -> list[Event]:
        if self._conn.link is not _Link.AWAITING_CREATED:
            return []
        spoken = Dialect.BETA if event["type"].startswith("transcription_session") else Dialect.GA
        if self.dialect is Dialect.AUTO:
            try:
                self.warnings += check_settings(self.settings, spoken, self._today)
            except ConfigError as exc:
                return [_config_error(str(exc))]
            self.dialect = spoken
        elif self.dialect is not spoken:
            return [
                _config_error(
                    f"The server speaks the {spoken.value} dialect of the realtime API, but "
                    f"{self.dialect.value} was configured: use --dialect {spoken.value} or auto."
                )
            ]
        self._conn.link = _Link.CONFIGURING
        # With turns to resend, start without VAD: each is committed exactly where it ended.
        self._send_config(manual=self._replay_with_manual_turns)
        return []

    def _on_updated(self, event: dict[str, Any]) -> list[Event]:
        if self._conn.link is not _Link.CONFIGURING:
            return []  # the acknowledgement of a replay toggle
        self._conn.link = _Link.READY
        session = event.get("session")
        session_id = session.get("id") if isinstance(session, dict) else None
        self._conn.session_id = session_id if isinstance(session_id, str) else None
        self._send_replay()
        self._conn.live_from = self._journal.end
        self._send_tail()
        if self._finishing:
            self._send_barrier()
        return [SessionReady(self.dialect, session_id if isinstance(session_id, str) else None)]

    def _on_speech_started(self, event: dict[str, Any]) -> list[Event]:
        item_id = _text(event, "item_id")
        if item_id not in self._conn.items:  # not a late report of a turn already committed
            self._conn.speech_starts[item_id] = self._journal_offset(int(event["audio_start_ms"]))
        return [SpeechStarted(item_id)]

    def _on_speech_stopped(self, event: dict[str, Any]) -> list[Event]:
        item_id = _text(event, "item_id")
        if item_id not in self._conn.items:
            self._conn.speech_stops[item_id] = self._journal_offset(int(event["audio_end_ms"]))
        return [SpeechStopped(item_id)]

    def _on_committed(self, event: dict[str, Any]) -> list[Event]:
        conn = self._conn
        item_id = _text(event, "item_id")
        # Speech offsets are needed until the commit only: popped, the maps stay small however
        # long the connection lives, and _trim scans no old turns on every chunk.
        speech_start = conn.speech_starts.pop(item_id, None)
        end = conn.speech_stops.pop(item_id, None)
        if conn.replays:
            utterance = conn.replays.popleft()
            utterance.item_id = item_id
            conn.items[item_id] = utterance
            self._pop_commit()
            return []
        if end is None:
            end = self._pop_commit() or min(conn.sent_to, self._journal.end)
        start = self._frontier if speech_start is None else max(speech_start, self._frontier)
        start = min(start, end)
        when = self._time_at(start)
        utterance = _Utterance(start, end, when, item_id, conn.early_text.pop(item_id, ""))
        utterance.ended_at = self._time_at(end)
        conn.items[item_id] = utterance
        self._insert(utterance, event.get("previous_item_id"))
        self._frontier = max(self._frontier, end)
        self._trim()
        return []

    def _on_delta(self, event: dict[str, Any]) -> list[Event]:
        item_id = _text(event, "item_id")
        delta = event.get("delta") or ""
        if not isinstance(delta, str):
            raise TypeError("delta")
        utterance = self._conn.items.get(item_id)
        if utterance is None:
            text = self._conn.early_text.get(item_id, "") + delta
            self._conn.early_text[item_id] = text
        else:
            utterance.text += delta
            text = utterance.text
        # The whole text is cleaned, not only the delta: an escape sequence may span deltas.
        delta = clean_text(delta)
        return [TranscriptDelta(item_id, delta, clean_text(text))] if delta else []

    def _on_completed(self, event: dict[str, Any]) -> list[Event]:
        item_id = _text(event, "item_id")
        transcript = event.get("transcript")
        if not isinstance(transcript, str):
            raise TypeError("transcript")
        utterance = self._conn.items.get(item_id)
        if utterance is None:
            # The server completes only what was committed, and a committed item is known here:
            # an unknown id is a stale connection's or a forgery, never the user's words.
            return [Notice(f"Ignored a transcript for item {item_id!r}, which was never sent.")]
        if utterance.outcome is None:
            meter = self._meter(utterance, parse_usage(event.get("usage")))
            text = clean_text(transcript)
            utterance.outcome = TranscriptCompleted(
                text, utterance.started_at, item_id, meter, ended_at=utterance.ended_at
            )
        return self._release()

    def _on_failed(self, event: dict[str, Any]) -> list[Event]:
        item_id = _text(event, "item_id")
        raw = event.get("error")
        error = raw if isinstance(raw, dict) else {}
        reason = clean_text(_opt(error, "message") or "") or "transcription failed"
        info = ServerErrorInfo(_opt(error, "type"), _opt(error, "code"), reason, None, None)
        utterance = self._conn.items.get(item_id)
        if utterance is None:  # as for completed: not an utterance of ours
            self._conn.early_text.pop(item_id, None)
            return [Notice(f"Ignored a failure of item {item_id!r}, which was never sent.")]
        if utterance.outcome is None:
            kind = wire.classify_item_failure(info)
            usage = parse_usage(event.get("usage"))
            utterance.outcome = self._failed(utterance, reason, kind, usage)
        return self._release()

    def _on_cleared(self, event: dict[str, Any]) -> list[Event]:
        if self._conn.barrier is not None:
            self._conn.barrier_done = True
        return []

    def _on_error(self, event: dict[str, Any]) -> list[Event]:
        raw = event.get("error")
        if not isinstance(raw, dict):
            raise TypeError("error")
        info = ServerErrorInfo(
            type=_opt(raw, "type"),
            code=_opt(raw, "code"),
            message=clean_text(_opt(raw, "message") or "") or "(no message)",
            param=_opt(raw, "param"),
            event_id=_opt(raw, "event_id"),
        )
        kind = wire.classify_error(info, config_event_ids=frozenset(self._conn.config_ids))
        if kind is ErrorKind.BENIGN:
            return self._on_commit_refused(info.event_id)
        return [ServerError(kind, info)]

    def _on_commit_refused(self, event_id: str | None) -> list[Event]:
        """``commit_empty``: our commit raced a VAD commit or had too little audio."""
        conn = self._conn
        if event_id is None or conn.commits.pop(event_id, None) is None:
            return []
        if event_id.startswith("replay") and conn.replays:
            utterance = conn.replays.popleft()
            reason = "the utterance was too short to resend"
            utterance.outcome = self._failed(utterance, reason, ErrorKind.ITEM)
            return self._release()
        return []

    # -- sending ---------------------------------------------------------------------------

    @property
    def _streaming(self) -> bool:
        return self._conn.link is _Link.READY and not self._conn.paused

    def _next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}_{self._ids}"

    def _send_config(self, *, manual: bool) -> None:
        event_id = self._next_id("config")
        self._conn.config_ids.add(event_id)
        dialect = Dialect.BETA if self.dialect is Dialect.BETA else Dialect.GA
        self._outbox.append(
            wire.session_update(self.settings, dialect, event_id=event_id, manual_turns=manual)
        )

    def _send_replay(self) -> None:
        """Resend every committed utterance whose transcript the last connection never gave."""
        pending = [u for u in self._order if u.outcome is None]
        for utterance in pending:
            self._send_audio(utterance.start, utterance.end)
            self._send_commit("replay", utterance.end)
            self._conn.replays.append(utterance)
        if pending and self.settings.effective_turn.on_server:
            self._send_config(manual=False)  # VAD back on for the live audio
        self._conn.sent_to = max(self._frontier, self._journal.start)

    @property
    def _replay_with_manual_turns(self) -> bool:
        vad = self.settings.effective_turn.on_server
        return vad and any(u.outcome is None for u in self._order)

    def _send_tail(self) -> None:
        """Send new audio, with a commit at each manual turn end."""
        conn = self._conn
        for mark in sorted(self._marks):
            if mark > conn.sent_to:
                self._send_audio(conn.sent_to, mark)
                conn.sent_to = mark
            self._send_commit("commit", mark)
        self._marks.clear()
        if self._journal.end > conn.sent_to:
            self._send_audio(conn.sent_to, self._journal.end)
            conn.sent_to = self._journal.end
        self._trim()

    def _send_barrier(self) -> None:
        conn = self._conn
        if conn.barrier is not None:
            return
        if self.settings.effective_turn is TurnMode.SERVER:
            conn.barrier = self._next_id("finish")
            self._outbox.append(wire.clear(conn.barrier))
        else:  # the commits sent for the last turn are acknowledged one by one
            conn.barrier = "commits"
            conn.barrier_done = True

    def _send_commit(self, prefix: str, offset: int) -> None:
        event_id = self._next_id(prefix)
        self._conn.commits[event_id] = offset
        self._outbox.append(wire.commit(event_id))

    def _send_audio(self, start: int, end: int) -> None:
        conn = self._conn
        for lo in range(start, end, MAX_APPEND_BYTES):
            chunk = self._journal.read(lo, min(lo + MAX_APPEND_BYTES, end))
            if not chunk:
                continue
            if not conn.segments or _segment_end(conn) != lo:
                conn.segments.append((conn.sent_bytes, lo))
            conn.sent_bytes += len(chunk)
            self._outbox.append(wire.append(chunk))

    def _pop_commit(self) -> int | None:
        commits = self._conn.commits
        if not commits:
            return None
        return commits.pop(next(iter(commits)))

    # -- ordering and memory ---------------------------------------------------------------

    def _insert(self, utterance: _Utterance, previous_item_id: object) -> None:
        previous = (
            self._conn.items.get(previous_item_id) if isinstance(previous_item_id, str) else None
        )
        if previous is not None and previous in self._order:
            self._order.insert(self._order.index(previous) + 1, utterance)
        else:
            self._order.append(utterance)

    def _release(self) -> list[Event]:
        released: list[Event] = []
        while self._order and self._order[0].outcome is not None:
            utterance = self._order.pop(0)
            outcome = utterance.outcome
            assert outcome is not None
            if isinstance(outcome, TranscriptFailed):
                self._note_failed(utterance.start, utterance.end, outcome.reason)
            released.append(outcome)
        self._trim()
        return released

    def _trim(self) -> None:
        """Forget audio no resend can need: transcribed turns and old silence between turns."""
        conn = self._conn
        if self._retain is not None and self.settings.effective_turn.on_server:
            # Server VAD never transcribes the silence between utterances, so the frontier moves
            # over it; a margin stays in case speech began where the server has not reported yet.
            # The backlog a new connection sends at once (audio captured in an outage) is not
            # silence until the server had the margin's time to hear it: moving over it would
            # date its speech (or drop it) by when it was sent, not when it was said.
            # Nor is audio sent since the server was last heard from (a dead link).
            heard = max(conn.heard_to, conn.sent_to - self._unheard)
            live_edge = min(conn.sent_to, heard) - self._retain
            if live_edge >= conn.live_from:
                silence_end = min([live_edge, *conn.speech_starts.values()])
                self._frontier = max(self._frontier, silence_end)
        pending = [u.start for u in self._order if u.outcome is None]
        self._journal.trim(min([self._frontier, *pending]))

    def _journal_offset(self, conn_ms: int) -> int:
        """Map a server audio offset (ms on this connection) to a journal offset."""
        position = conn_ms * BYTES_PER_MS
        mapped = self._frontier
        for conn_start, journal_start in self._conn.segments:
            if conn_start > position:
                break
            mapped = journal_start + position - conn_start
        return mapped

    def _failed(
        self,
        utterance: _Utterance,
        reason: str,
        kind: ErrorKind = ErrorKind.UNKNOWN,
        usage: Usage | None = None,
    ) -> TranscriptFailed:
        return TranscriptFailed(
            reason,
            clean_text(utterance.text),
            utterance.started_at,
            utterance.item_id,
            kind=kind,
            audio_start_ms=utterance.start // BYTES_PER_MS,
            audio_end_ms=utterance.end // BYTES_PER_MS,
            meter=self._meter(utterance, usage),
        )

    def _meter(self, utterance: _Utterance, usage: Usage | None) -> Metering:
        audio_ms = (utterance.end - utterance.start) // BYTES_PER_MS
        ended_at = utterance.ended_at or utterance.started_at
        return Metering(self.settings.model, self._conn.session_id, audio_ms, ended_at, usage)

    def _time_at(self, offset: int) -> datetime:
        """When the audio at ``offset`` was captured, else the latest capture time the shell
        gave: the core reads no clock, so its times are always capture times."""
        return self._journal.time_at(offset) or self._latest_capture


def _segment_end(conn: _Connection) -> int:
    conn_start, journal_start = conn.segments[-1]
    return journal_start + conn.sent_bytes - conn_start


def _text(event: dict[str, Any], key: str) -> str:
    value = event[key]
    if not isinstance(value, str):
        raise TypeError(key)
    return value


def _opt(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return value if isinstance(value, str) else None


def _config_error(message: str) -> ServerError:
    info = ServerErrorInfo("client_configuration", None, message, None, None)
    return ServerError(ErrorKind.CONFIGURATION, info)


_HANDLERS = {
    "session.created": TranscriptionClient._on_created,
    "transcription_session.created": TranscriptionClient._on_created,
    "session.updated": TranscriptionClient._on_updated,
    "transcription_session.updated": TranscriptionClient._on_updated,
    "input_audio_buffer.speech_started": TranscriptionClient._on_speech_started,
    "input_audio_buffer.speech_stopped": TranscriptionClient._on_speech_stopped,
    "input_audio_buffer.committed": TranscriptionClient._on_committed,
    "input_audio_buffer.cleared": TranscriptionClient._on_cleared,
    "conversation.item.input_audio_transcription.delta": TranscriptionClient._on_delta,
    "conversation.item.input_audio_transcription.completed": TranscriptionClient._on_completed,
    # A legacy name OpenAI's own agents SDK still tolerates (docs/protocol.md, "Server events").
    "input_audio_transcription_completed": TranscriptionClient._on_completed,
    "conversation.item.input_audio_transcription.failed": TranscriptionClient._on_failed,
    "error": TranscriptionClient._on_error,
}
