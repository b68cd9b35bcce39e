"""Tests of client-side turn detection: LocalTurns on espeak-ng speech, and on a fake scorer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.audio_samples import speak
from tray_stt.audio import silero
from tray_stt.audio.vad import FRAME_SAMPLES, LocalTurns, SileroScorer, speech_frames
from tray_stt.errors import ConfigError
from tray_stt.realtime.turns import Speech, SpeechBegan, SpeechEnded, TurnEvent

RATE = 24_000
MS = RATE // 1000
LOUD = 328  # 1 % of full scale: where a sentence "starts" and "ends" in the clean signal
SENTENCES = [
    "Please schedule the review for Tuesday.",
    "Send a message to Alice.",
    "Stop.",
]

Int16Array = npt.NDArray[np.int16]
Span = tuple[int, int]
Utterance = tuple[int, int, int, str]  # first sample, end sample, preroll_ms, end reason


# ---------------------------------------------------------------- signals


@pytest.fixture(scope="module")
def voices() -> list[Int16Array]:
    """The sentences spoken by espeak-ng at 24 kHz (the module skips without espeak-ng)."""
    return [speak(sentence, RATE) for sentence in SENTENCES]


def floor(n: int, seed: int = 1) -> npt.NDArray[np.float64]:
    """A quiet microphone floor (+-2 LSB): real input is never all zeros, and it makes every
    stretch of the signal unique, so sent audio can be found in the input."""
    return np.random.default_rng(seed).integers(-2, 3, n).astype(np.float64)


def compose(
    parts: list[Int16Array], gap_s: float, *, noise_db: float | None = None
) -> tuple[Int16Array, list[Span]]:
    """Parts separated (and surrounded) by `gap_s`; the loud span of each part.

    With `noise_db`, white noise that many dB below the speech's RMS is added throughout.
    """
    gap = int(gap_s * RATE)
    clean = np.zeros(gap, dtype=np.float64)
    spans: list[Span] = []
    for part in parts:
        loud = np.flatnonzero(np.abs(part) >= LOUD)
        spans.append((len(clean) + int(loud[0]), len(clean) + int(loud[-1])))
        clean = np.concatenate([clean, part.astype(np.float64), np.zeros(gap)])
    mixed = clean + floor(len(clean))
    if noise_db is not None:
        speech = np.concatenate(parts).astype(np.float64)
        level = np.sqrt(np.mean(speech**2)) * 10 ** (-noise_db / 20)
        mixed += np.random.default_rng(7).standard_normal(len(clean)) * level
    return np.clip(np.round(mixed), -32768, 32767).astype(np.int16), spans


def run(turns: LocalTurns, pcm: Int16Array, chunk_bytes: int = 40 * 2 * MS) -> list[TurnEvent]:
    """Every event for `pcm` fed in chunks, then flushed."""
    raw = pcm.tobytes()
    events: list[TurnEvent] = []
    for start in range(0, len(raw), chunk_bytes):
        events += turns.process(raw[start : start + chunk_bytes])
    return events + turns.flush()


def normalised(events: list[TurnEvent]) -> list[TurnEvent]:
    """The events with runs of Speech merged, so chunkings can be compared."""
    out: list[TurnEvent] = []
    for event in events:
        if isinstance(event, Speech) and out and isinstance(out[-1], Speech):
            out[-1] = Speech(out[-1].pcm + event.pcm)
        else:
            out.append(event)
    return out


def utterances(events: list[TurnEvent], pcm: Int16Array) -> list[Utterance]:
    """Where in the input each utterance's audio came from, found by its content."""
    raw = pcm.tobytes()
    found: list[Utterance] = []
    preroll, audio = -1, bytearray()
    for event in normalised(events):
        if isinstance(event, SpeechBegan):
            preroll, audio = event.preroll_ms, bytearray()
        elif isinstance(event, Speech):
            audio += event.pcm
        else:
            at = raw.find(bytes(audio), 2 * found[-1][1] if found else 0)
            assert at >= 0 and at % 2 == 0, "sent audio is not one stretch of the input"
            found.append((at // 2, at // 2 + len(audio) // 2, preroll, event.reason))
    return found


def shape(events: list[TurnEvent]) -> list[str]:
    """The event kinds, Speech runs merged: e.g. began, speech, ended."""
    return [type(event).__name__ for event in normalised(events)]


# ---------------------------------------------------------------- real speech


def test_local_turns_one_turn_per_utterance_in_silence(voices: list[Int16Array]) -> None:
    pcm, spans = compose(voices, 1.5)
    turns = LocalTurns()
    events = run(turns, pcm)
    assert shape(events) == ["SpeechBegan", "Speech", "SpeechEnded"] * 3
    found = utterances(events, pcm)
    assert [reason for *_, reason in found] == ["silence"] * 3
    for (start, end, _, _), (first, last) in zip(found, spans, strict=True):
        assert start < first and end > last
    assert not turns.speaking


def test_local_turns_one_turn_per_utterance_in_noise(voices: list[Int16Array]) -> None:
    pcm, spans = compose(voices, 1.5, noise_db=10)
    events = run(LocalTurns(), pcm)
    assert shape(events) == ["SpeechBegan", "Speech", "SpeechEnded"] * 3
    for (start, end, _, _), (first, last) in zip(utterances(events, pcm), spans, strict=True):
        assert start < first and end > last


def background(kind: str, seconds: float) -> Int16Array:
    """Noise at -25 dBFS, or mains hum/buzz (8 harmonics) at -20 dBFS, as loud as speech.

    A buzz has its harmonics in phase: a pulse train, like the glottal pulses of a low voice.
    """
    n = int(seconds * RATE)
    if kind in ("white", "pink"):
        x = np.random.default_rng(3).standard_normal(n)
        if kind == "pink":
            spectrum = np.fft.rfft(x)
            spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))
            x = np.fft.irfft(spectrum, n)
        level = 0.056
    else:
        t, base = np.arange(n) / RATE, float(kind.removeprefix("hum").removeprefix("buzz"))
        phase = 0 if kind.startswith("buzz") else 1
        x = np.zeros(n)
        for k in range(1, 9):
            x += np.sin(2 * np.pi * base * k * t + phase * k) / k
        level = 0.1
    x *= level * 32768 / np.sqrt(np.mean(x**2))
    return np.asarray(np.round(x), dtype=np.int16)


