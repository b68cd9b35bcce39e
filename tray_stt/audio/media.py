"""Audio and video files decoded to 24 kHz mono PCM16 chunks for the realtime API (PyAV).

PyAV carries FFmpeg inside its wheels, so every container and codec people record in (mp3,
m4a/AAC, ogg/opus, flac, webm, wav, the audio track of an mp4 video) is read by one decoder
without a system FFmpeg. Decoding streams frame by frame into the soxr resampler of
``audio.convert``: memory stays flat however long the file. ``av`` is imported here only, and
only when a file is opened, so the tray's idle process never loads it (docs/architecture.md,
"Layers"). Why PyAV and not libsndfile: README, "Audio and video files".
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tray_stt.audio.convert import Rechunker, Resampler
from tray_stt.audio.wav import WavFile, open_wav
from tray_stt.errors import AudioInputError
from tray_stt.realtime.pcm import BYTES_PER_MS, checked_chunk_ms

_WAV_MAGIC = (b"RIFF", b"RF64", b"BW64")
_GUARD_S = 0.5  # a file this much shorter than its header says was cut short


@dataclass
class MediaFile:
    """An opened audio or video file; `pcm_chunks` streams its first audio track."""

    path: str
    sample_rate: int
    channels: int
    codec: str
    duration_s: float  # what the container declares (0.0 when it does not say)
    start_s: float = 0.0  # where its first audio sample lies in the file's timeline
    warnings: tuple[str, ...] = ()
    decoded_s: float = field(default=0.0, compare=False)  # audio decoded so far

    def pcm_chunks(
        self, chunk_ms: int = 40, on_problem: Callable[[str], None] | None = None
    ) -> Iterator[bytes]:
        """Yield `chunk_ms` chunks of 24 kHz mono PCM16 LE; the last may be shorter, never empty.

        Raises ConfigError (at the call) unless 20 <= chunk_ms <= 100. Damage found partway is
        told to `on_problem` in one sentence and ends the audio there: what came before is kept.
        """
        return self._chunks(checked_chunk_ms(chunk_ms) * BYTES_PER_MS, on_problem)

    def _chunks(
        self, chunk_bytes: int, on_problem: Callable[[str], None] | None
    ) -> Iterator[bytes]:
        resampler = Resampler(self.sample_rate)
        rechunker = Rechunker(chunk_bytes)
        self.decoded_s = 0.0
        for block in self._mono_blocks(on_problem):
            self.decoded_s += len(block) / 2 / self.sample_rate
            yield from rechunker.push(resampler.process(block))
        yield from rechunker.push(resampler.flush())
        rest = rechunker.flush()
        if rest:
            yield rest
        if on_problem is not None and self.duration_s - self.decoded_s > _GUARD_S:
            on_problem(
                f"{self.path} is truncated: its header promises {_seconds(self.duration_s)} of "
                f"audio but the file holds {_seconds(self.decoded_s)}; transcribed what is there."
            )

    def _mono_blocks(self, on_problem: Callable[[str], None] | None) -> Iterator[bytes]:
        """The audio track as mono PCM16 at the file's own rate, one decoded frame at a time."""
        import av

        try:
            with av.open(self.path, metadata_errors="ignore") as container:
                stream = container.streams.audio[0]
                stream.codec_context.thread_type = "AUTO"
                convert = av.AudioResampler(format="s16", layout="mono", rate=self.sample_rate)
                try:
                    for frame in container.decode(stream):
                        for out in convert.resample(frame):
                            yield bytes(out.planes[0])[: out.samples * 2]
                    for out in convert.resample(None):
                        yield bytes(out.planes[0])[: out.samples * 2]
                except (av.FFmpegError, ValueError) as e:
                    self.duration_s = 0.0  # said here: not "truncated" as well
                    if on_problem is not None:
                        on_problem(
                            f"{self.path} is damaged after {_seconds(self.decoded_s)} of audio "
                            f"({_cause(e)}); transcribed what came before."
                        )
        except (av.FFmpegError, OSError) as e:  # changed on disk since it was opened
            raise AudioInputError(f"Cannot read the audio file {self.path}: {_cause(e)}.") from e


AudioFile = WavFile | MediaFile
"""An opened input of ``transcribe``: ``path``, ``duration_s``, ``warnings``, ``pcm_chunks``."""


