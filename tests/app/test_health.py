"""The health model: one problem at a time, announced once per burst, withdrawn when it clears."""

from __future__ import annotations

from datetime import datetime

from tray_stt.app.health import (
    KEPT,
    Announce,
    Health,
    Problem,
    Trouble,
    Withdraw,
    trouble_for_error,
    trouble_for_failure,
    trouble_for_reconnect,
)
from tray_stt.errors import (
    AudioInputError,
    AuthenticationError,
    BillingError,
    ConfigError,
    ConnectionFailed,
)
from tray_stt.realtime.events import Outage, Reconnecting, TranscriptFailed
from tray_stt.realtime.wire import ErrorKind

DOWN = Trouble(Problem.NETWORK_DOWN, "down")
BROKE = Trouble(Problem.NO_CREDIT, "no credit")


def test_health_a_burst_of_one_problem_is_one_announcement() -> None:
    health = Health(repeat_s=600)
    assert health.report(DOWN, 0.0) == Announce(DOWN)
    assert [health.report(DOWN, t) for t in (1.0, 5.0, 60.0)] == [None, None, None]
    assert health.current == DOWN


def test_health_a_lasting_problem_is_announced_again_after_repeat_s() -> None:
    health = Health(repeat_s=600)
    health.report(DOWN, 0.0)
    assert health.report(DOWN, 599.0) is None
    assert health.report(DOWN, 601.0) == Announce(DOWN)


def test_health_a_worse_problem_replaces_a_lesser_one_but_not_the_reverse() -> None:
    health = Health()
    health.report(DOWN, 0.0)
    assert health.report(BROKE, 1.0) == Announce(BROKE)
    assert health.report(DOWN, 2.0) is None  # the account is what to fix first
    assert health.current == BROKE


def test_health_clearing_withdraws_only_the_current_problem() -> None:
    health = Health()
    health.report(BROKE, 0.0)
    assert health.clear(Problem.NETWORK_DOWN) is None
    assert health.clear(Problem.ITEMS_FAILING, Problem.NO_CREDIT) == Withdraw(Problem.NO_CREDIT)
    assert health.current is None
    assert health.report(BROKE, 1.0) == Announce(BROKE)  # it came back: say so again at once


def test_health_errors_map_to_problems() -> None:
    cases = {
        AuthenticationError.rejected("The server", "401"): Problem.KEY_REJECTED,
        BillingError.no_credit("insufficient_quota"): Problem.NO_CREDIT,
        AudioInputError("No input device found."): Problem.MICROPHONE_LOST,
        ConnectionFailed("Could not keep a connection."): Problem.NETWORK_DOWN,
    }
    for error, problem in cases.items():
        trouble = trouble_for_error(error)
        assert trouble is not None and trouble.problem is problem
        assert trouble.sentence == str(error)
    assert trouble_for_error(ConfigError("bad model")) is None
    assert trouble_for_error(RuntimeError("bug")) is None


def test_health_sentences_say_what_and_when() -> None:
    failed = TranscriptFailed("Server busy.", "", datetime(2026, 12, 2, 9, 30, 5), "i1")
    assert trouble_for_failure(failed, "utterance") == Trouble(
        Problem.ITEMS_FAILING,
        f"Could not transcribe the utterance at 09:30:05: Server busy. {KEPT}",
    )
    down = trouble_for_reconnect(Reconnecting("connection refused", 2.0))
    assert down.problem is Problem.NETWORK_DOWN and "connection refused" in down.sentence
    assert down.sentence.startswith("The network is down")
    stalled = trouble_for_reconnect(Reconnecting("no answer for 15 s", 1.0, Outage.STALLED))
    assert stalled.sentence.startswith("The transcription server stopped answering")


def test_health_an_item_failing_for_want_of_credit_is_no_credit() -> None:
    """Every item failed with 429 insufficient_quota: one plain notification per utterance,
    no cause, no "add credit"."""
    at = datetime(2026, 12, 2, 9, 30, 5)
    broke = TranscriptFailed("You exceeded your current quota.", "", at, "i1", ErrorKind.BILLING)
    trouble = trouble_for_failure(broke, "utterance")
    assert trouble.problem is Problem.NO_CREDIT and trouble.problem.urgent
    assert "add credit at https://platform.openai.com/" in trouble.sentence
    assert trouble.sentence.endswith(KEPT)
    assert Problem.NO_CREDIT.urgent and not Problem.NETWORK_DOWN.urgent
