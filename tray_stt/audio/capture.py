"""The parts of a microphone's capture: the state it reports, the stream it holds, and the
formats it tries (tray_stt.audio.microphone puts them together)."""

from __future__ import annotations

import queue
from dataclasses import dataclass, field
from enum import Enum

from tray_stt.audio.convert import Resampler, downmix
from tray_stt.audio.devices import InputDevice, pick_device, portaudio_reason
from tray_stt.audio.host import Callback, HostStream, PortAudioHost
from tray_stt.errors import AudioInputError
from tray_stt.realtime.pcm import SAMPLE_RATE


class MicrophoneStatus(Enum):
    """What a microphone is doing, as the tray shows it."""

    OPENING = "opening"  # started; no audio has arrived yet
    CAPTURING = "capturing"  # audio arrives from `MicrophoneState.device`
    LOST = "lost"  # no audio arrives; the microphone keeps trying to record again
    STOPPED = "stopped"


@dataclass(frozen=True)
class MicrophoneState:
    """A microphone's state; `reason` is the sentence to show when it is LOST."""

    status: MicrophoneStatus
    device: str | None = None
    reason: str = ""


@dataclass
class Opened:
    """A started stream, and the consumer's state for converting its blocks."""

    stream: HostStream
    device: InputDevice
    rate: int
    channels: int
    last_block_at: float
    delivered: bool = False
    fallback: bool = False  # opened instead of the configured device
    resampler: Resampler = field(init=False)

    def __post_init__(self) -> None:
        """Start the resampler at the stream's rate."""
        self.resampler = Resampler(self.rate)

    def convert(self, block: bytes) -> bytes:
        """Downmix and resample one interleaved int16 block to 24 kHz mono PCM16."""
        if self.channels > 1:
            import numpy as np  # here: 24 kHz mono capture, and the idle tray, never load it

            # PortAudio gives native-endian samples; every platform we run on is little-endian.
            frames = np.frombuffer(block, dtype="<i2")
            block = np.rint(downmix(frames, self.channels)).astype("<i2").tobytes()
        return self.resampler.process(block)

    def drain(self, blocks: queue.Queue[bytes]) -> bytes:
        """Convert what this stream left in `blocks` once closed, then the resampler's tail."""
        parts = []
        while True:
            try:
                block = blocks.get_nowait()
            except queue.Empty:
                break
            if block:
                parts.append(self.convert(block))
        parts.append(self.resampler.flush())
        return b"".join(parts)


def open_first_format(
    host: PortAudioHost,
    device: InputDevice,
    latency: str,
    callback: Callback,
    now: float,
    block_ms: int,
) -> Opened:
    """Open and start `device` in the first of `formats` it accepts; OpenFailed if none."""
    reason = "it refused every format"
    for rate, channels in formats(device):
        # Raw: the callback only copies the bytes, so a numpy array made for each block in the
        # real-time thread would be wasted.
        try:
            stream = host.open_input(
                device,
                rate=rate,
                channels=channels,
                blocksize=rate * block_ms // 1000,
                latency=latency,
                callback=callback,
            )
        except (host.errors, ValueError) as e:
            reason = portaudio_reason(e)
            continue
        return Opened(stream, device, rate, channels, now)
    raise OpenFailed(reason)


class OpenFailed(Exception):
    """A device refused every format we tried; `str()` is PortAudio's reason."""


def formats(device: InputDevice) -> list[tuple[int, int]]:
    """(rate, channels) to try, best first: no resampling beats no downmixing."""
    rates = dict.fromkeys([SAMPLE_RATE, round(device.default_samplerate)])
    counts = dict.fromkeys(
        c for c in (1, 2, device.max_input_channels) if c <= device.max_input_channels
    )
    return [(rate, channels) for rate in rates if rate > 0 for channels in counts]


def cannot_open(name: str, reason: str) -> str:
    return (
        f"Cannot open the microphone {name}: {reason}. Close any program that is using it,"
        " or choose another device (`tray-stt devices` lists them)."
    )


def named(devices: list[InputDevice], name: str) -> list[InputDevice]:
    """The device `pick_device` would choose for `name`, or none."""
    try:
        chosen, _ = pick_device(devices, name)
    except AudioInputError:
        return []
    return [chosen]
