"""The spool file format: a header, then CRC-checked records, readable up to the last whole one.

A segment file is ``MAGIC`` followed by records ``<length u32><crc32 u32><kind u8><payload>``
(little-endian; the CRC covers kind and payload). Kinds:

- ``A`` audio: ``<offset u64><captured f64 epoch s>`` then 24 kHz PCM16;
- ``S`` settled: ``<offset u64>``: all audio before it is transcribed and logged, or silence;
- ``F`` failed: ``<start u64><end u64>`` then a UTF-8 reason: kept for a retry despite ``S``;
- ``D`` done: ``<start u64><end u64>``: transcribed later (a retry), whatever ``S`` or ``F`` say;
- ``E`` end: a UTF-8 note saying why the session that wrote the file ended.

A crash mid-record leaves a short or mismatching tail: reading stops there and says so.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

MAGIC = b"TSTSPOOL1\n"
_HEAD = struct.Struct("<IIB")
_AUDIO = struct.Struct("<Qd")
_OFFSET = struct.Struct("<Q")
_RANGE = struct.Struct("<QQ")
_MAX_RECORD = 64 * 1024 * 1024  # a length past this is corruption, not a record


@dataclass(frozen=True)
class Audio:
    """Captured audio at a session offset, with the wall-clock time of its first sample."""

    offset: int
    captured: float  # seconds since the epoch
    pcm: bytes

    @property
    def end(self) -> int:
        """The offset just past this audio."""
        return self.offset + len(self.pcm)

    @property
    def when(self) -> datetime:
        """The capture time as a local, aware datetime."""
        return datetime.fromtimestamp(self.captured).astimezone()


@dataclass(frozen=True)
class Settled:
    """Everything before ``offset`` is transcribed and logged, or silence."""

    offset: int


@dataclass(frozen=True)
class Failed:
    """Audio in ``[start, end)`` the server did not transcribe, and why."""

    start: int
    end: int
    reason: str


@dataclass(frozen=True)
class Done:
    """Audio in ``[start, end)`` transcribed and logged by a retry."""

    start: int
    end: int


@dataclass(frozen=True)
class Ended:
    """Why the session that wrote this run ended."""

    note: str


Record = Audio | Settled | Failed | Done | Ended


def encode(record: Record) -> bytes:
    """One framed record."""
    if isinstance(record, Audio):
        kind, payload = b"A", _AUDIO.pack(record.offset, record.captured) + record.pcm
    elif isinstance(record, Settled):
        kind, payload = b"S", _OFFSET.pack(record.offset)
    elif isinstance(record, Failed):
        kind, payload = b"F", _RANGE.pack(record.start, record.end) + record.reason.encode()
    elif isinstance(record, Done):
        kind, payload = b"D", _RANGE.pack(record.start, record.end)
    else:
        kind, payload = b"E", record.note.encode()
    body = kind + payload
    return _HEAD.pack(len(payload), zlib.crc32(body), kind[0]) + payload


def _decode(kind: int, payload: bytes) -> Record | None:
    if kind == ord("A") and len(payload) >= _AUDIO.size:
        offset, captured = _AUDIO.unpack_from(payload)
        return Audio(offset, captured, payload[_AUDIO.size :])
    if kind == ord("S") and len(payload) == _OFFSET.size:
        return Settled(_OFFSET.unpack(payload)[0])
    if kind == ord("F") and len(payload) >= _RANGE.size:
        start, end = _RANGE.unpack_from(payload)
        return Failed(start, end, payload[_RANGE.size :].decode(errors="replace"))
    if kind == ord("D") and len(payload) == _RANGE.size:
        return Done(*_RANGE.unpack(payload))
    if kind == ord("E"):
        return Ended(payload.decode(errors="replace"))
    return None


@dataclass
class ReadResult:
    """What a segment file held up to its last whole record, and what was wrong past it."""

    records: list[Record]
    problem: str | None = None  # None: the whole file was read


def read_segment(path: Path) -> ReadResult:
    """Every whole record of ``path``, and what stopped the reading if it was not the end."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return ReadResult([], f"cannot read {path.name} ({exc.strerror or exc})")
    if not data.startswith(MAGIC):
        if MAGIC.startswith(data):  # created, the header not (all) written yet
            return ReadResult([], f"{path.name} is truncated" if data else None)
        return ReadResult([], f"{path.name} is not a spool file")
    records: list[Record] = []
    problem: str | None = None
    for item in _records(data, len(MAGIC)):
        if isinstance(item, str):
            problem = f"{path.name}: {item}"
            break
        records.append(item)
    return ReadResult(records, problem)


def _records(data: bytes, position: int) -> Iterator[Record | str]:
    while position < len(data):
        if len(data) - position < _HEAD.size:
            yield f"{len(data) - position} bytes of a truncated record at the end"
            return
        length, crc, kind = _HEAD.unpack_from(data, position)
        start = position + _HEAD.size
        if length > _MAX_RECORD or start + length > len(data):
            yield f"a truncated record at byte {position}"
            return
        payload = data[start : start + length]
        if zlib.crc32(bytes([kind]) + payload) != crc:
            yield f"a damaged record at byte {position}"
            return
        record = _decode(kind, payload)
        if record is None:
            yield f"an unknown record at byte {position}"
            return
        yield record
        position = start + length
