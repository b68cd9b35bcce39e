"""What is wrong right now, across listening and dictation: one problem at a time, told once.

A pure model (the clock is handed in): the controller reports problems as the typed events and
errors arrive and clears them when things work again; this decides when the user hears of it. A
problem is announced once when it starts (a burst of failures is one notification), again only if
it is still there after ``repeat_s``, replaced when a worse one takes over, and withdrawn when it
clears. docs/architecture.md, "Errors" lists the problems and their sentences.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tray_stt.errors import AudioInputError, AuthenticationError, BillingError, ConnectionFailed
from tray_stt.realtime.events import Outage, Reconnecting, TranscriptFailed
from tray_stt.realtime.wire import ErrorKind


class Problem(Enum):
    """A kind of trouble the user can act on, worst first (a worse one replaces a lesser)."""

    KEY_REJECTED = "key rejected"
    NO_CREDIT = "no credit"
    MICROPHONE_LOST = "microphone lost"
    NETWORK_DOWN = "network down"
    ITEMS_FAILING = "server failing items"

    @property
    def rank(self) -> int:
        """Lower is worse."""
        return list(Problem).index(self)

    @property
    def urgent(self) -> bool:
        """Whether only the user can fix it (a critical notification), not tray-stt by itself."""
        return self in (Problem.KEY_REJECTED, Problem.NO_CREDIT, Problem.MICROPHONE_LOST)


@dataclass(frozen=True)
class Trouble:
    """A problem and the sentence that says what is wrong and what to do."""

    problem: Problem
    sentence: str


@dataclass(frozen=True)
class Announce:
    """Show ``trouble`` (replacing any health notification still on screen)."""

    trouble: Trouble


@dataclass(frozen=True)
class Withdraw:
    """The problem cleared: take its notification away."""

    problem: Problem


Decision = Announce | Withdraw


class Health:
    """The current trouble, and when to tell the user about it."""

    def __init__(self, *, repeat_s: float = 600.0) -> None:
        """``repeat_s``: how long a problem must last before it is announced again."""
        self._repeat_s = repeat_s
        self._current: Trouble | None = None
        self._announced_at: float | None = None

    @property
    def current(self) -> Trouble | None:
        """What is wrong now, or None."""
        return self._current

    def report(self, trouble: Trouble, now: float) -> Decision | None:
        """``trouble`` happened at ``now``; an Announce if the user should hear of it now."""
        current = self._current
        if current is not None and trouble.problem.rank > current.problem.rank:
            return None  # a lesser problem behind a worse one: the worse one is what to fix
        same = current is not None and current.problem is trouble.problem
        self._current = trouble
        recent = self._announced_at is not None and now - self._announced_at < self._repeat_s
        if same and recent:
            return None  # a burst of one problem is one notification
        self._announced_at = now
        return Announce(trouble)

    def clear(self, *problems: Problem) -> Decision | None:
        """These problems are over (a connection works, a transcript arrived, audio flows)."""
        current = self._current
        if current is None or current.problem not in problems:
            return None
        self._current = None
        self._announced_at = None
        return Withdraw(current.problem)


def trouble_for_error(error: BaseException) -> Trouble | None:
    """The problem an error that ended a session or a dictation stands for, if it is one."""
    for kind, problem in _ERROR_PROBLEMS:
        if isinstance(error, kind):
            return Trouble(problem, str(error))
    return None


def trouble_for_failure(event: TranscriptFailed, what: str) -> Trouble:
    """An utterance (``what``: utterance, dictation) the server could not transcribe; one that
    failed for want of credit is the account's problem, not the server's."""
    if event.kind is ErrorKind.BILLING:
        return Trouble(Problem.NO_CREDIT, f"{BillingError.no_credit('insufficient_quota')} {KEPT}")
    when = f"{event.started_at:%H:%M:%S}"
    reason = event.reason.rstrip(".")
    return Trouble(
        Problem.ITEMS_FAILING, f"Could not transcribe the {what} at {when}: {reason}. {KEPT}"
    )


def trouble_for_reconnect(event: Reconnecting) -> Trouble:
    """The connection failed and the session is retrying by itself."""
    where = {
        Outage.NETWORK: "The network is down or the server cannot be reached",
        Outage.SERVER: "The transcription server is refusing connections for now",
        Outage.STALLED: "The transcription server stopped answering",
    }[event.outage]
    return Trouble(
        Problem.NETWORK_DOWN,
        f"{where} ({event.reason}): tray-stt keeps trying and carries on by itself. {KEPT}",
    )


KEPT = "What you say meanwhile is kept and transcribed later (`tray-stt pending` lists it)."


_ERROR_PROBLEMS: tuple[tuple[type[BaseException], Problem], ...] = (
    (AuthenticationError, Problem.KEY_REJECTED),
    (BillingError, Problem.NO_CREDIT),
    (AudioInputError, Problem.MICROPHONE_LOST),
    (ConnectionFailed, Problem.NETWORK_DOWN),
)
