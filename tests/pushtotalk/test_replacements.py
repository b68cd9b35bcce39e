"""Spoken phrases replaced by text in dictation (issue 14, item 2): whole words, any case,
punctuation the server adds, Korean and accented text; before joining, optionally in the log."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.pushtotalk.test_delivery import GEDIT, Clipboard, FakeX11, deliverer, typed
from tray_stt.config import Config
from tray_stt.pushtotalk.delivery import DeliveryMode
from tray_stt.pushtotalk.replacements import (
    Replacement,
    Replacer,
    parse_replacements,
    replace_phrases,
)
from tray_stt.transcripts import daily_log

TABLE = parse_replacements(
    {
        "new line": "\n",
        "new paragraph": "\n\n",
        "smiley": "🙂",
        "tray stt": "tray-stt",
        "github": "GitHub",
        "question mark": "?",
        "comma": ",",
        "um": "",
        "스마일": "😊",
        "새 줄": "\n",
        "café noir": "☕",
        "Zoë": "Zoë Smith",
        "你好": "👋",
    }
)


@pytest.mark.parametrize(
    ("text", "replaced"),
    [
        # Layout: the spaces around it and the server's punctuation after it go.
        ("Hello. New line. How are you?", "Hello.\nHow are you?"),
        ("New line.", "\n"),
        ("Dear John, new line, thanks.", "Dear John,\nthanks."),
        ("one new-line two", "one\ntwo"),
        ("End. New paragraph. Start", "End.\n\nStart"),
        # Whole words only, any case, any spacing between the words.
        ("newline stays", "newline stays"),
        ("smileys stay", "smileys stay"),
        ("SMILEY", "🙂"),
        ("New   Line", "\n"),
        # A word's replacement: capital at a sentence start when the replacement is lower case.
        ("Tray stt is great.", "Tray-stt is great."),
        ("I use tray stt.", "I use tray-stt."),
        ("Github is down.", "GitHub is down."),
        # A symbol takes the place of a sentence's period, not of "!" or of "3.5".
        ("Great, smiley.", "Great, 🙂"),
        ("Great, smiley!", "Great, 🙂!"),
        ("Smiley, see you.", "🙂, see you."),
        ("Smiley... ok", "🙂... ok"),
        # Punctuation attaches to the word before and replaces the server's own.
        ("Really, question mark.", "Really?"),
        ("Hello comma how are you", "Hello, how are you"),
        # Dropped fillers take their comma; the sentence keeps its capital.
        ("Um, so we go.", "So we go."),
        ("I think, um.", "I think."),
        ("I um think", "I think"),
        ("Um.", ""),
        ("Hello. Um. Bye", "Hello. Bye"),
        # Korean: words are separated by spaces, so a phrase is a whole word there too.
        ("좋아요 스마일.", "좋아요 😊"),
        ("스마일", "😊"),
        ("스마일을 보내요", "스마일을 보내요"),  # with a particle: another word
        ("첫 줄. 새 줄. 둘째 줄", "첫 줄.\n둘째 줄"),
        # Accents: case-insensitive, and decomposed text is found too.
        ("Un café noir, s'il vous plaît.", "Un ☕, s'il vous plaît."),
        ("UN CAFÉ NOIR", "UN ☕"),
        ("un cafe\u0301 noir", "un ☕"),
        ("un café noirci", "un café noirci"),
        ("Hi zoë.", "Hi Zoë Smith."),
        # Chinese has no spaces between words: a phrase matches inside a run.
        ("我说你好吗", "我说👋吗"),
    ],
)
def test_replacements(text: str, replaced: str) -> None:
    assert replace_phrases(text, TABLE) == replaced


def test_longest_phrase_wins_and_replacements_are_not_replaced_again() -> None:
    table = parse_replacements({"new": "NEW", "new line": "\n", "smile": "smiley"})
    assert replace_phrases("a new line new smile", table) == "a\nNEW smiley"


def test_no_table_and_no_match_leave_the_text_alone() -> None:
    assert not Replacer(())
    assert replace_phrases("un cafe\u0301", ()) == "un cafe\u0301"
    assert replace_phrases("un cafe\u0301", TABLE) == "un cafe\u0301"  # not even normalised


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("smiley", 'must be a table like { "new line" = "\\n", smiley = "🙂" }'),
        ({"smiley": 3}, 'entry "smiley" must map to text, like "🙂" or "" to drop it'),
        ({"  ": "x"}, "has an empty phrase: say which words to replace"),
        ({"-": "x"}, 'has the phrase "-", which has no words to replace'),
        ({"Smiley": "a", "smiley": "b"}, 'has "Smiley" and "smiley", the same phrase twice'),
    ],
)
def test_a_bad_table_is_refused_naming_the_entry(table: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_replacements(table)
    assert str(caught.value) == message


words = st.text(alphabet="abcdeé스마일 ,.", max_size=30)


@given(words)
def test_text_without_any_phrase_is_unchanged(text: str) -> None:
    assert replace_phrases(text, parse_replacements({"zzz": "🙂", "new line": "\n"})) == text


@given(st.lists(st.sampled_from(["hello", "smiley", "new line", "tray stt", "Um,", "a."])))
def test_no_phrase_survives_and_every_other_word_does(spoken: list[str]) -> None:
    text = " ".join(spoken)
    replaced = replace_phrases(text, TABLE)
    assert "smiley" not in replaced.casefold() and "new line" not in replaced
    kept = [w for w in text.split() if w in ("hello", "a.")]
    assert [w for w in replaced.casefold().split() if w in ("hello", "a.")] == kept


@given(st.lists(st.sampled_from(["hello", "smiley", "new line", "tray stt", "ok."])))
def test_replacing_twice_changes_nothing_more(spoken: list[str]) -> None:
    once = replace_phrases(" ".join(spoken), TABLE)
    assert replace_phrases(once, TABLE) == once


def test_dictation_replaces_before_joining_so_a_new_line_takes_no_space() -> None:
    x11, clip, commands = FakeX11(GEDIT), Clipboard(""), []
    d = deliverer(DeliveryMode.TYPE, x11, clip, commands)
    d._replacer = Replacer(TABLE)
    for text in ("Hello there. New line.", "how are you, smiley.", "See you.", "Um."):
        d.deliver(text, GEDIT)
    assert typed(commands) == ["Hello there.\n", "How are you, 🙂", " See you."]


def test_the_log_keeps_what_was_said_unless_asked(tmp_path: Path) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5)
    table = parse_replacements({"smiley": "🙂", "new line": "\n"})
    said = daily_log(Config(log_dir=tmp_path / "said", replacements=table))
    typed_log = daily_log(
        Config(log_dir=tmp_path / "typed", replacements=table, replacements_in_log=True)
    )
    assert said is not None and typed_log is not None
    with said, typed_log:
        said.append("Great, smiley. New line. Bye", when)
        typed_log.append("Great, smiley. New line. Bye", when)
    said_line = "03:04:05  Great, smiley. New line. Bye\n"
    assert (tmp_path / "said/2026-01-02.txt").read_text() == said_line
    assert (tmp_path / "typed/2026-01-02.txt").read_text() == "03:04:05  Great, 🙂 Bye\n"


def test_a_replacement_is_a_plain_value() -> None:
    assert TABLE[0] == Replacement("new line", "\n")
