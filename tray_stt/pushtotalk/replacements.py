"""Spoken phrases replaced by text before a dictation is typed: "new line", "smiley", names.

A pure function of a transcript and the user's table (standard library only). Dictation applies
it before consecutive turns are joined (``pushtotalk.joining``), so a turn that ends in a newline
is followed by the next one with no space and a capital. The rules (README, "Push-to-talk
dictation"):

- a phrase matches whole words, in any case, with spaces or a hyphen between its words; in
  scripts written without spaces (Chinese, Japanese) a phrase matches inside a run of text;
- what replaces it depends on the replacement: blank text ("\\n") swallows the spaces around
  the phrase and the punctuation the server put after it ("Hello. New line. Bye" is
  "Hello.\\nBye"); punctuation ("?") attaches to the word before and swallows the server's own
  ("Really, question mark." is "Really?"); empty text drops the phrase and a comma after it;
  anything else replaces the words only, capitalised when the phrase was and the replacement
  is all lower case, and a symbol (an emoji) takes the place of a period after it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# What the server adds after a spoken command, and what a punctuation replacement replaces.
PUNCTUATION = ".,;:!?…。、！？，：；"
_SPACES = " \t"
_CLAUSE = ",;:、，"  # what a dropped filler takes with it: "Um, so" is "So"


@dataclass(frozen=True)
class Replacement:
    """One entry of the table: ``phrase`` as spoken, ``text`` as it should be typed."""

    phrase: str
    text: str


def parse_replacements(table: object) -> tuple[Replacement, ...]:
    """The config's ``replacements`` table, checked; ValueError names the bad entry."""
    if not isinstance(table, Mapping):
        raise ValueError('must be a table like { "new line" = "\\n", smiley = "🙂" }')
    entries: dict[str, Replacement] = {}
    for phrase, text in table.items():
        spoken = unicodedata.normalize("NFC", " ".join(str(phrase).split()))
        if not spoken:
            raise ValueError("has an empty phrase: say which words to replace")
        if not isinstance(text, str):
            raise ValueError(f'entry "{phrase}" must map to text, like "🙂" or "" to drop it')
        key = _key(spoken)
        if not key:
            raise ValueError(f'has the phrase "{phrase}", which has no words to replace')
        if key in entries:
            raise ValueError(f'has "{entries[key].phrase}" and "{phrase}", the same phrase twice')
        entries[key] = Replacement(spoken, text)
    return tuple(entries.values())


class Replacer:
    """A table compiled once; ``apply`` is called for every delivered turn."""

    def __init__(self, table: Iterable[Replacement]) -> None:
        table = [r for r in table if _words(r.phrase)]
        self._texts = {_key(r.phrase): r.text for r in table}
        # Longest first: "new paragraph" wins over "new".
        phrases = sorted((r.phrase for r in table), key=len, reverse=True)
        alternatives = "|".join(_pattern(p) for p in phrases)
        self._pattern = re.compile(alternatives, re.IGNORECASE) if phrases else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def apply(self, text: str) -> str:
        """``text`` with every phrase of the table replaced; unchanged if none occurs."""
        if self._pattern is None:
            return text
        normal = unicodedata.normalize("NFC", text)
        matches = list(self._pattern.finditer(normal))
        if not matches:
            return text
        out = ""
        at = 0  # how far ``normal`` has been copied or consumed
        capital = False  # a dropped phrase began the sentence: the next word takes its capital
        for match in matches:
            if match.start() < at:
                continue  # eaten by the previous replacement's punctuation
            between = normal[at : match.start()]
            spoken = match.group()
            if capital and between:
                between, capital = _capitalised(between), False
            elif capital:
                spoken, capital = _capitalised(spoken), False
            out += between
            replacement = self._texts[_key(spoken)]
            out, at, capital = _put(out, normal, match.end(), spoken, replacement)
        rest = normal[at:]
        return out + (_capitalised(rest) if capital else rest)


def replace_phrases(text: str, table: Iterable[Replacement]) -> str:
    """``text`` with the phrases of ``table`` replaced (see the module's rules)."""
    return Replacer(table).apply(text)


def _key(phrase: str) -> str:
    """A phrase as the table looks it up: "New-line" and "new  line" are "new line"."""
    return " ".join(_words(phrase)).casefold()


def _words(phrase: str) -> list[str]:
    return [word for word in re.split(r"[\s-]+", phrase) if word]


def _pattern(phrase: str) -> str:
    """The regular expression of one phrase: its words, any spaces or a hyphen between."""
    body = r"(?:\s+|-)".join(re.escape(word) for word in _words(phrase))
    before = r"(?<!\w)" if _spaced(phrase[0]) else ""
    after = r"(?!\w)" if _spaced(phrase[-1]) else ""
    return before + body + after


def _spaced(char: str) -> bool:
    """Whether ``char`` is a letter or digit of a script that separates words with spaces."""
    if not (char.isalnum() or char == "_"):
        return False  # ":)" as a phrase needs no boundary
    name = unicodedata.name(char, "")
    return not name.startswith(("CJK UNIFIED", "HIRAGANA", "KATAKANA", "CJK COMPATIBILITY"))


def _put(out: str, text: str, end: int, spoken: str, replacement: str) -> tuple[str, int, bool]:
    """``out`` with ``replacement`` added for the phrase ``spoken`` that ended at ``end`` of
    ``text``; where copying ``text`` resumes; whether what follows takes a capital."""
    if replacement and not replacement.strip():  # layout: "\n", "\n\n", "\t"
        end = _skip(text, end, PUNCTUATION)
        return out.rstrip(_SPACES) + replacement, _skip(text, end, _SPACES), False
    if replacement and replacement[0] in PUNCTUATION:  # "?", ",", "."
        out = out.rstrip(_SPACES + PUNCTUATION)
        return out + replacement, _skip(text, end, PUNCTUATION), False
    if not replacement:  # dropped: "um"
        end = _skip(text, end, _CLAUSE)
        if end == len(text) or text[end] in PUNCTUATION:
            before = out.rstrip(_SPACES + _CLAUSE)
            if not before or before[-1] in PUNCTUATION:  # "Hello. Um. Bye": a sentence of its own
                return out, _skip(text, _skip(text, end, PUNCTUATION), _SPACES), False
            return before, end, False
        if out and out[-1] not in _SPACES:
            return out, end, False
        return out, _skip(text, end, _SPACES), spoken[0].isupper()
    if replacement.islower() and spoken[0].isupper():  # "Tray stt" at a sentence start
        replacement = _capitalised(replacement)
    if unicodedata.category(replacement[-1]).startswith("S") and _period_at(text, end):
        end += 1  # "Great, smiley." is "Great, 🙂", not "🙂."
    return out + replacement, end, False


def _skip(text: str, at: int, chars: str) -> int:
    while at < len(text) and text[at] in chars:
        at += 1
    return at


def _period_at(text: str, at: int) -> bool:
    """A single period that ends a sentence: not "..." and not "3.5"."""
    return text[at : at + 1] == "." and (at + 1 == len(text) or text[at + 1].isspace())


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]