def open_audio(path: str | os.PathLike[str]) -> AudioFile:
    """Open any audio or video file: WAV through the RIFF reader, the rest through FFmpeg.

    WAV keeps its own reader because it was measured to read what FFmpeg refuses (RF64 and
    recorders' unfinished size-0 headers, header-promised lengths to warn about) and to start
    without loading FFmpeg (README, "Audio and video files"); both feed the same resampler.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            head = f.read(12)
    except OSError:
        head = b""  # open_media says what is wrong with it, in one sentence
    except ValueError as e:  # a NUL byte in the name
        raise AudioInputError(f"{name!r} is not a valid file name.") from e
    if head[:4] in _WAV_MAGIC and head[8:12] == b"WAVE":
        return open_wav(name)
    return open_media(name)


def open_media(path: str | os.PathLike[str]) -> MediaFile:
    """Open an audio or video file and decode its first audio frame, so that a file that
    cannot be transcribed is refused before any network; AudioInputError says why in one
    sentence."""
    name = os.fspath(path)
    if os.path.isdir(name):
        raise AudioInputError(f"{name} is a directory, not an audio file.")
    if "\0" in name:
        raise AudioInputError(f"{name!r} is not a valid file name.")
    try:
        size = os.path.getsize(name)
    except FileNotFoundError as e:
        raise AudioInputError(f"The audio file {name} does not exist.") from e
    except OSError as e:
        raise AudioInputError(f"Cannot read the audio file {name}: {_cause(e)}.") from e
    if size == 0:
        raise AudioInputError(f"The audio file {name} is empty: it contains no audio.")
    import av

    try:
        with av.open(name, metadata_errors="ignore") as container:
            return _probe(container, name)
    except PermissionError as e:
        raise AudioInputError(f"Cannot read the audio file {name}: permission denied.") from e
    except av.InvalidDataError as e:
        raise AudioInputError(
            f"{name} is not an audio or video file tray-stt can read: its data is damaged or of "
            "an unknown kind."
        ) from e
    except EOFError as e:  # FFmpeg's end of file, before any audio
        raise AudioInputError(f"{name} ends before its audio: it is cut short or damaged.") from e
    except (av.FFmpegError, ValueError) as e:
        raise AudioInputError(
            f"{name} is damaged or not an audio file tray-stt can read ({_cause(e)})."
        ) from e
    except OSError as e:
        raise AudioInputError(f"Cannot read the audio file {name}: {_cause(e)}.") from e


def _probe(container: Any, name: str) -> MediaFile:
    import av

    if not container.streams.audio:
        kind = "a video without sound" if container.streams.video else "without an audio track"
        raise AudioInputError(f"{name} has no audio to transcribe: it is {kind}.")
    stream = container.streams.audio[0]
    if stream.codec_context is None:
        raise AudioInputError(
            f"{name} is in an audio format tray-stt cannot decode: convert it with "
            f"`ffmpeg -i {name} out.wav`."
        )
    codec = stream.codec_context.name
    try:
        first = next(iter(container.decode(stream)), None)
    except av.FFmpegError as e:
        raise AudioInputError(
            f"{name} cannot be decoded: its {codec} audio is damaged ({_cause(e)})."
        ) from e
    if first is None or first.samples == 0:
        raise AudioInputError(f"The audio file {name} contains no audio.")
    rate = first.sample_rate or stream.rate
    if not rate:
        raise AudioInputError(f"{name} is damaged: its audio track has no sample rate.")
    duration = 0.0
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / av.time_base
    # The first sample's place in the file's timeline (a video's audio may start late); the
    # container's own start (an mp3 encoder's delay) is the timeline's zero.
    zero = container.start_time / av.time_base if container.start_time is not None else 0.0
    start = max(float(first.time) - zero, 0.0) if first.time is not None else 0.0
    return MediaFile(
        path=name,
        sample_rate=rate,
        channels=first.layout.nb_channels,
        codec=codec,
        duration_s=max(duration, 0.0),
        start_s=start,
    )


def _seconds(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def _cause(e: BaseException) -> str:
    text = getattr(e, "strerror", None) or str(e)
    return str(text).rstrip(".").lower() if text else type(e).__name__
