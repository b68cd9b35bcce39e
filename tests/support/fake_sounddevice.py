"""A hand-written fake of the parts of the `sounddevice` module that tray-stt uses.

`FakeBackend` stands in for the module (pass it as `backend=`). It keeps two device lists, as
PortAudio does: the "hardware" (`plug`/`unplug` change it at any time) and the snapshot taken at
`_initialize()`, which is all that `query_devices()` shows until the next `_terminate()` +
`_initialize()`. Each `FakeInputStream` plays its device's numpy signal into the callback:

- `mode="fast"`: a thread calls the callback as fast as it can;
- `mode="paced"`: a thread calls it in real time divided by `speed`;
- `mode="manual"`: no thread; the test calls `stream.pump(n)` to deliver n blocks itself.

Devices can accept only some rates or channel counts, be busy, flag `input_overflow` on given
blocks, stop delivering (and vanish from the hardware) after N blocks, or end with their signal.
`hide_portaudio` makes the real `import sounddevice` fail as it does without libportaudio2.
"""

from __future__ import annotations

import ctypes.util
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

Int16Array = npt.NDArray[np.int16]
Callback = Callable[[Int16Array, int, Any, "CallbackFlags"], None]


class PortAudioError(Exception):
    """Raised where PortAudio would fail, with the same first argument (the message)."""


@dataclass(frozen=True)
class CallbackFlags:
    """The `status` argument of the callback (only the flags tray-stt reads)."""

    input_overflow: bool = False
    input_underflow: bool = False

    def __bool__(self) -> bool:
        return self.input_overflow or self.input_underflow


@dataclass
class FakeDevice:
    """One input device. `signal` is int16, (n,) or (n, channels), played from its start."""

    name: str
    signal: Int16Array = field(default_factory=lambda: np.zeros(4800, dtype=np.int16))
    rates: tuple[int, ...] | None = None  # the sample rates it accepts; None: any
    channels: tuple[int, ...] | None = None  # the channel counts it accepts; None: 1..max
    default_samplerate: float = 48000.0
    max_input_channels: int = 1
    loop: bool = False  # replay the signal forever (else callbacks stop at its end)
    unplug_after_blocks: int | None = None  # then callbacks stop and it leaves the hardware
    overflow_blocks: frozenset[int] = frozenset()  # block numbers flagged input_overflow
    busy: bool = False  # opening fails as when another program holds the device
    hostapi: int = 0
    max_output_channels: int = 0

    def accepts(self, rate: float, channels: int) -> str | None:
        """Why this device refuses the format, or None if it accepts it."""
        if self.rates is not None and int(rate) not in self.rates:
            return "Invalid sample rate"
        allowed = self.channels or tuple(range(1, self.max_input_channels + 1))
        if channels not in allowed:
            return "Invalid number of channels"
        return None


class _Default:
    """`sounddevice.default`: only `.device`, the [input, output] pair of indices."""

    def __init__(self, backend: FakeBackend) -> None:
        self._backend = backend

    @property
    def device(self) -> list[int]:
        return [self._backend.default_index(), -1]


