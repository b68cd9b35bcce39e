"""How the session recovers (docs/protocol.md, "Session lifetime and reconnection"): its options,
the reconnect backoff, and the stall check that tells a server that accepted and went quiet from one
that is working."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tray_stt.realtime.events import Outage
from tray_stt.realtime.transport import Keepalive

__all__ = ["BackoffGate", "SessionOptions", "StallWatch", "backoff"]


@dataclass(frozen=True)
class SessionOptions:
    """Timeouts and limits of the session worker (docs/protocol.md, "Session lifetime and
    reconnection" and "Limits")."""

    connect_timeout_s: float = 10.0
    # the server ends sessions at 60 minutes (docs/protocol.md, "Session lifetime and reconnection")
    max_session_s: float = 55 * 60
    rollover_wait_s: float = 10.0  # for the old session's transcripts before switching
    final_wait_s: float = 30.0  # with no word from the server, at the end of input
    live_silence_ms: int | None = None  # live sources: silence kept for resends (see protocol)
    offline_audio_ms: int | None = None  # live sources: audio kept through an outage (protocol)
    # Consecutive failures before giving up; None: never, also before the first connection.
    reconnect_attempts: int | None = 6
    first_connect_attempts: int | None = 3  # before any connection worked: likely a wrong URL
    backoff_s: float = 0.25  # network failures: cheap to retry, and quick to notice the return
    backoff_max_s: float = 2.0
    server_backoff_s: float = 1.0  # HTTP 5xx/429, rate limits, a stalled server: spare it
    server_backoff_max_s: float = 10.0
    # Stall detection: a server that accepted and says nothing is a network failure.
    first_event_timeout_s: float = 10.0  # connected, no session.created/updated yet
    answer_timeout_s: float = 20.0  # a commit, transcript or barrier owed and no frame at all
    ping_interval_s: float = 5.0  # our ping after this long without a frame
    pong_timeout_s: float = 15.0  # no frame at all, pongs included: the connection is dead
    billing_ends_session: bool = True  # an item failing for no credit ends the session (CLI)

    @property
    def keepalive(self) -> Keepalive:
        """The transport's ping schedule."""
        return Keepalive(self.ping_interval_s, self.pong_timeout_s)


def backoff(options: SessionOptions, failures: int, outage: Outage) -> float:
    """Capped exponential backoff; jitter only shortens it, so the cap is a promise (the next
    try comes within the cap of the server being back)."""
    if outage is Outage.NETWORK:
        base, cap = options.backoff_s, options.backoff_max_s
    else:
        base, cap = options.server_backoff_s, options.server_backoff_max_s
    delay: float = min(base * 2.0 ** min(max(failures - 1, 0), 30), cap)
    return delay * random.uniform(0.75, 1.0)


class BackoffGate:
    """One backoff shared by sessions that run at once (``transcribe --jobs``): when the server
    rate-limits one of them, none reconnects before the pause is over, so they back off
    together instead of each hammering a server that already said no. Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._until = 0.0

    def hold(self, delay: float) -> float:
        """Pause every session at least ``delay`` seconds from now; the pause left in force."""
        with self._lock:
            now = self._clock()
            self._until = max(self._until, now + delay)
            return self._until - now

    def remaining(self) -> float:
        """Seconds until a session may connect again (0 when free)."""
        with self._lock:
            return max(self._until - self._clock(), 0.0)


class StallWatch:
    """The stall check of one connection at a time; the session calls it under its lock."""

    def __init__(self, options: SessionOptions) -> None:
        self._options = options
        self._awaiting_since: float | None = None

    def idle(self) -> None:
        """No connection to watch (or it is already given up): forget what was owed."""
        self._awaiting_since = None

    def check(self, now: float, *, since: float, ready: bool, awaiting: bool) -> str | None:
        """Why the connection is stalled, if it is. ``since``: the later of connecting and the
        last frame; ``awaiting``: the server owes a commit, transcript or barrier."""
        options = self._options
        if not ready:
            if now - since > options.first_event_timeout_s:
                return f"the server did not answer within {options.first_event_timeout_s:g} s"
            return None
        if not awaiting:
            self._awaiting_since = None
            return None
        if self._awaiting_since is None:
            self._awaiting_since = now
        if now - max(self._awaiting_since, since) > options.answer_timeout_s:
            return f"the server stopped answering for {options.answer_timeout_s:g} s"
        return None
