"""The I/O shell around the protocol core: connections, threads, reconnects and rollovers.

Threads: the caller feeds audio (``run``); a supervisor thread connects and receives; a writer
thread per connection sends. The core is touched only under ``_lock``; texts it produces go into
the connection's queue under the same lock, so they are sent in the order they were made.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from datetime import date, datetime
from enum import Enum
from typing import Protocol

from tray_stt.errors import (
    AuthenticationError,
    BillingError,
    ConfigError,
    ConnectionFailed,
    ProtocolError,
    TraySttError,
)
from tray_stt.realtime import pcm as pcm_format
from tray_stt.realtime.endpoint import Endpoint
from tray_stt.realtime.events import (
    Event,
    Notice,
    Outage,
    Reconnecting,
    ServerError,
    SessionReady,
    SessionState,
    SpeechStarted,
    SpeechStopped,
    StateChanged,
    TranscriptCompleted,
    TranscriptFailed,
)
from tray_stt.realtime.models import TranscriptionSettings
from tray_stt.realtime.protocol import TranscriptionClient
from tray_stt.realtime.recovery import BackoffGate, SessionOptions, StallWatch, backoff
from tray_stt.realtime.transport import Connect, Transport, TransportClosed, WebSocketConnect
from tray_stt.realtime.turns import Speech, SpeechBegan, TurnDetector, TurnEvent
from tray_stt.realtime.wire import ErrorKind

# the options live in recovery.py (docs/protocol.md, "Session lifetime and reconnection")
__all__ = ["Session", "SessionOptions"]

_HIGH_WATER = 64  # queued frames (~2.5 s of audio) before the feeder waits for the network


class AudioSpool(Protocol):
    """Where a live source's audio is also kept on disk until its transcript is logged
    (``tray_stt.spool``); offsets are the core's journal offsets."""

    def append(self, pcm: bytes, when: datetime) -> None:
        """Keep captured audio."""

    def settle(self, settled: int, failed: list[tuple[int, int, str]]) -> None:
        """Audio before ``settled`` is logged or silence, except the ``failed`` spans."""


class _Ending(Enum):
    """Why a connection ended, which decides how soon to reconnect."""

    DONE = "done"
    AT_ONCE = "at_once"  # session expired or rolled over
    BACKOFF = "backoff"
    FATAL = "fatal"