class FakeBackend:
    """Stands in for the `sounddevice` module; see the module docstring."""

    PortAudioError = PortAudioError
    CallbackFlags = CallbackFlags

    def __init__(
        self,
        devices: list[FakeDevice] | None = None,
        *,
        default: str | None = None,
        mode: str = "fast",
        speed: float = 1.0,
        blocksize: int = 0,
        hostapis: tuple[str, ...] = ("ALSA",),
        query_error: str | None = None,
    ) -> None:
        """`default` names the default input (else the first); `blocksize` 0 means 10 ms."""
        assert mode in ("fast", "paced", "manual"), mode
        self.hardware: list[FakeDevice] = list(devices or [])
        self.default_name = default
        self.mode = mode
        self.speed = speed
        self.blocksize = blocksize
        self.hostapis = hostapis
        self.query_error = query_error
        self.streams: list[FakeInputStream] = []
        self.refreshes = 0  # how many times _initialize() re-read the hardware
        # Calls on a stream that _terminate() freed, or closed twice: each crashes real PortAudio.
        self.use_after_free: list[str] = []
        self.events: list[str] = []  # "initialize", "terminate", "play", "played", in order
        self.default = _Default(self)
        self._lock = threading.Lock()
        self._initialized = 0
        self._snapshot: list[FakeDevice] = []
        self._initialize()
        self.refreshes = 0

    # --- the sounddevice API -------------------------------------------------------------

    def query_devices(self) -> list[dict[str, Any]]:
        """Every device of the snapshot, as dicts with sounddevice's keys."""
        if self.query_error is not None:
            raise PortAudioError(self.query_error)
        return [self._info(i, d) for i, d in enumerate(self._snapshot)]

    def query_hostapis(self) -> tuple[dict[str, Any], ...]:
        """The host APIs, as dicts with a "name"."""
        return tuple({"name": name} for name in self.hostapis)

    def check_input_settings(
        self,
        device: int | str | None = None,
        channels: int | None = None,
        dtype: str | None = None,
        extra_settings: Any = None,
        samplerate: float | None = None,
    ) -> None:
        """Raise PortAudioError as PortAudio would if the device refuses the format."""
        self._resolve(device, channels or 1, samplerate or 48000.0, dtype or "float32")

    def RawInputStream(self, **kwargs: Any) -> FakeInputStream:  # noqa: N802 (sounddevice's name)
        """A new stream, opened as sounddevice.RawInputStream(...) would (its blocks support
        the buffer protocol, as the raw stream's do)."""
        stream = FakeInputStream(backend=self, **kwargs)
        with self._lock:
            self.streams.append(stream)
        return stream

    def OutputStream(self, **kwargs: Any) -> FakeOutputStream:  # noqa: N802 (sounddevice's name)
        """A blocking output stream that "plays" what is written in real time."""
        return FakeOutputStream(self, **kwargs)

    def _initialize(self) -> None:
        self.events.append("initialize")
        self._initialized += 1
        self.refreshes += 1
        with self._lock:
            self._snapshot = list(self.hardware)

    def _terminate(self) -> None:
        self.events.append("terminate")
        # Pa_Terminate closes and frees every stream still open, as the real one does.
        for stream in list(self.streams):
            if not stream.closed:
                stream.close()
                stream.freed = True
        self._initialized -= 1

    # --- test controls ---------------------------------------------------------------------

    def plug(self, device: FakeDevice) -> None:
        """Connect a device; PortAudio sees it after the next refresh."""
        with self._lock:
            self.hardware.append(device)

    def unplug(self, name: str) -> None:
        """Disconnect a device; PortAudio still lists it until the next refresh."""
        with self._lock:
            self.hardware = [d for d in self.hardware if d.name != name]

    def default_index(self) -> int:
        """PortAudio's default input device index in the snapshot, or -1 if there is none."""
        names = [d.name for d in self._snapshot]
        if self.default_name in names:
            return names.index(self.default_name)
        return 0 if self._snapshot else -1

    @property
    def last_stream(self) -> FakeInputStream:
        """The stream opened most recently."""
        return self.streams[-1]

    def _info(self, index: int, d: FakeDevice) -> dict[str, Any]:
        return {
            "name": d.name,
            "index": index,
            "hostapi": d.hostapi,
            "max_input_channels": d.max_input_channels,
            "max_output_channels": d.max_output_channels,
            "default_samplerate": d.default_samplerate,
        }

    def _resolve(
        self, device: int | str | None, channels: int, rate: float, dtype: str
    ) -> FakeDevice:
        index = self.default_index() if device is None else device
        if isinstance(index, str):
            names = [d.name for d in self._snapshot]
            index = names.index(index) if index in names else -1
        if not 0 <= index < len(self._snapshot):
            raise PortAudioError(f"Error querying device {index}")
        found = self._snapshot[index]
        if found.max_input_channels < 1:
            raise PortAudioError("Invalid number of channels")
        if dtype != "int16":
            raise PortAudioError("Sample format not supported by the fake")
        refusal = found.accepts(rate, channels)
        if refusal:
            raise PortAudioError(refusal)
        return found


class FakeOutputStream:
    """sounddevice.OutputStream as a context manager whose `write` lasts as long as the sound."""

    def __init__(self, backend: FakeBackend, *, samplerate: float, channels: int, dtype: str):
        self._backend = backend
        self._rate = samplerate

    def __enter__(self) -> FakeOutputStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._backend.events.append("played")

    def write(self, frames: Int16Array) -> None:
        """Block for the sound's duration, as a blocking write to a sound card does."""
        self._backend.events.append("play")
        time.sleep(len(frames) / self._rate)


