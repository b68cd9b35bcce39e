"""Server text is data, never control: the one cleaning every transcript gets before any use.

Pure and standard library only: the protocol core applies it once, so the terminal, the daily
log, the clipboard and the focused window all receive the same clean text (docs/protocol.md, "Server
text is data").
"""

from __future__ import annotations

import re

# Terminal escape sequences, 7-bit and 8-bit (ECMA-48): CSI (colours, cursor moves, screen
# clears), OSC (window titles, hyperlinks, clipboard writes), DCS/SOS/PM/APC strings, and the
# two-character escapes. An unterminated string sequence runs to the end of the text.
_ESCAPES = re.compile(
    r"""
      (?:\x1b\[|\x9b) [\x30-\x3f]* [\x20-\x2f]* [\x40-\x7e]?                 # CSI
    | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]) .*? (?:\x07|\x1b\\|\x9c|$)     # OSC, DCS, ...
    | \x1b [\x20-\x2f]* [\x30-\x7e]?                                         # other escapes
    """,
    re.VERBOSE | re.DOTALL,
)
# Whitespace controls and Unicode line separators separate words: each becomes one space.
_BREAKS = re.compile(r"[\t\n\v\f\r\x1c-\x1f\x85\u2028\u2029]+")
# What is left of C0, DEL and C1, and the bidi embeddings, overrides and isolates that can make
# text display in another order than it reads (CVE-2021-42574, "Trojan Source").
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u202a-\u202e\u2066-\u2069]")


def clean_text(text: str) -> str:
    """``text`` without control characters, escape sequences or bidi overrides; line breaks
    and tabs become spaces. Printable text, emoji and right-to-left scripts are kept."""
    if text.isprintable():
        return text  # the common case: nothing to strip
    text = _ESCAPES.sub("", text)
    text = _BREAKS.sub(" ", text)
    return _CONTROLS.sub("", text)