@pytest.mark.parametrize("kind", ["white", "pink", "hum50", "hum60", "buzz60", "buzz120"])
def test_local_turns_never_begins_on_noise_or_hum(kind: str) -> None:
    turns = LocalTurns()
    assert run(turns, background(kind, 10.0)) == []
    assert not turns.speaking


def test_local_turns_preroll_includes_onset(voices: list[Int16Array]) -> None:
    pcm, spans = compose(voices, 1.5)
    found = utterances(run(LocalTurns(preroll_ms=400), pcm), pcm)
    for (start, _, preroll, _), (first, _) in zip(found, spans, strict=True):
        assert preroll == 400
        assert start <= first - 400 * MS


def test_local_turns_hangover_includes_tail(voices: list[Int16Array]) -> None:
    pcm, spans = compose(voices, 1.5)
    found = utterances(run(LocalTurns(hangover_ms=300, end_silence_ms=600), pcm), pcm)
    for (_, end, _, _), (_, last) in zip(found, spans, strict=True):
        assert end > last + 300 * MS  # the hangover follows the last speech frame
        assert end <= last + 600 * MS  # but silence past it is not sent


@pytest.mark.parametrize("chunk_bytes", [20 * 2 * MS, 100 * 2 * MS, 1001, 77, 12345, 2])
def test_local_turns_same_turns_for_any_chunk_size(
    voices: list[Int16Array], chunk_bytes: int
) -> None:
    pcm, _ = compose(voices, 1.2, noise_db=15)
    expected = normalised(run(LocalTurns(), pcm))
    assert len(expected) == 9
    assert normalised(run(LocalTurns(), pcm, chunk_bytes)) == expected


def test_local_turns_splits_long_utterance_at_max_length(voices: list[Int16Array]) -> None:
    # Pauses of 0.3 s are shorter than the end-of-turn silence: one long utterance.
    long_speech, _ = compose(voices * 2, 0.3)
    pcm, _ = compose([long_speech], 1.5)
    events = run(LocalTurns(max_utterance_s=2.0), pcm)
    found = utterances(events, pcm)
    assert len(found) >= 3
    assert [reason for *_, reason in found] == ["max_length"] * (len(found) - 1) + ["silence"]
    for (start, end, _, _), (next_start, _, preroll, _) in zip(found, found[1:], strict=False):
        assert end - start == 2 * RATE
        assert next_start == end and preroll == 0  # contiguous: nothing lost, nothing resent
    assert 0 < found[-1][1] - found[-1][0] <= 2 * RATE


