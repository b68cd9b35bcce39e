"""Consecutive dictations joined like typing (issue: "Hello there.How are you.")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tray_stt.pushtotalk.joining import join


@pytest.mark.parametrize(
    ("previous", "text", "joined"),
    [
        ("", "Hello there.", "Hello there."),
        ("Hello there.", "How are you.", " How are you."),
        ("golf", "hotel", " hotel"),
        ("Hello there.", "and then?", " And then?"),
        ("so I think", "That it works.", " that it works."),
        ("so I think", "I'm sure.", " I'm sure."),
        ("so I think", "I am sure.", " I am sure."),
        ("we asked", "NASA.", " NASA."),
        ("we bought an", "iPhone.", " iPhone."),
        ('He said "Stop."', "Then he left.", " Then he left."),
        ("(see", "Page two)", " page two)"),
        ("see (", "Page two)", "page two)"),
        ("Note:", "Tomorrow we fly.", " Tomorrow we fly."),
        ("Line one.\n", "line two", "Line two"),
        ("Name: ", "Alice", "Alice"),
        ("Hello", ", world", ", world"),
        ("Hello", "!", "!"),
        ("It costs 5", "%", "%"),
        ("안녕하세요.", "반갑습니다.", " 반갑습니다."),
        ("Ça va.", "éthique d'abord.", " Éthique d'abord."),
        ("je pense", "Élodie vient.", " élodie vient."),
        ("今日は晴れです。", "明日は雨です。", "明日は雨です。"),
        ("你好。", "再见。", "再见。"),
        ("Hello there.", "   How are you.", " How are you."),
        ("Hello there.", "", ""),
        ("Great, 🙂", "See you.", " See you."),  # an emoji may end a sentence: case kept
        ("Great, 🙂", "and you", " and you"),
    ],
)
def test_join_separator_and_first_letter(previous: str, text: str, joined: str) -> None:
    assert join(previous, text) == joined


@given(st.text(), st.text())
def test_join_keeps_every_word_and_adds_at_most_one_space(previous: str, text: str) -> None:
    joined = join(previous, text)
    assert joined.casefold().split() == text.casefold().split() or not text.strip()
    assert len(joined) <= len(text) + 1
