"""What client-side turn detection kept from being sent, counted into the ledger."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from tray_stt.metering.ledger import UsageLedger
from tray_stt.metering.local_turns import FLUSH_MS, CountingTurns
from tray_stt.realtime.pcm import BYTES_PER_MS
from tray_stt.realtime.turns import Speech, SpeechBegan, SpeechEnded, TurnEvent

DAY = date(2026, 12, 2)
CHUNK = bytes(100 * BYTES_PER_MS)  # 100 ms


class EveryOther:
    """Lets every other chunk through as speech."""

    def __init__(self) -> None:
        self.n = 0

    def process(self, pcm: bytes) -> list[TurnEvent]:
        self.n += 1
        return [SpeechBegan(0), Speech(pcm)] if self.n % 2 else []

    def flush(self) -> list[TurnEvent]:
        return [SpeechEnded("end")]


def test_counting_turns_adds_heard_and_sent_at_the_end(tmp_path: Path) -> None:
    ledger = UsageLedger(tmp_path / "u.sqlite3")
    turns = CountingTurns(EveryOther(), ledger, "gpt-live-transcribe", today=lambda: DAY)
    events = [turns.process(CHUNK) for _ in range(10)]
    assert events[0] == [SpeechBegan(0), Speech(CHUNK)] and events[1] == []  # passed through
    assert ledger.local_turns(DAY, DAY) == (0, 0)  # not a minute yet
    assert turns.flush() == [SpeechEnded("end")]
    assert ledger.local_turns(DAY, DAY) == (1000, 500)


def test_counting_turns_saves_every_minute_so_a_crash_loses_little(tmp_path: Path) -> None:
    ledger = UsageLedger(tmp_path / "u.sqlite3")
    turns = CountingTurns(EveryOther(), ledger, "m", today=lambda: DAY)
    for _ in range(FLUSH_MS // 100):
        turns.process(CHUNK)
    assert ledger.local_turns(DAY, DAY) == (FLUSH_MS, FLUSH_MS // 2)
    turns.process(CHUNK)
    turns.flush()
    assert ledger.local_turns(DAY, DAY) == (FLUSH_MS + 100, FLUSH_MS // 2 + 100)
