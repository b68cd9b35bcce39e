"""Server text is data: clean_text strips control characters, escapes and bidi overrides."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.realtime.test_protocol import MS, T0, completed, frame, ready_client, speech
from tray_stt.realtime.events import TranscriptCompleted, TranscriptDelta, TranscriptFailed
from tray_stt.realtime.text import clean_text

BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("plain words, 숫자 123 ✓ café", "plain words, 숫자 123 ✓ café"),
        ("\x1b[2J\x1b[Hcleared", "cleared"),
        ("\x1b[31mred\x1b[0m text", "red text"),
        ("\x1b]0;owned title\x07after", "after"),
        ("\x1b]52;c;ZXZpbA==\x1b\\clipboard", "clipboard"),
        ("\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("\x9b31mC1 CSI", "C1 CSI"),
        ("\x1bPq#0;2;0;0;0\x1b\\sixel", "sixel"),
        ("\x1b7\x1b8saved", "saved"),
        ("unterminated \x1b]0;title", "unterminated "),
        ("a\rb", "a b"),
        ("a\r\n09:00:00  forged line", "a 09:00:00  forged line"),
        ("tab\there", "tab here"),
        ("bell\x07 nul\x00 del\x7f", "bell nul del"),
        ("line\u2028sep", "line sep"),
        ("admin\u202e\u2066txt.exe\u2069", "admintxt.exe"),
        ("שלום עולם", "שלום עולם"),
        ("emoji 👍🏽 zwj 👨‍👩‍👧", "emoji 👍🏽 zwj 👨‍👩‍👧"),
    ],
)
def test_clean_text_examples(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


@given(st.text())
def test_clean_text_leaves_nothing_that_controls_a_terminal(raw: str) -> None:
    clean = clean_text(raw)
    assert not any(unicodedata.category(c) == "Cc" for c in clean)
    assert not BIDI & set(clean)
    assert clean_text(clean) == clean


@given(st.text(st.characters(blacklist_categories=("Cc", "Cf", "Zl", "Zp", "Cs"))))
def test_clean_text_keeps_printable_text(raw: str) -> None:
    assert clean_text(raw) == raw


def test_protocol_cleans_completed_delta_and_failure_text() -> None:
    client = ready_client()
    client.append(bytes(3000 * MS), T0)
    client.take_outgoing()
    speech(client, "item_1", None, 0, 800)
    delta = "conversation.item.input_audio_transcription.delta"
    client.receive(frame(delta, item_id="item_1", content_index=0, delta="Hi \x1b[3"))
    [last] = client.receive(frame(delta, item_id="item_1", content_index=0, delta="1mthere"))
    assert isinstance(last, TranscriptDelta) and last.text == "Hi there"
    [done] = completed(client, "item_1", "\x1b[2J\rHi\x1b]0;pwned\x07 there\u202e")
    assert done == TranscriptCompleted(" Hi there", done.started_at, "item_1")
    speech(client, "item_2", "item_1", 1000, 1800)
    client.receive(frame(delta, item_id="item_2", content_index=0, delta="\x1b[1mpart"))
    [failed] = client.receive(
        frame(
            "conversation.item.input_audio_transcription.failed",
            item_id="item_2",
            content_index=0,
            error={"type": "server_error", "code": None, "message": "\x1b[5mbad\r", "param": None},
        )
    )
    assert isinstance(failed, TranscriptFailed)
    assert (failed.reason, failed.partial_text) == ("bad ", "part")
