"""The audio journal: reads across blocks, trimming the oldest, forgetting a middle range."""

from __future__ import annotations

from datetime import datetime, timedelta

from tray_stt.realtime.journal import BYTES_PER_MS, AudioJournal

T0 = datetime(2026, 11, 23, 9, 0, 0).astimezone()


def journal_of(*blocks: bytes) -> AudioJournal:
    journal = AudioJournal()
    for index, block in enumerate(blocks):
        journal.append(block, T0 + timedelta(seconds=index))
    return journal


def test_journal_reads_across_blocks_and_clamps_to_what_is_kept() -> None:
    journal = journal_of(b"aaaa", b"bbbb", b"cccc")
    assert journal.read(2, 10) == b"aabbbbcc"
    assert journal.read(-5, 100) == b"aaaabbbbcccc"
    journal.trim(6)
    assert (journal.start, journal.end) == (6, 12)
    assert journal.read(0, 12) == b"bbcccc"  # clamped to the new start, mid-block
    assert journal.kept_bytes == 8  # the block holding the start stays whole, to be dated


def test_journal_forgets_whole_blocks_in_the_middle_and_keeps_the_rest_dated() -> None:
    journal = journal_of(b"aaaa", b"bbbb", b"cccc", b"dddd")
    journal.forget(3, 12)  # "aaaa" and "dddd" straddle or lie outside: only b and c go
    assert journal.kept_bytes == 8
    assert journal.read(0, 4) == b"aaaa" and journal.read(12, 16) == b"dddd"
    assert journal.time_at(13) == T0 + timedelta(seconds=3, milliseconds=1 / BYTES_PER_MS)
    assert (journal.start, journal.end) == (0, 16)  # offsets are never renumbered
    journal.append(b"eeee", T0)
    assert journal.read(12, 20) == b"ddddeeee"
