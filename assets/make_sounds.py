"""Synthesise the push-to-talk sound cues: ``python assets/make_sounds.py [OUT_DIR]``.

Writes ``sounds/start.wav``, ``sounds/stop.wav`` and ``sounds/cancel.wav`` into OUT_DIR, by
default the folder of this script: 48 kHz mono 16-bit, at most 150 ms, peaking at -18 dBFS (soft
beside speech), each note faded in and out so neither end clicks. Start rises, stop falls, cancel
is two low blips. Only numpy and the standard library; the same numpy writes the same bytes.
"""

from __future__ import annotations

import sys
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

RATE = 48_000
PEAK_DBFS = -18.0
ATTACK_MS = 6.0
RELEASE_MS = 30.0
SECOND_HARMONIC = 0.15  # a little warmth; a pure sine sounds like a test tone

Samples = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Note:
    """A tone gliding from ``start_hz`` to ``end_hz``, after ``gap_ms`` of silence."""

    start_hz: float
    end_hz: float
    ms: float
    gap_ms: float = 0.0


CUES: dict[str, tuple[Note, ...]] = {
    "start": (Note(660.0, 990.0, 110.0),),
    "stop": (Note(990.0, 660.0, 110.0),),
    "cancel": (Note(440.0, 440.0, 55.0), Note(370.0, 370.0, 55.0, gap_ms=25.0)),
}


def note(n: Note) -> Samples:
    """One faded note (peak 1 before the mix is scaled), preceded by its gap."""
    count = round(RATE * n.ms / 1000)
    t = np.arange(count) / RATE
    # A linear glide: the phase is the integral of the frequency.
    phase = 2 * np.pi * (n.start_hz * t + (n.end_hz - n.start_hz) * t**2 / (2 * n.ms / 1000))
    tone = np.sin(phase) + SECOND_HARMONIC * np.sin(2 * phase)
    envelope = np.ones(count)
    attack = round(RATE * ATTACK_MS / 1000)
    release = round(RATE * RELEASE_MS / 1000)
    envelope[:attack] = np.sin(np.linspace(0, np.pi / 2, attack)) ** 2  # starts at exactly 0
    envelope[-release:] = np.cos(np.linspace(0, np.pi / 2, release)) ** 2  # ends at ~0
    envelope[-1] = 0.0
    silence = np.zeros(round(RATE * n.gap_ms / 1000))
    return np.concatenate([silence, tone * envelope])


def cue(notes: Sequence[Note]) -> npt.NDArray[np.int16]:
    """The notes one after another, scaled so the loudest sample is at PEAK_DBFS."""
    mix = np.concatenate([note(n) for n in notes])
    peak = 32767 * 10 ** (PEAK_DBFS / 20)
    return np.asarray(np.rint(mix / np.max(np.abs(mix)) * peak), dtype=np.int16)


def write_wav(path: Path, samples: npt.NDArray[np.int16]) -> None:
    """A plain 16-bit mono PCM WAV file."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(samples.astype("<i2").tobytes())


def main(argv: Sequence[str]) -> int:
    out = Path(argv[0]) if argv else Path(__file__).resolve().parent
    folder = out / "sounds"
    folder.mkdir(parents=True, exist_ok=True)
    for name, notes in CUES.items():
        write_wav(folder / f"{name}.wav", cue(notes))
    print(f"wrote {len(CUES)} sounds to {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
