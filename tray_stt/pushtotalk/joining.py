"""Consecutive dictations that read like typing: the separator and the first letter a typist uses.

A pure function of what was delivered last into the same field and the new transcript. The
server transcribes each turn as a sentence of its own ("Hello there." then "How are you."), so
without this three turns read "Hello there.How are you." Standard library only.
"""

from __future__ import annotations

import unicodedata

SENTENCE_ENDS = ".!?…。！？"
# Closing marks that may follow a sentence end: ``He said "Stop."`` still ends a sentence.
CLOSERS = "\"')]}»”’」』"
# After these, the next word follows with no space.
OPENERS = "([{«“‘¿¡「『"
# These attach to the word before them: no space in front.
ATTACHED = ".,!?;:…%)]}»”’。、！？，：；」』"
# After these the case of the next word is the speaker's: a name, a heading or a sentence.
KEEP_CASE_AFTER = ":—–-"


def join(previous: str, text: str) -> str:
    """``text`` as it should follow ``previous`` in the same field: with a leading space where
    a typist puts one, and its first letter capitalised after a sentence end and lower-cased
    after a sentence that goes on. ``previous`` empty: ``text`` unchanged."""
    if not previous or not text:
        return text
    body = text.lstrip()
    if not body:
        return text
    body = _cased(previous, body)
    return _separator(previous, body) + body


def _separator(previous: str, text: str) -> str:
    last, first = previous[-1], text[0]
    if last.isspace() or last in OPENERS or first in ATTACHED:
        return ""
    if _no_spaces(last) and _no_spaces(first):
        return ""  # Chinese and Japanese run sentences together
    return " "


def _cased(previous: str, text: str) -> str:
    word = text.split(maxsplit=1)[0]
    if _ends_sentence(previous):
        return text[0].upper() + text[1:]
    if previous.rstrip()[-1:] in KEEP_CASE_AFTER:
        return text  # "Name: Alice", "Note — Tomorrow": either case may follow
    if unicodedata.category(previous.rstrip()[-1:] or " ") == "So":
        return text  # "Great 🙂" may end a sentence or go on: the server's case stands
    if _is_plain_capitalised(word):
        return text[0].lower() + text[1:]
    return text


def _ends_sentence(previous: str) -> bool:
    """Whether ``previous`` ends a sentence (or a line: the next one starts anew)."""
    if previous[-1] in "\n\r":
        return True
    stripped = previous.rstrip().rstrip(CLOSERS)
    return bool(stripped) and stripped[-1] in SENTENCE_ENDS


def _is_plain_capitalised(word: str) -> bool:
    """A word capitalised only because a sentence began with it: "That", not "I", "I'm", "NASA"
    or "iPhone" (a name cannot be told from a sentence start: the server's choice stands then)."""
    letters = [c for c in word if c.isalpha()]
    if len(letters) < 2 or not letters[0].isupper() or word.startswith(("I'", "I’")):
        return False
    return all(c.islower() for c in letters[1:])


def _no_spaces(char: str) -> bool:
    """Whether ``char`` belongs to a script written without spaces between words."""
    if char in "。！？、，：；「」『』":
        return True
    name = unicodedata.name(char, "")
    return name.startswith(("CJK UNIFIED", "HIRAGANA", "KATAKANA", "CJK SYMBOLS"))
