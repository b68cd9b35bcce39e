"""The shapes ``tray-stt transcribe --format`` writes a file's transcripts in: txt, srt, vtt, json.

Each transcript is written as soon as it is released (spoken order), so a long file's subtitles
grow while it is transcribed. json is JSON Lines: one object per line, so several files' output
concatenates and streams, and each line parses alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tray_stt.realtime.usage import Usage

FORMATS = ("txt", "srt", "vtt", "json")


@dataclass(frozen=True)
class Cue:
    """One transcript placed in its file: ``start``/``end`` in seconds of the file's timeline."""

    index: int  # 1-based, in spoken order within the file
    start: float
    end: float
    text: str
    usage: Usage | None = None


def header(fmt: str) -> str:
    """What opens a file's output (WebVTT's signature line)."""
    return "WEBVTT\n\n" if fmt == "vtt" else ""


def render(fmt: str, cue: Cue, source: str) -> str:
    """One transcript in ``fmt``, with its line endings; ``source`` names the file (json)."""
    if fmt == "srt":
        return f"{cue.index}\n{_stamp(cue.start, ',')} --> {_stamp(cue.end, ',')}\n{cue.text}\n\n"
    if fmt == "vtt":
        return f"{_stamp(cue.start, '.')} --> {_stamp(cue.end, '.')}\n{cue.text}\n\n"
    if fmt == "json":
        record = {
            "file": source,
            "start": round(cue.start, 3),
            "end": round(cue.end, 3),
            "text": cue.text,
            "usage": usage_json(cue.usage),
        }
        return json.dumps(record, ensure_ascii=False) + "\n"
    return cue.text + "\n"


def usage_json(usage: Usage | None) -> dict[str, Any] | None:
    """The item's usage as the server reported it (docs/protocol.md, "Server events"), or None."""
    if usage is None:
        return None
    if usage.by_duration:
        return {"type": "duration", "seconds": usage.seconds}
    return {
        "type": "tokens",
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "input_token_details": {
            "audio_tokens": usage.audio_tokens,
            "text_tokens": usage.text_tokens,
        },
    }


def _stamp(seconds: float, comma: str) -> str:
    """``HH:MM:SS,mmm`` (SubRip) or ``HH:MM:SS.mmm`` (WebVTT)."""
    ms = max(round(seconds * 1000), 0)
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}{comma}{rest % 1000:03d}"