class Session:
    """Streams audio through realtime sessions until the input ends and every transcript is in."""

    def __init__(
        self,
        endpoint: Endpoint,
        settings: TranscriptionSettings,
        on_event: Callable[[Event], None],
        *,
        options: SessionOptions | None = None,
        connect: Connect | None = None,
        today: date | None = None,
        turns: TurnDetector | None = None,
        spool: AudioSpool | None = None,
        clock: Callable[[bytes], datetime] | None = None,
        gate: BackoffGate | None = None,
    ) -> None:
        """``turns``: a client-side voice detector, for ``--turn local``; ``spool``: told of
        every audio byte and, once events are handled (logged), of what is settled; ``clock``:
        the capture time of a chunk just taken from the input (default: now minus its length;
        a retry from the spool gives the time it was spoken); ``connect`` defaults to
        websocket-client with the options' keepalive; ``gate``: a backoff shared with the
        sessions running beside this one."""
        endpoint.check()
        self.endpoint = endpoint
        self.options = options or SessionOptions()
        self._on_event = on_event
        self._connect = connect or WebSocketConnect(self.options.keepalive)
        self._turns = turns
        self._spool = spool
        self._clock = clock or _captured_at
        self._gate = gate
        self._core = TranscriptionClient(
            settings,
            endpoint.dialect,
            today=today or date.today(),
            retain_ms=self.options.live_silence_ms,
            offline_ms=self.options.offline_audio_ms,
            # Until a dead path is found (docs/protocol.md, "Session lifetime and reconnection"),
            # what it swallowed is kept.
            unheard_ms=int((self.options.ping_interval_s + self.options.pong_timeout_s) * 1000),
        )
        self._dropped_ms = 0  # audio dropped in earlier outages, already told
        self._outage_told = False
        self._dropped_spooled = 0  # audio dropped so far that the spool has been told of
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._fatal: BaseException | None = None
        self._closing = threading.Event()
        self._stop_input = threading.Event()
        self._transport: Transport | None = None
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._connected_at = 0.0
        self._rolling_since: float | None = None
        self._ending = _Ending.BACKOFF
        self._last_frame = time.monotonic()
        self._last_progress = time.monotonic()  # a transcript released, or the input ended
        self._stalls = StallWatch(self.options)
        self._loss: tuple[str, Outage] = ("connection lost", Outage.NETWORK)
        self._stalled = False
        self._give_up: str | None = None
        self._ever_ready = False

    @property
    def warnings(self) -> list[str]:
        """Things to tell the user before starting (deprecated model and the like)."""
        return list(self._core.warnings)

    def stop(self) -> None:
        """End the input early (Ctrl+C, Stop listening); outstanding transcripts still arrive."""
        self._stop_input.set()
        with self._changed:
            self._changed.notify_all()

    def give_up(self, reason: str) -> None:
        """End now (SIGTERM): the input stops and what is outstanding is reported as failed
        with ``reason`` instead of being waited for."""
        with self._changed:
            self._give_up = reason
            self._stop_input.set()
            self._changed.notify_all()

    @property
    def settled_ms(self) -> int:
        """Audio before this offset of the input is transcribed or reported failed."""
        with self._lock:
            return self._core.settled_ms

    @property
    def held_ms(self) -> int:
        """Audio held in memory (bounded through an outage by ``offline_audio_ms``)."""
        with self._lock:
            return self._core.held_ms

    def commit(self) -> bool:
        """End the current turn where the input is now (push-to-talk release); False if it was
        too short for the server (under 100 ms), in which case it joins the next turn.

        Call it from the thread iterating the input, so no captured chunk can overtake it.
        """
        with self._lock:
            committed = self._core.commit()
            self._submit()
        return committed

    def clear(self) -> None:
        """Drop the audio since the last turn end (``input_audio_buffer.clear``): push-to-talk
        cancel, and a new press, so a sliver left by a tap never joins the next turn."""
        with self._lock:
            self._core.discard()
            self._submit()

    def run(self, chunks: Iterable[bytes], *, wait_ready: bool = False) -> None:
        """Stream ``chunks`` (24 kHz PCM16) and return when every transcript was delivered.

        ``wait_ready`` holds the input while no connection is ready (files in fast mode);
        a live microphone keeps recording instead and the audio is sent once connected.
        Raises the TraySttError that ended the session, if one did.
        """
        supervisor = threading.Thread(target=self._supervise, name="tray-stt-session", daemon=True)
        supervisor.start()
        try:
            self._feed(chunks, wait_ready)
            self._finish()
        finally:
            self._closing.set()
            self._abort_transport()
            supervisor.join(timeout=self.options.connect_timeout_s + 5)
        if self._fatal is not None:
            raise self._fatal

    # -- the caller's thread: audio in -------------------------------------------------------

    def _feed(self, chunks: Iterable[bytes], wait_ready: bool) -> None:
        for chunk in chunks:
            # The local detector's inference runs outside the lock: it is not the core's work,
            # and the receiver thread must not wait for it.
            turns = None if self._turns is None else self._turns.process(chunk)
            with self._changed:
                while wait_ready and not self._core.ready and not self._stopped:
                    self._changed.wait(0.5)
                if self._stopped:
                    return
                markers = self._take(chunk, turns) + self._outage_notice()
                dropped = self._core.dropped_ms != self._dropped_spooled
                self._dropped_spooled = self._core.dropped_ms
            self._dispatch(markers)
            if dropped:
                self._settle_spool()  # what memory no longer holds is marked pending on disk now
            self._throttle()
            self._check_rollover()
        if self._turns is not None:
            with self._lock:
                markers = self._take_turns(self._turns.flush())
            self._dispatch(markers)

    def _take(self, chunk: bytes, turns: list[TurnEvent] | None) -> list[Event]:
        """Hand captured audio to the core, as the local detector's turns if there is one."""
        if turns is not None:
            return self._take_turns(turns)
        self._append(chunk)
        self._submit()
        return []

    def _append(self, pcm: bytes) -> None:
        when = self._clock(pcm)
        self._core.append(pcm, when)
        if self._spool is not None:
            self._spool.append(pcm, when)

    def _outage_notice(self) -> list[Event]:
        """Say once per outage that the oldest audio is no longer kept (memory is bounded)."""
        if self._core.ready:
            self._outage_told = False
            self._dropped_ms = self._core.dropped_ms
            return []
        if self._outage_told or self._core.dropped_ms == self._dropped_ms:
            return []
        self._outage_told = True
        if self._spool is not None:
            return [
                Notice(
                    "The connection has been down a long time: the audio is kept on disk, to "
                    "be transcribed when it is back."
                )
            ]
        kept_s = (self.options.offline_audio_ms or 0) / 1000
        kept = f"{kept_s / 60:g} minutes" if kept_s >= 60 else f"{kept_s:g} seconds"
        return [
            Notice(
                f"The connection has been down a long time: only the last {kept} of audio are "
                "kept, to be transcribed when it is back."
            )
        ]

    def _take_turns(self, turns: list[TurnEvent]) -> list[Event]:
        markers: list[Event] = []
        for turn in turns:
            if isinstance(turn, Speech):
                self._append(turn.pcm)
            elif isinstance(turn, SpeechBegan):
                markers.append(SpeechStarted("local"))
            else:  # only speech is sent, and each utterance is committed where it ended
                self._core.commit()
                markers.append(SpeechStopped("local"))
        self._submit()
        return markers

    def _finish(self) -> None:
        with self._lock:
            if self._fatal is not None:
                return
            self._core.finish()
            self._submit()
            self._last_progress = time.monotonic()
        while True:
            with self._changed:
                if self._core.finished or self._fatal is not None:
                    return
                reason = self._why_give_up()
                if reason is not None:
                    events = self._core.flush(reason)
                    break
                self._changed.wait(0.25)
            self._check_rollover()
        self._dispatch(events)
        self._settle_spool()

    def _why_give_up(self) -> str | None:
        """At the end of input: why to stop waiting for the server, if it is time
        (docs/protocol.md, "Ordering, resends and exactly once" and "Session lifetime and
        reconnection")."""
        if self._give_up is not None:
            return self._give_up
        now, wait = time.monotonic(), self.options.final_wait_s
        # Frames a lost connection left unsent are never sent (the next connection starts from
        # the core): only a live connection's backlog may hold the wait.
        sending = self._transport is not None and not self._queue.empty()
        if now - self._last_frame > wait and not sending:
            return f"no transcript arrived within {int(wait)} s"
        # Reconnections to a server that accepts and then stalls bring frames but no transcript:
        # the wait is bounded by progress too.
        if now - self._last_progress > 2 * wait:
            return f"no transcript arrived within {int(2 * wait)} s"
        return None

    # -- the writer thread: frames out, and stall detection ---------------------------------
    # (docs/protocol.md, "Session lifetime and reconnection")

    def _write(self, transport: Transport, outgoing: queue.Queue[str | None]) -> None:
        """The writer thread of one connection: sends queued frames in order until told to
        stop, and between them checks that the server has not stalled.

        The check shares the writer's wake-ups (one thread fewer than a watchdog of its own);
        a stall takes seconds to count, so it runs at most every ``_watch_period`` also when
        nothing is sent. A send that blocks fails within the keepalive timeout instead."""
        period = self._watch_period()
        check_at = time.monotonic() + period
        while True:
            try:
                text = outgoing.get(timeout=max(0.0, check_at - time.monotonic()))
            except queue.Empty:
                text = ""
            if text is None:
                return
            if text:
                try:
                    transport.send(text)
                except TransportClosed:
                    transport.abort()  # the receiver notices and the supervisor reconnects
                    return
            now = time.monotonic()
            if now >= check_at:
                check_at = now + period
                if self._stalled_now(transport):
                    transport.abort()
                    return

    def _watch_period(self) -> float:
        """How often to look for a stall: an eighth of the shortest stall timeout, at most
        0.25 s (the timeouts are seconds: checking 20 times a second bought nothing)."""
        options = self.options
        return min(0.25, min(options.first_event_timeout_s, options.answer_timeout_s) / 8)

    def _stalled_now(self, transport: Transport) -> bool:
        """Whether ``transport``, still the current connection, has stalled; if so, noted as
        the reason it ends."""
        with self._lock:
            if self._transport is not transport:
                return False
            reason = self._stall()
            if reason is None:
                return False
            self._stalled = True
            self._loss = (reason, Outage.STALLED)
            self._ending = _Ending.BACKOFF
        return True

    def _stall(self) -> str | None:
        """Why the current connection counts as stalled, if it does (caller holds the lock)."""
        if self._transport is None or self._stalled:
            self._stalls.idle()
            return None
        return self._stalls.check(
            time.monotonic(),
            since=max(self._connected_at, self._last_frame),
            ready=self._core.ready,
            awaiting=self._core.awaiting_answer,
        )

    @property
    def _stopped(self) -> bool:
        return self._stop_input.is_set() or self._fatal is not None

    def _throttle(self) -> None:
        """Fast mode: let the network catch up rather than queue the whole file in memory.
        Only a live connection drains its queue: a lost one's frames are never sent (the next
        connection starts from the core), so waiting on them would hold the input until the
        network is back, and a microphone's audio would pile up outside the spool."""
        while self._queue.qsize() > _HIGH_WATER and self._transport is not None:
            if self._stopped:
                return
            time.sleep(0.002)

    def _check_rollover(self) -> None:
        """Before the server's session limit, move to a fresh session at a pause in speech."""
        with self._lock:
            transport = self._transport
            if transport is None or not self._core.ready:
                return
            now = time.monotonic()
            too_old = now - self._connected_at > self.options.max_session_s
            if self._rolling_since is None and too_old and not self._core.speech_in_progress:
                self._core.pause()
                self._rolling_since = now
            if self._rolling_since is None:
                return
            waited = now - self._rolling_since
            if self._core.outstanding and waited < self.options.rollover_wait_s:
                return
            self._ending = _Ending.AT_ONCE
        transport.abort()

    def _submit(self) -> None:
        """Queue what the core wants sent (caller holds the lock)."""
        for text in self._core.take_outgoing():
            self._queue.put(text)

    # -- the supervisor thread: connections --------------------------------------------------

    def _supervise(self) -> None:
        failures = 0
        state = SessionState.CONNECTING
        while not self._closing.is_set() and self._fatal is None:
            self._emit(StateChanged(state))
            state = SessionState.RECONNECTING
            if self._gate is not None and self._wait_for_gate():
                return
            try:
                transport = self._connect(
                    self.endpoint.url, self.endpoint.headers(), self.options.connect_timeout_s
                )
            except TransportClosed as exc:
                failures += 1
                if not self._retry_after(failures, str(exc), exc.outage):
                    return
                continue
            except TraySttError as exc:
                self._fail(exc)
                return
            ending, reached_ready = self._serve(transport)
            self._ever_ready = self._ever_ready or reached_ready
            # A connection that got ready and then stalled did not work: it counts as a failure,
            # or a server that always stalls would be retried for ever.
            worked = reached_ready and self._loss[1] is not Outage.STALLED
            failures = 0 if worked else failures + 1
            if ending is _Ending.DONE or ending is _Ending.FATAL:
                return
            if ending is _Ending.BACKOFF and not self._retry_after(failures, *self._loss):
                return

    def _wait_for_gate(self) -> bool:
        """Wait out the backoff a session beside this one was given; True if closed meanwhile."""
        assert self._gate is not None
        pause = self._gate.remaining()
        if pause <= 0:
            return False
        self._emit(Notice(f"The server is rate-limiting: waiting {pause:.1f} s to connect."))
        return self._closing.wait(pause)

    def _retry_after(self, failures: int, reason: str, outage: Outage) -> bool:
        options = self.options
        attempts = (
            options.reconnect_attempts if self._ever_ready else options.first_connect_attempts
        )
        if options.reconnect_attempts is not None and attempts is not None and failures > attempts:
            self._fail(
                ConnectionFailed(
                    f"Could not keep a connection to {self.endpoint.url} ({reason}): check the "
                    "network connection and the endpoint URL."
                )
            )
            return False
        delay = backoff(self.options, failures, outage)
        if self._gate is not None:
            # The server said no to one of us: all of us wait (a network failure is our own).
            delay = self._gate.hold(delay) if outage is Outage.SERVER else delay
        self._emit(Reconnecting(reason, delay, outage, failures))
        return not self._closing.wait(delay)

    def _serve(self, transport: Transport) -> tuple[_Ending, bool]:
        """Run one connection until it ends; returns why, and whether it ever got ready."""
        outgoing: queue.Queue[str | None] = queue.Queue()
        writer = threading.Thread(
            target=self._write, args=(transport, outgoing), name="tray-stt-send", daemon=True
        )
        with self._lock:
            self._core.connection_opened()
            self._queue = outgoing
            self._transport = transport
            self._connected_at = time.monotonic()
            self._rolling_since = None
            self._ending = _Ending.BACKOFF
            self._loss = ("connection lost", Outage.NETWORK)
            self._stalled = False
            self._stalls.idle()
        writer.start()
        reached_ready = False
        try:
            while True:
                text = transport.receive()
                if not text:  # a pong: alive, but it answers nothing the stall check waits for
                    with self._lock:
                        self._core.heard()
                    continue
                events, finished = self._receive(text)
                reached_ready = reached_ready or any(isinstance(e, SessionReady) for e in events)
                self._dispatch(events)
                self._settle_spool()
                if self._fatal is not None:
                    transport.abort()
                    return _Ending.FATAL, reached_ready
                if finished:
                    transport.close()
                    return _Ending.DONE, reached_ready
        except TransportClosed as closed:
            return self._after_close(closed), reached_ready
        finally:
            outgoing.put(None)
            with self._changed:
                self._core.connection_lost()
                self._transport = None
                self._changed.notify_all()

    def _receive(self, text: str) -> tuple[list[Event], bool]:
        with self._changed:
            self._last_frame = time.monotonic()
            try:
                events = self._core.receive(text)
            except ProtocolError as exc:
                events = [Notice(str(exc))]
            self._submit()
            self._changed.notify_all()
            return events, self._core.finished

    def _after_close(self, closed: TransportClosed) -> _Ending:
        with self._lock:
            if not self._stalled:
                self._loss = (closed.reason or "connection lost", closed.outage)
        if self._fatal is not None or self._closing.is_set():
            return _Ending.FATAL if self._fatal is not None else _Ending.DONE
        if closed.code == 3000:
            self._fail(AuthenticationError.rejected("The server", closed.reason or "close 3000"))
            return _Ending.FATAL
        if closed.code == 4000:
            self._fail(ConfigError(f"The server refused the request ({closed.reason})."))
            return _Ending.FATAL
        if closed.code == 1009:  # a message over the size limit: its audio is sent again
            self._emit(Notice(f"{closed.reason[:1].upper()}{closed.reason[1:]}."))
        if closed.code == 1001 or self._ending is _Ending.AT_ONCE:
            self._emit(StateChanged(SessionState.RECONNECTING, "session rolled over"))
            return _Ending.AT_ONCE
        return self._ending

    def _settle_spool(self) -> None:
        """After the events were handled (transcripts logged, docs/architecture.md, "Rules beyond
        the layer order"), tell the spool what it need not keep any more."""
        if self._spool is None:
            return
        with self._lock:
            settled = self._core.settled_offset
            failed = self._core.take_failed_spans()
        self._spool.settle(settled, failed)

    def _abort_transport(self) -> None:
        with self._lock:
            transport = self._transport
        if transport is not None:
            transport.abort()

    # -- events ------------------------------------------------------------------------------

    def _dispatch(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, ServerError):
                self._on_server_error(event)
            else:
                self._emit(event)
            if isinstance(event, TranscriptCompleted | TranscriptFailed):
                self._last_progress = time.monotonic()
            if isinstance(event, TranscriptFailed):
                self._on_item_failure(event)
            if isinstance(event, SessionReady):
                self._emit(StateChanged(SessionState.STREAMING))

    def _on_item_failure(self, event: TranscriptFailed) -> None:
        """No credit shows as failing items too (docs/protocol.md, "Errors")."""
        if event.kind is ErrorKind.BILLING and self.options.billing_ends_session:
            self._fail(BillingError.no_credit("insufficient_quota"))
            self._abort_transport()

    def _on_server_error(self, event: ServerError) -> None:
        kind = event.kind
        if kind.fatal:
            self._fail(event.to_exception())
        elif kind is ErrorKind.SESSION_EXPIRED:
            self._ending = _Ending.AT_ONCE
        elif kind is ErrorKind.RATE_LIMIT:
            self._ending = _Ending.BACKOFF
            with self._lock:
                self._loss = ("rate limited by the server", Outage.SERVER)
                self._stalled = True  # the reason stands, whatever close follows
            self._emit(Notice("The server is rate-limiting this session; backing off."))
            self._abort_transport()
        else:
            self._emit(Notice(str(event.to_exception())))

    def _emit(self, event: Event) -> None:
        try:
            self._on_event(event)
        except Exception as exc:  # a failing sink must end the session visibly, not a thread
            self._fail(exc)

    def _fail(self, error: BaseException) -> None:
        if isinstance(error, AuthenticationError):
            error = self.endpoint.explain(error)
        with self._changed:
            if self._fatal is None:
                self._fatal = error
            self._changed.notify_all()


def _captured_at(pcm: bytes) -> datetime:
    """When the first sample of audio that was just captured was heard."""
    seconds = pcm_format.duration_s(len(pcm))
    return datetime.fromtimestamp(time.time() - seconds).astimezone()
