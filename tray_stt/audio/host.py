"""The one owner of PortAudio in a process: every stream is opened, closed and rescanned here.

PortAudio is process-wide state. Refreshing its device list means Pa_Terminate + Pa_Initialize,
and Pa_Terminate frees every stream of the process: a microphone that later stops or closes the
stream it still holds touches freed memory (a crash, or SIGABRT from the allocator), and one
whose stream was freed under it just stops hearing anything. So every PortAudio call that opens,
closes, queries or rescans goes through one `PortAudioHost` per loaded library, under one lock:
a rescan first closes every open stream itself and marks it interrupted (its owner sees that and
opens again, on its own thread), runs once however many microphones asked for it, and at exit
every stream is closed before sounddevice's own exit handler terminates PortAudio
(docs/architecture.md, "Microphone (PortAudio)").
"""

from __future__ import annotations

import atexit
import contextlib
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from tray_stt.audio.devices import Backend, InputDevice, query_inputs
from tray_stt.audio.portaudio import rescan
from tray_stt.errors import AudioInputError

Callback = Callable[[Any, int, Any, Any], None]

_CLOSED = "the application is quitting"


class HostStream:
    """An input stream owned by the host; its owner closes it through `close()` only."""

    def __init__(self, host: PortAudioHost, stream: Any, device: InputDevice) -> None:
        self._host = host
        self._stream = stream
        self.device = device
        self.closed = False
        self.interrupted = False  # closed by a rescan or at exit, not by its owner

    def close(self) -> None:
        """Stop and close; idempotent, safe from any thread and after a rescan."""
        self._host._close(self)

    def running(self) -> bool:
        """False once closed, or once PortAudio stopped it (a vanished device ends the stream)."""
        return self._host._running(self)


class PortAudioHost:
    """Serialises PortAudio's stream life cycle and device scans for one backend (see module)."""

    def __init__(self, sd: Backend, *, hardware: Callable[[], object] | None = None) -> None:
        """Wrap `sd`, the sounddevice module or a fake of it, already loaded.

        `hardware()` changes when sound hardware comes or goes (default: ALSA's card list);
        a microphone recording from a fall-back device watches it for the configured one.
        """
        # Weak: the process-wide table maps each backend to its host, and a strong reference
        # back would keep every test's fake backend alive.
        self._backend = weakref.ref(sd)
        self._lock = threading.RLock()
        self._open: set[HostStream] = set()
        self._generation = 0
        self._shut = False
        self.rescans = 0  # how many times the device list was really re-read
        self.hardware = hardware or sound_cards

    @property
    def _sd(self) -> Backend:
        sd = self._backend()
        if sd is None:  # only when its owner dropped the backend while still using the host
            raise AudioInputError("Cannot use the audio input: PortAudio was unloaded.")
        return sd

    @property
    def shut(self) -> bool:
        """Whether `shutdown()` ran: the process is exiting and no stream may open."""
        return self._shut

    @property
    def errors(self) -> type[Exception]:
        """The exception the backend raises when PortAudio refuses (its PortAudioError)."""
        error: type[Exception] = self._sd.PortAudioError
        return error

    @property
    def generation(self) -> int:
        """Counts rescans: a device list read at generation g is stale once this moves on."""
        return self._generation

    def inputs(self) -> list[InputDevice]:
        """The input devices of the current list; AudioInputError if PortAudio cannot list them."""
        with self._lock:
            if self._shut:
                raise AudioInputError(f"Cannot list the audio input devices: {_CLOSED}.")
            return query_inputs(self._sd)

    def open_input(
        self,
        device: InputDevice,
        *,
        rate: int,
        channels: int,
        blocksize: int,
        latency: str,
        callback: Callback,
    ) -> HostStream:
        """Open and start a raw int16 input stream; raises the backend's PortAudioError or
        ValueError as sounddevice does when the device refuses."""
        settings: dict[str, Any] = dict(
            device=device.index, samplerate=rate, channels=channels, dtype="int16"
        )
        with self._lock:
            if self._shut:
                raise self._sd.PortAudioError(_CLOSED)
            self._sd.check_input_settings(**settings)
            stream = self._sd.RawInputStream(
                **settings, blocksize=blocksize, latency=latency, callback=callback
            )
            try:
                stream.start()
            except BaseException:
                _abort_and_close(stream)
                raise
            handle = HostStream(self, stream, device)
            self._open.add(handle)
            return handle

    def play(self, frames: Any, rate: int) -> None:
        """Play int16 `frames` (n, 1) on the default output; returns once played.

        Under the lock, so no rescan frees the stream mid-write; a cue lasts a fraction of a
        second, which a microphone opening meanwhile waits.
        """
        with self._lock:
            if self._shut:
                return
            with self._sd.OutputStream(samplerate=rate, channels=1, dtype="int16") as stream:
                stream.write(frames)  # closing waits until the buffers have played

    def rescan(self, seen: int) -> int:
        """Re-read the device list unless it was re-read after generation `seen`; the generation.

        Every open stream is closed first and marked interrupted, so no stream is ever freed
        under its owner. A failure shows up as a device that cannot be opened right after.
        """
        with self._lock:
            if self._shut or self._generation != seen:
                return self._generation
            for handle in list(self._open):
                self._close_locked(handle, interrupted=True)
            with contextlib.suppress(Exception):
                rescan(self._sd)
            self.rescans += 1
            self._generation += 1
            return self._generation

    def shutdown(self) -> None:
        """Close every stream and refuse new ones: run at exit, before PortAudio terminates."""
        with self._lock:
            self._shut = True
            for handle in list(self._open):
                self._close_locked(handle, interrupted=True)

    def _close(self, handle: HostStream) -> None:
        with self._lock:
            self._close_locked(handle, interrupted=False)

    def _close_locked(self, handle: HostStream, *, interrupted: bool) -> None:
        if handle.closed:
            return
        handle.closed = True
        handle.interrupted = interrupted
        self._open.discard(handle)
        _abort_and_close(handle._stream)

    def _running(self, handle: HostStream) -> bool:
        with self._lock:
            if handle.closed:
                return False
            try:
                return bool(handle._stream.active)
            except Exception:
                return False


def sound_cards() -> str | None:
    """ALSA's list of sound cards (Linux), which changes when a USB microphone is plugged in
    or out; None elsewhere, where only another rescan shows a device that came back."""
    try:
        return Path("/proc/asound/cards").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _abort_and_close(stream: Any) -> None:
    # A vanished device may fail to stop; there is nothing more to do about it than let it go.
    with contextlib.suppress(Exception):
        stream.abort()
    with contextlib.suppress(Exception):
        stream.close()


# PortAudio is one per process, so its owner is too: one host per loaded backend (the real
# sounddevice module, or each test's fake), dropped with it.
_HOSTS: weakref.WeakKeyDictionary[Any, PortAudioHost] = weakref.WeakKeyDictionary()
_HOSTS_LOCK = threading.Lock()


def host_for(sd: Backend) -> PortAudioHost:
    """The process's one host of backend `sd` (created at the first call)."""
    with _HOSTS_LOCK:
        host = _HOSTS.get(sd)
        if host is None:
            host = _HOSTS[sd] = PortAudioHost(sd)
            if isinstance(sd, ModuleType):
                # The real library: registered after sounddevice's own exit handler, so it runs
                # before it (atexit is last in, first out): streams close before Pa_Terminate.
                atexit.register(host.shutdown)
        return host