def test_local_turns_flush_mid_speech_ends_utterance(voices: list[Int16Array]) -> None:
    pcm, spans = compose(voices[:1], 1.0)
    cut = (spans[0][0] + spans[0][1]) // 2
    turns = LocalTurns()
    raw = pcm[:cut].tobytes()
    events = [e for i in range(0, len(raw), 1920) for e in turns.process(raw[i : i + 1920])]
    assert turns.speaking
    events += turns.flush()
    assert not turns.speaking
    assert events[-1] == SpeechEnded("end")
    (start, end, _, reason), *_ = utterances(events, pcm[:cut])
    assert end == cut and start < spans[0][0]
    assert LocalTurns().flush() == []


def test_local_turns_sends_little_of_mostly_silent_input(voices: list[Int16Array]) -> None:
    pcm, _ = compose(voices[1:], 14.0)
    found = utterances(run(LocalTurns(), pcm), pcm)
    sent = sum(end - start for start, end, _, _ in found)
    assert len(found) == 2
    assert sent < 0.15 * len(pcm)
    assert sent > sum(len(v) for v in voices[1:])


@pytest.mark.parametrize("chunk_bytes", [960, 1001, 77, 4800])
def test_silero_scorer_same_scores_for_any_chunk_size(
    voices: list[Int16Array], chunk_bytes: int
) -> None:
    pcm, _ = compose(voices[:1], 0.5, noise_db=15)
    raw = pcm.tobytes()

    def scores(size: int) -> list[float]:
        scorer = SileroScorer()
        out = [s for i in range(0, len(raw), size) for s in scorer.process(raw[i : i + size])]
        return out + scorer.flush()

    expected = scores(len(raw))
    assert len(expected) == -(-len(pcm) // FRAME_SAMPLES)
    assert scores(chunk_bytes) == expected  # exactly: soxr must not dither


def test_speech_frames_marks_speech_and_not_silence(voices: list[Int16Array]) -> None:
    pcm, [(first, last)] = compose(voices[:1], 1.0)
    frames = speech_frames(pcm.tobytes())
    assert len(frames) == -(-len(pcm) // FRAME_SAMPLES)
    assert not any(frames[: first // FRAME_SAMPLES - 1])
    assert not any(frames[(last + 320 * MS) // FRAME_SAMPLES :])
    assert np.mean(frames[first // FRAME_SAMPLES : last // FRAME_SAMPLES]) > 0.8


# ---------------------------------------------------------------- state machine, fake scorer


FAKE_FRAME = 384  # 16 ms: LocalTurns works with any scorer's frame, not only Silero's 32 ms


class FakeScorer:
    """Scores a frame 1.0 when any sample is loud, decided `lag` frames late like a resampler."""

    frame_samples = FAKE_FRAME

    def __init__(self, lag: int = 3) -> None:
        self.lag = lag
        self._audio = bytearray()
        self._scores: list[float] = []

    def process(self, pcm: bytes) -> list[float]:
        self._audio += pcm
        whole = len(self._audio) // (2 * FAKE_FRAME) * 2 * FAKE_FRAME
        self._scores += [self._score(bytes(self._audio[i : i + 2 * FAKE_FRAME]))
                         for i in range(0, whole, 2 * FAKE_FRAME)]  # fmt: skip
        del self._audio[:whole]
        ready, self._scores = self._scores[: -self.lag or None], self._scores[-self.lag :]
        return ready if self.lag else ready + self._scores

    def flush(self) -> list[float]:
        rest = self._scores + ([self._score(bytes(self._audio))] if len(self._audio) > 1 else [])
        self._audio.clear()
        self._scores = []
        return rest

    @staticmethod
    def _score(pcm: bytes) -> float:
        return 1.0 if np.abs(np.frombuffer(pcm[: len(pcm) & ~1], "<i2")).max() >= 1000 else 0.0


def bursts(*layout: tuple[float, float]) -> tuple[Int16Array, list[Span]]:
    """A quiet floor with loud bursts: each (start_s, length_s); their exact sample spans."""
    n = int((max(s + d for s, d in layout) + 2.0) * RATE)
    x = floor(n)
    spans: list[Span] = []
    for start_s, length_s in layout:
        a, b = int(start_s * RATE), int((start_s + length_s) * RATE)
        x[a:b] += 8000 * np.sign(np.sin(np.arange(b - a) * 0.3) + 0.01)
        spans.append((a, b))
    return x.astype(np.int16), spans


def fake_turns(**settings: float) -> LocalTurns:
    """LocalTurns over the fake scorer."""
    return LocalTurns(scorer=FakeScorer(), **settings)  # type: ignore[arg-type]


def test_local_turns_boundaries_are_exact_to_the_sample() -> None:
    pcm, [(a, b)] = bursts((1.0042, 1.0))
    found = utterances(run(fake_turns(), pcm), pcm)
    first_frame, last_frame = a // FAKE_FRAME, (b - 1) // FAKE_FRAME
    # The pre-roll counts from one frame before the first speech frame (it may be mostly silence).
    assert found == [
        ((first_frame - 1) * FAKE_FRAME - 400 * MS, (last_frame + 1) * FAKE_FRAME + 300 * MS,
         400, "silence")
    ]  # fmt: skip


@pytest.mark.parametrize(("frames", "begins"), [(9, False), (10, True)])
def test_local_turns_needs_min_speech_to_begin(frames: int, begins: bool) -> None:
    pcm, _ = bursts((1.0, frames * FAKE_FRAME / RATE))
    # 1.0 s is 62.5 frames: move the burst onto a frame boundary, to fill exactly `frames`.
    pcm = np.roll(pcm, 64 * FAKE_FRAME - RATE)
    events = run(fake_turns(min_speech_ms=150), pcm)
    assert any(isinstance(e, SpeechBegan) for e in events) is begins


def test_local_turns_ignores_clicks() -> None:
    pcm, _ = bursts(*[(0.5 + 0.1 * i, 0.004) for i in range(40)])
    assert run(fake_turns(), pcm) == []


def test_local_turns_sends_a_short_pause_whole() -> None:
    pcm, [(a, _), (_, d)] = bursts((1.0, 0.5), (2.0, 0.5))  # a 500 ms pause < 600 ms
    found = utterances(run(fake_turns(), pcm), pcm)
    assert len(found) == 1 and found[0][0] < a and found[0][1] > d


def test_local_turns_never_resends_audio_after_a_quick_restart() -> None:
    pcm, _ = bursts((1.0, 0.5), (2.15, 0.5))  # a 650 ms gap: ended, then began 50 ms later
    found = utterances(run(fake_turns(), pcm), pcm)
    assert len(found) == 2
    assert found[1][0] == found[0][1]  # the second lead-in is just the unsent silence
    assert found[1][2] < 400


def test_local_turns_rejects_nonsense_settings() -> None:
    for bad in (
        {"threshold": 1.5},
        {"preroll_ms": -1},
        {"hangover_ms": 700, "end_silence_ms": 600},
        {"end_silence_ms": 0, "hangover_ms": 0},
        {"max_utterance_s": 0.5},
    ):
        with pytest.raises(ConfigError):
            fake_turns(**bad)


def test_local_turns_without_its_model_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(silero, "model_path", lambda: tmp_path / "gone.npz")
    with pytest.raises(ConfigError, match="speech detector's model .* reinstall tray-stt"):
        LocalTurns()


@settings(max_examples=60, deadline=None)
@given(
    layout=st.lists(st.tuples(st.floats(0.0, 0.8), st.floats(0.005, 1.5)), min_size=1, max_size=5),
    cuts=st.lists(st.integers(1, 9000), min_size=1, max_size=40),
    max_s=st.floats(1.1, 3.0),
)
def test_local_turns_chunking_never_changes_turns(
    layout: list[tuple[float, float]], cuts: list[int], max_s: float
) -> None:
    starts = np.cumsum([gap + 0.3 for gap, _ in layout]) + np.cumsum(
        [0, *[d for _, d in layout[:-1]]]
    )
    pcm, _ = bursts(*zip(starts.tolist(), [d for _, d in layout], strict=True))
    whole = normalised(run(fake_turns(max_utterance_s=max_s), pcm, len(pcm) * 2))
    raw, events, at = pcm.tobytes(), [], 0
    turns = fake_turns(max_utterance_s=max_s)
    for cut in cuts * (len(raw) // sum(cuts) + 1):
        events += turns.process(raw[at : at + cut])
        at += cut
    assert normalised(events + turns.flush()) == whole
    kinds = shape(whole)
    assert kinds == ["SpeechBegan", "Speech", "SpeechEnded"] * (len(kinds) // 3)
    found = utterances(whole, pcm)
    assert all(0 < end - start <= round(max_s * RATE) for start, end, _, _ in found)
