"""Microphone capture through PortAudio: 24 kHz mono PCM16 chunks from a device chosen by name.

It loads sounddevice (through audio.portaudio) only when a microphone is used, so that files can
be transcribed without PortAudio. The PortAudio callback only copies each block into a
bounded queue; resampling, downmixing, chunking, notices and the watchdog that replaces a lost
device all run in the thread that iterates `Microphone.chunks()`. Every stream is opened and
closed through the process's one `audio.host.PortAudioHost`, so several microphones can share
the process and re-read the device list without freeing each other's streams.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from tray_stt.audio.capture import (
    MicrophoneState,
    MicrophoneStatus,
    Opened,
    OpenFailed,
    cannot_open,
    named,
    open_first_format,
)
from tray_stt.audio.convert import Rechunker
from tray_stt.audio.devices import (
    Backend,
    InputDevice,
    default_of,
    load_backend,
    pick_device,
)
from tray_stt.audio.host import PortAudioHost, host_for
from tray_stt.errors import AudioInputError
from tray_stt.realtime.pcm import BYTES_PER_MS, checked_chunk_ms

__all__ = ["Microphone", "MicrophoneState", "MicrophoneStatus"]

# 40 ms blocks, not blocksize=0: PortAudio then picks ~2.7 ms blocks through PulseAudio (52
# frames on ALSA), and waking Python for each one cost 3.6 % of a core in the callback thread
# alone (benchmarks/bench_listen.py, server VAD: 7.3 % in all; 3.3 % with 20 ms blocks, 2.1-2.4 %
# with 40 ms). 40 ms is also what the session sends per message; the added delay is 20 ms.
# Where the server decides turns, listening asks for larger blocks (app/listening.py).
_BLOCK_MS = 40
_QUEUE_BLOCKS = 1000  # 40 s of audio in 40 ms blocks before dropping any
_RETRY_S = 1.0  # between attempts while no device works
_LOSS_NOTICE_S = 10.0
# A device just opened may take longer than the watchdog to deliver its first block: PulseAudio
# resuming a suspended source, a Bluetooth headset switching profile. Without this grace such a
# device is called dead and replaced by the default one.
_FIRST_BLOCK_GRACE = 2
_POLL_MAX_S = 0.05
_WATCH_S = 2.0  # how often a fall-back microphone looks whether the configured one is back
_NO_WORKING = "No working microphone: plug one in; tray-stt keeps trying."


class Microphone:
    """Captures a microphone and yields 24 kHz mono PCM16 LE chunks of `chunk_ms` milliseconds.

    Opening order: the chosen device at 24 kHz mono; the same device at its default rate (then
    resampled) and, if mono is refused, with its own channel count (then downmixed); finally, with
    a notice, the default device. A device that stops (unplugged, or its PulseAudio source gone)
    or stays silent for `watchdog_s` is reported LOST and replaced by the configured device when
    it is back, else the default one, retrying every `retry_s` while none works.

    `on_notice` (sentences) and `on_state` (each change of `MicrophoneState`) are called from
    the thread iterating `chunks()`, and from `start()`'s and `stop()`'s callers for OPENING,
    STOPPED and the fall-back notice; they must not block for long.
    """

    def __init__(
        self,
        device: str | None = None,
        *,
        chunk_ms: int = 40,
        on_notice: Callable[[str], None] = lambda _text: None,
        on_state: Callable[[MicrophoneState], None] = lambda _state: None,
        backend: Backend = None,
        watchdog_s: float = 1.0,
        retry_s: float = _RETRY_S,
        latency: str = "low",
        clock: Callable[[], float] = time.monotonic,
        block_ms: int = _BLOCK_MS,
    ) -> None:
        """Configure; nothing opens until `start()`. ConfigError unless 20 <= chunk_ms <= 100.

        `block_ms`: the audio PortAudio hands over per callback; each block wakes two threads,
        and it delays the audio by up to its length."""
        if watchdog_s <= 0 or retry_s <= 0:
            raise ValueError(f"watchdog_s, retry_s must be positive: {watchdog_s}, {retry_s}")
        self._wanted = device
        self._chunk_bytes = checked_chunk_ms(chunk_ms) * BYTES_PER_MS
        self._notice = on_notice
        self._on_state = on_state
        self._backend = backend
        self._watchdog_s = watchdog_s
        self._retry_s = retry_s
        self._block_ms = block_ms
        # Longer than a block, so audio arriving on time never finds the consumer woken for
        # nothing; short against the watchdog, so a lost device is noticed in time.
        self._poll_s = min(max(_POLL_MAX_S, 1.25 * block_ms / 1000), watchdog_s / 4)
        self._latency = latency
        self._clock = clock
        self._lock = threading.RLock()  # guards the stream: stop() may run on another thread
        self._state_lock = threading.Lock()
        self._state = MicrophoneState(MicrophoneStatus.STOPPED)
        self._stopped = threading.Event()
        self._stopped.set()
        self._queue: queue.Queue[bytes] = queue.Queue(_QUEUE_BLOCKS)
        self._sd: Backend = None
        self._host: PortAudioHost | None = None
        self._seen = 0  # the host generation whose device list was read last
        self._hardware: object = None  # the host's hardware signature at that reading
        self._watch_at = 0.0
        self._opened: Opened | None = None  # the open stream, if any
        self._source: Opened | None = None  # the stream whose blocks the queue holds, even closed
        self._overflows = 0  # written only by the PortAudio callback
        self._dropped = 0  # likewise
        self._reported_losses = 0
        self._last_loss_notice = float("-inf")
        self._outage = False  # "No working microphone" was said and not yet taken back
        self._retry_at = 0.0

    @property
    def device_name(self) -> str | None:
        """Name of the device recording now; None when none is open (stopped, or in an outage)."""
        opened = self._opened
        return opened.device.name if opened else None

    @property
    def device_rate(self) -> int | None:
        """Sample rate the device was opened at (24000 unless it needed resampling), or None."""
        opened = self._opened
        return opened.rate if opened else None

    @property
    def state(self) -> MicrophoneState:
        """The state last reported to `on_state`."""
        return self._state

    @property
    def overflows(self) -> int:
        """Blocks PortAudio flagged `input_overflow` since `start()` (audio lost in PortAudio)."""
        return self._overflows

    @property
    def dropped_blocks(self) -> int:
        """Blocks dropped since `start()` because the queue was full (`chunks()` fell behind)."""
        return self._dropped

    def start(self) -> None:
        """Open the device; AudioInputError with an actionable sentence if no device can be opened.

        Blocks a previous session left unread are discarded.
        """
        with self._lock:
            if not self._stopped.is_set():
                return  # already started (an outage, with no device open, still counts)
            self._sd = load_backend(self._backend)
            self._host = host_for(self._sd)
            self._queue = queue.Queue(_QUEUE_BLOCKS)
            self._overflows = self._dropped = self._reported_losses = 0
            self._outage = False
            self._opened = self._source = self._open_preferred()
            self._stopped.clear()
            name = self._opened.device.name
        self._report(MicrophoneStatus.OPENING, name)

    def stop(self) -> None:
        """Close the device; `chunks()` then yields what is left and returns. Thread-safe."""
        with self._lock:
            self._close_current()
            # Set only once the stream is closed, so the consumer's final drain misses no block.
            self._stopped.set()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(b"")  # wakes a consumer blocked on the queue
        self._report(MicrophoneStatus.STOPPED, None)

    def __enter__(self) -> Microphone:
        """Start, for `with Microphone() as mic:`."""
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop."""
        self.stop()

    def chunks(self) -> Iterator[bytes]:
        """Yield `chunk_ms` chunks until `stop()`, then the rest (the last may be shorter)."""
        source = self._source
        if source is None:
            raise RuntimeError("Microphone.chunks() needs start() first")
        rechunker = Rechunker(self._chunk_bytes)
        while True:
            block = self._take()
            if block and source is not None:
                yield from rechunker.push(self._accept(source, block))
                if source.fallback:
                    self._watch_return()
            elif self._stopped.is_set() or self._exiting():
                break
            elif source is None:
                if self._clock() >= self._retry_at:
                    source = self._reopen()
            elif source.stream.interrupted:
                # Another microphone of this process re-read the device list, which closes every
                # stream: open again at once (the configured device first, if it is back).
                yield from rechunker.push(self._drain(source))
                source = self._resume(source)
            elif self._is_dead(source):
                self._give_up(source)
                yield from rechunker.push(self._drain(source))
                source = None
        yield from rechunker.push(self._drain(source))
        rest = rechunker.flush()
        if rest:
            yield rest

    def _exiting(self) -> bool:
        """The process is exiting: its streams were closed for that, not lost."""
        return self._host is not None and self._host.shut

    def _is_dead(self, source: Opened) -> bool:
        """Silent for too long, or stopped by PortAudio (as when its device vanished)."""
        limit = self._watchdog_s * (1 if source.delivered else _FIRST_BLOCK_GRACE)
        return self._clock() - source.last_block_at >= limit or not source.stream.running()

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        # PortAudio's real-time thread: copy and hand over; never block, log or do I/O here.
        if status.input_overflow:
            self._overflows += 1
        try:
            self._queue.put_nowait(bytes(indata))
        except queue.Full:
            self._dropped += 1

    def _take(self) -> bytes:
        try:
            return self._queue.get(timeout=self._poll_s)
        except queue.Empty:
            return b""

    def _accept(self, source: Opened, block: bytes) -> bytes:
        source.last_block_at = self._clock()
        if not source.delivered:
            source.delivered = True
            if self._outage:
                self._outage = False
                self._notice(f"Recording again, from the microphone {source.device.name}.")
            self._report(MicrophoneStatus.CAPTURING, source.device.name)
        self._report_losses()
        return source.convert(block)

    def _report(self, status: MicrophoneStatus, device: str | None, reason: str = "") -> None:
        state = MicrophoneState(status, device, reason)
        with self._state_lock:
            if state == self._state:
                return
            self._state = state
        self._on_state(state)

    def _report_losses(self) -> None:
        lost = self._overflows + self._dropped
        if lost == self._reported_losses:
            return
        now = self._clock()
        if now - self._last_loss_notice < _LOSS_NOTICE_S:
            return
        count = lost - self._reported_losses
        times = "once" if count == 1 else f"{count} times"
        self._notice(f"Audio input overflowed {times}: the computer is busy; some audio was lost.")
        self._reported_losses = lost
        self._last_loss_notice = now

    def _give_up(self, source: Opened) -> None:
        """Close a device that went silent or stopped (callbacks just stop when unplugged)."""
        if source.delivered:
            message = (
                f"The microphone {source.device.name} stopped delivering audio;"
                " switching to the default input device."
            )
            self._notice(message)
            self._report(MicrophoneStatus.LOST, None, message)
            self._retry_at = self._clock()
        else:
            # It opened but never delivered: retrying at once would flap every watchdog period.
            self._announce_outage()
        with self._lock:
            if self._opened is source:
                self._close_current()

    def _announce_outage(self) -> None:
        if not self._outage:
            self._outage = True
            self._notice(_NO_WORKING)
        self._report(MicrophoneStatus.LOST, None, _NO_WORKING)
        self._retry_at = self._clock() + self._retry_s

    def _reopen(self) -> Opened | None:
        """Re-read the device list, open the configured device if listed, else the default.

        None (an outage) if neither opens. Another microphone that re-read the list since this
        one last did spares it a second reading (each closes every stream of the process).
        """
        with self._lock:
            if self._stopped.is_set():
                return None
            self._refresh_devices()
            opened = self._open_listed()
            if opened is not None:
                self._opened = self._source = opened
                return opened
        self._announce_outage()  # outside the lock: on_notice may call stop() from elsewhere
        return None

    def _resume(self, source: Opened) -> Opened | None:
        """After a rescan closed `source`: the configured device, else the same one, else any."""
        with self._lock:
            if self._stopped.is_set():
                return None
            opened = self._open_listed(also=source.device.name)
            if opened is not None:
                # The same device again: the same recording goes on, with no notice.
                opened.delivered = source.delivered and opened.device.name == source.device.name
                self._opened = self._source = opened
                return opened
        self._give_up(source)  # gone with the rescan: a loss like any other
        return None

    def _open_listed(self, also: str | None = None) -> Opened | None:
        """Open the first of (configured, `also`, default) the device list has; None if none."""
        assert self._host is not None
        try:
            devices = self._read_list()
            default = default_of(devices)
        except AudioInputError:
            return None
        wanted = named(devices, self._wanted) if self._wanted else []
        also_named = named(devices, also) if also else []
        for device in dict.fromkeys([*wanted, *also_named, default]):
            try:
                opened = self._open_device(device)
            except OpenFailed:
                continue
            opened.fallback = bool(self._wanted) and device not in wanted
            return opened
        return None

    def _drain(self, source: Opened | None) -> bytes:
        """Convert what a closed stream left in the queue, then the resampler's delayed tail."""
        return source.drain(self._queue) if source is not None else b""

    def _open_preferred(self) -> Opened:
        assert self._host is not None
        try:
            chosen, default = pick_device(self._read_list(), self._wanted)
        except AudioInputError:
            # The list is fixed when PortAudio starts: a microphone plugged in since is not in it.
            self._refresh_devices()
            chosen, default = pick_device(self._read_list(), self._wanted)
        try:
            return self._open_device(chosen)
        except OpenFailed as failure:
            if chosen == default:
                raise AudioInputError(cannot_open(chosen.name, str(failure))) from failure
            reason = str(failure)
        self._notice(
            f"Cannot open the microphone {chosen.name} ({reason});"
            f" using the default input device {default.name} instead."
        )
        try:
            opened = self._open_device(default)
        except OpenFailed as failure:
            raise AudioInputError(cannot_open(default.name, str(failure))) from failure
        opened.fallback = True
        return opened

    def _open_device(self, device: InputDevice) -> Opened:
        """Open and start `device` in the first format it accepts; OpenFailed if none."""
        assert self._host is not None
        return open_first_format(
            self._host, device, self._latency, self._callback, self._clock(), self._block_ms
        )

    def _close_current(self) -> None:
        opened, self._opened = self._opened, None
        if opened is not None:
            opened.stream.close()

    def _read_list(self) -> list[InputDevice]:
        assert self._host is not None
        self._hardware = self._host.hardware()
        self._seen = self._host.generation
        return self._host.inputs()

    def _watch_return(self) -> None:
        """On a fall-back device: re-read the list when the sound cards changed, at most every
        `_WATCH_S`; the rescan interrupts this stream, and `_resume` opens the configured one."""
        now = self._clock()
        if now < self._watch_at:
            return
        self._watch_at = now + _WATCH_S
        assert self._host is not None
        if self._host.hardware() != self._hardware:
            self._refresh_devices()

    def _refresh_devices(self) -> None:
        """Re-read PortAudio's device list, unless another microphone did since we last read it."""
        assert self._host is not None
        self._seen = self._host.rescan(self._seen)