class FakeInputStream:
    """A callback input stream that plays its device's signal (see the module docstring)."""

    def __init__(
        self,
        *,
        backend: FakeBackend,
        samplerate: float | None = None,
        channels: int | None = None,
        dtype: str | None = None,
        device: int | str | None = None,
        callback: Callback | None = None,
        blocksize: int | None = None,
        latency: str | float | None = None,
    ) -> None:
        """Open like PortAudio: PortAudioError if the device is busy or refuses the format."""
        assert callback is not None, "the fake only does callback streams"
        self.samplerate = float(samplerate or 48000.0)
        self.channels = channels or 1
        self.dtype = dtype or "float32"
        self.latency = latency
        self.device = backend._resolve(device, self.channels, self.samplerate, self.dtype)
        if self.device.busy:
            raise PortAudioError("Error opening InputStream: Device unavailable")
        self.blocksize = blocksize or backend.blocksize or max(1, int(self.samplerate) // 100)
        self.callback = callback
        self.blocks_delivered = 0
        self.callback_errors: list[BaseException] = []
        self.callback_seconds: list[float] = []  # how long each callback call took
        self.finished = threading.Event()  # no more callbacks will come (end, unplug or close)
        self._active = False
        self.closed = False
        self.freed = False  # closed by the backend's _terminate(): every later call is a crash
        self._backend = backend
        self._signal = _frames(self.device.signal, self.channels)
        self._position = 0
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start delivering blocks (from a thread, unless the backend is in manual mode)."""
        self._check_alive("start")
        if self.closed:
            raise PortAudioError("Stream is closed")
        self._active = True
        if self._backend.mode != "manual" and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fake-portaudio", daemon=True)
            self._thread.start()

    @property
    def active(self) -> bool:
        """Whether the stream runs (Pa_IsStreamActive)."""
        self._check_alive("active")
        return self._active

    def stop(self, ignore_errors: bool = True) -> None:
        """Stop delivering; waits for a callback in progress, as Pa_StopStream does."""
        self._check_alive("stop")
        self._active = False
        self._halt.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)
        self.finished.set()

    abort = stop

    def close(self, ignore_errors: bool = True) -> None:
        """Stop and close."""
        if self.closed:
            self._check_alive("close")
            self._backend.use_after_free.append(f"close of closed {self.device.name}")
            return
        self.stop()
        self.closed = True

    def _check_alive(self, call: str) -> None:
        if self.freed:
            self._backend.use_after_free.append(f"{call} of freed {self.device.name}")

    def pump(self, blocks: int = 1) -> int:
        """Manual mode: deliver up to `blocks` blocks in the caller's thread; how many went."""
        assert self._backend.mode == "manual", "pump() is for mode='manual'"
        delivered = 0
        while delivered < blocks and self._active and self._deliver_one():
            delivered += 1
        return delivered

    def _run(self) -> None:
        started = time.monotonic()
        frames_done = 0
        while not self._halt.is_set() and self._deliver_one():
            frames_done += self.blocksize
            if self._backend.mode == "paced":
                # Deadlines from the start, so sleep overshoot does not accumulate.
                due = started + frames_done / self.samplerate / self._backend.speed
                self._halt.wait(max(0.0, due - time.monotonic()))
        self.finished.set()

    def _deliver_one(self) -> bool:
        """Call the callback with the next block; False when the device delivers no more."""
        block = self._next_block()
        if block is None:
            self.finished.set()
            return False
        status = CallbackFlags(input_overflow=self.blocks_delivered in self.device.overflow_blocks)
        began = time.perf_counter()
        try:
            self.callback(block, len(block), None, status)
        except BaseException as e:  # PortAudio would abort the stream; keep it for the test
            self.callback_errors.append(e)
            self.finished.set()
            return False
        finally:
            self.callback_seconds.append(time.perf_counter() - began)
        self.blocks_delivered += 1
        return True

    def _next_block(self) -> Int16Array | None:
        limit = self.device.unplug_after_blocks
        if limit is not None and self.blocks_delivered >= limit:
            self._backend.unplug(self.device.name)  # callbacks just stop: no error, no status
            return None
        if self._position >= len(self._signal):
            if not self.device.loop or len(self._signal) == 0:
                return None
            self._position = 0
        block = self._signal[self._position : self._position + self.blocksize]
        self._position += len(block)
        return np.ascontiguousarray(block)


def _frames(signal: Int16Array, channels: int) -> Int16Array:
    """The signal as (frames, channels) int16: a mono signal is copied to every channel."""
    data = np.asarray(signal, dtype=np.int16)
    if data.ndim == 1:
        return np.repeat(data[:, None], channels, axis=1)
    assert data.shape[1] == channels, f"signal has {data.shape[1]} channels, stream {channels}"
    return data


def hide_portaudio(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `import sounddevice` fail as it does when the PortAudio library is not installed."""
    # sounddevice looks the library up with ctypes.util.find_library and raises OSError when
    # that finds nothing (on Linux; macOS and Windows fall back to the wheel's bundled copy).
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)


class FedMicrophone:
    """A Microphone stand-in that yields exactly the chunks the test feeds.

    ``feed`` returns once they were handed on, so the test's own actions (a press, a mute) fall
    between the same chunks as they would live.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.queue: queue.Queue[bytes | None] = queue.Queue()

    def start(self) -> None:
        pass

    def chunks(self) -> Iterator[bytes]:
        while (chunk := self.queue.get()) is not None:
            yield chunk
            self.queue.task_done()

    def stop(self) -> None:
        self.queue.put(None)

    def feed(self, chunk: bytes, count: int = 1) -> None:
        for _ in range(count):
            self.queue.put(chunk)
        self.queue.join()
