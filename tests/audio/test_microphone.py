"""Tests of audio.microphone: with the sounddevice fake, then real PortAudio and no sound card.

The real-PortAudio tests run in a subprocess because PortAudio reads the ALSA configuration once,
at initialisation: each gets its own HOME with a generated ~/.asoundrc (an ALSA `file` device that
plays a raw file, and `null`), and a runtime directory where no PulseAudio server answers.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from tests.support import REPO
from tests.support.audio_samples import dominant_hz, tone
from tests.support.fake_sounddevice import FakeBackend, FakeDevice, hide_portaudio
from tests.support.virtual_audio import (
    needs_portaudio,
    portaudio_env,
    pulse_daemon,
    write_asoundrc,
)
from tray_stt.audio.devices import (
    InputDevice,
    format_devices,
    list_input_devices,
    no_device_message,
    portaudio_missing_message,
)
from tray_stt.audio.microphone import Microphone
from tray_stt.errors import AudioInputError, ConfigError
from tray_stt.realtime.pcm import BYTES_PER_MS, SAMPLE_RATE

CHUNK_40MS = 40 * BYTES_PER_MS
NO_DEVICE = (
    "No input device found: plug in a microphone, or check that PulseAudio/PipeWire is running."
)
NO_WORKING = "No working microphone: plug one in; tray-stt keeps trying."
NOT_LOADED = "tray_stt.audio.microphone must not import sounddevice"


def noise(frames: int, channels: int = 1, seed: int = 1) -> npt.NDArray[np.int16]:
    """Deterministic int16 noise, (frames,) or (frames, channels): every sample is checkable."""
    shape = (frames,) if channels == 1 else (frames, channels)
    return np.random.default_rng(seed).integers(-20000, 20000, shape, dtype=np.int16)


def recorder(
    backend: FakeBackend, device: str | None = None, **kw: Any
) -> tuple[Microphone, list[str]]:
    """A Microphone on the fake backend, and the list its notices go to."""
    notices: list[str] = []
    return Microphone(device, backend=backend, on_notice=notices.append, **kw), notices


def record_all(mic: Microphone, backend: FakeBackend) -> bytes:
    """Start, wait until the device has played its whole signal, stop, and read everything."""
    mic.start()
    assert backend.last_stream.finished.wait(10), "the fake device never finished"
    mic.stop()
    return b"".join(mic.chunks())


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fast_clock() -> float:
    """Time passing 10x faster: the 2 s retry takes 0.2 s and a 1 s watchdog 0.1 s."""
    return time.monotonic() * 10


# --- listing -------------------------------------------------------------------------------------


def test_list_input_devices_only_inputs_and_default_marked() -> None:
    backend = FakeBackend(
        [
            FakeDevice("Built-in Mic", default_samplerate=44100.0),
            FakeDevice("HDMI Output", max_input_channels=0, max_output_channels=2),
            FakeDevice("USB Headset", max_input_channels=2, hostapi=1),
        ],
        default="USB Headset",
        hostapis=("ALSA", "JACK Audio Connection Kit"),
    )
    assert list_input_devices(backend=backend) == [
        InputDevice(0, "Built-in Mic", 44100.0, 1, False, "ALSA"),
        InputDevice(2, "USB Headset", 48000.0, 2, True, "JACK Audio Connection Kit"),
    ]


def test_list_input_devices_query_error_is_an_audio_input_error() -> None:
    backend = FakeBackend([FakeDevice("Mic")], query_error="Error querying host API")
    with pytest.raises(AudioInputError, match="Cannot list the audio input devices: Error query"):
        list_input_devices(backend=backend)


def test_format_devices_table_marks_default() -> None:
    table = format_devices(
        [
            InputDevice(0, "Built-in Mic", 44100.0, 1, False, "ALSA"),
            InputDevice(7, "USB Headset", 48000.0, 2, True, "ALSA"),
        ]
    )
    lines = table.splitlines()
    assert lines[0].split() == ["#", "name", "default", "rate", "host", "API"]
    assert lines[1].split() == ["0", "Built-in", "Mic", "44100", "Hz", "ALSA"]
    assert lines[2].split() == ["*", "7", "USB", "Headset", "48000", "Hz", "ALSA"]
    assert "* marks the default input device" in lines[3]


def test_format_devices_empty_says_what_to_do() -> None:
    assert format_devices([]) == NO_DEVICE


def test_no_device_message_per_platform() -> None:
    assert no_device_message("linux") == NO_DEVICE
    assert "Privacy & Security" in no_device_message("darwin")
    assert "Settings > System > Sound" in no_device_message("win32")


# --- opening -------------------------------------------------------------------------------------


def test_microphone_opens_at_24k_mono_when_possible() -> None:
    signal = noise(12_000)
    backend = FakeBackend([FakeDevice("Mic", signal=signal)])
    mic, notices = recorder(backend, chunk_ms=40)
    mic.start()
    assert (mic.device_name, mic.device_rate) == ("Mic", SAMPLE_RATE)
    assert backend.last_stream.finished.wait(10)
    mic.stop()
    chunks = list(mic.chunks())
    assert b"".join(chunks) == signal.tobytes()
    assert [len(c) for c in chunks] == [CHUNK_40MS] * 12 + [12_000 * 2 - 12 * CHUNK_40MS]
    stream = backend.last_stream
    assert (stream.samplerate, stream.channels, stream.dtype) == (24000.0, 1, "int16")
    assert (stream.blocksize, stream.latency) == (960, "low")  # 40 ms blocks
    assert len(backend.streams) == 1 and notices == []
    assert stream.closed and mic.device_name is None


def test_microphone_in_larger_blocks_yields_the_same_audio_in_chunk_ms_chunks() -> None:
    """block_ms sets what PortAudio hands over per callback (listening with server turns asks
    for 200 ms: fewer wake-ups); the chunks and the audio are those of any block size."""
    signal = noise(24_000)
    backend = FakeBackend([FakeDevice("Mic", signal=signal)])
    mic = Microphone("Mic", chunk_ms=100, backend=backend, block_ms=200)
    mic.start()
    assert backend.last_stream.finished.wait(10)
    mic.stop()
    chunks = list(mic.chunks())
    assert backend.last_stream.blocksize == 4800  # 200 ms at 24 kHz
    assert b"".join(chunks) == signal.tobytes()
    assert [len(c) for c in chunks] == [4800] * 10


@pytest.mark.parametrize("rate", [48000, 44100])
def test_microphone_resamples_a_device_that_refuses_24k(rate: int) -> None:
    device = FakeDevice("Mic", signal=tone(1000, 1.0, rate), rates=(rate,), default_samplerate=rate)
    backend = FakeBackend([device])
    mic, notices = recorder(backend)
    out = record_all(mic, backend)
    assert len(backend.streams) == 1  # check_input_settings refused 24 kHz: no stream was tried
    assert backend.last_stream.samplerate == rate
    assert dominant_hz(out) == pytest.approx(1000, abs=2)
    assert len(out) // 2 == pytest.approx(SAMPLE_RATE, abs=2)  # one second, nothing lost
    assert notices == []


def test_microphone_downmixes_a_stereo_only_device() -> None:
    signal = noise(4800, channels=2)
    device = FakeDevice("Stereo", signal=signal, channels=(2,), max_input_channels=2)
    backend = FakeBackend([device])
    out = record_all(recorder(backend)[0], backend)
    assert backend.last_stream.channels == 2
    expected = np.rint(signal.astype(np.float64).mean(axis=1)).astype("<i2")
    assert out == expected.tobytes()


def test_microphone_stereo_44k_device_is_downmixed_then_resampled() -> None:
    left = tone(1000, 0.5, 44100)
    device = FakeDevice(
        "Pro",
        signal=np.stack([left, left], axis=1),
        rates=(44100,),
        channels=(2,),
        max_input_channels=2,
        default_samplerate=44100,
    )
    backend = FakeBackend([device])
    out = record_all(recorder(backend)[0], backend)
    assert (backend.last_stream.samplerate, backend.last_stream.channels) == (44100.0, 2)
    assert dominant_hz(out) == pytest.approx(1000, abs=3)
    assert len(out) // 2 == pytest.approx(12_000, abs=2)


def three_mics() -> FakeBackend:
    return FakeBackend(
        [FakeDevice("Built-in Mic"), FakeDevice("USB Mic"), FakeDevice("USB Mic 2")],
        default="Built-in Mic",
    )


@pytest.mark.parametrize(
    ("wanted", "opened"),
    [
        ("USB Mic", "USB Mic"),  # exact, although "USB Mic 2" contains it too
        ("usb mic 2", "USB Mic 2"),  # case-insensitive
        ("built-in", "Built-in Mic"),  # a substring of one name
        ("IC 2", "USB Mic 2"),
    ],
)
def test_microphone_device_by_name(wanted: str, opened: str) -> None:
    backend = three_mics()
    mic, notices = recorder(backend, wanted)
    mic.start()
    try:
        assert mic.device_name == opened
        assert backend.last_stream.device.name == opened
    finally:
        mic.stop()
    assert notices == []


def test_microphone_unknown_name_lists_the_available_ones() -> None:
    mic, _ = recorder(three_mics(), "Yeti")
    with pytest.raises(AudioInputError) as caught:
        mic.start()
    assert str(caught.value) == (
        "No input device is named 'Yeti'; the input devices are: 'Built-in Mic', 'USB Mic',"
        " 'USB Mic 2'. Run `tray-stt devices` to see them."
    )


def test_microphone_ambiguous_substring_asks_for_more() -> None:
    mic, _ = recorder(three_mics(), "usb m")
    with pytest.raises(AudioInputError, match=r"matches several .*'USB Mic', 'USB Mic 2'"):
        mic.start()


def test_microphone_same_name_under_two_host_apis_prefers_the_default_api() -> None:
    backend = FakeBackend(
        [FakeDevice("Headset"), FakeDevice("Default", hostapi=1), FakeDevice("Headset", hostapi=1)],
        default="Default",
        hostapis=("MME", "Windows WASAPI"),
    )
    mic, _ = recorder(backend, "Headset")
    mic.start()
    mic.stop()
    assert backend.last_stream.device is backend.hardware[2]


def test_microphone_finds_a_device_plugged_in_after_portaudio_started() -> None:
    backend = FakeBackend([FakeDevice("Built-in Mic")])
    backend.plug(FakeDevice("New USB Mic"))  # not in PortAudio's list until a refresh
    mic, _ = recorder(backend, "New USB Mic")
    mic.start()
    mic.stop()
    assert backend.refreshes == 1
    assert backend.last_stream.device.name == "New USB Mic"


def test_microphone_busy_named_device_falls_back_to_default_with_notice() -> None:
    backend = FakeBackend([FakeDevice("Built-in Mic"), FakeDevice("USB Mic", busy=True)])
    mic, notices = recorder(backend, "USB Mic")
    mic.start()
    assert mic.device_name == "Built-in Mic"
    mic.stop()
    assert notices == [
        "Cannot open the microphone USB Mic (Error opening InputStream: Device unavailable);"
        " using the default input device Built-in Mic instead."
    ]


def test_microphone_busy_default_device_raises_actionable_error() -> None:
    mic, _ = recorder(FakeBackend([FakeDevice("Built-in Mic", busy=True)]))
    with pytest.raises(AudioInputError) as caught:
        mic.start()
    assert str(caught.value) == (
        "Cannot open the microphone Built-in Mic: Error opening InputStream: Device unavailable."
        " Close any program that is using it, or choose another device"
        " (`tray-stt devices` lists them)."
    )
    assert mic.device_name is None


def test_microphone_device_refusing_every_format_raises() -> None:
    device = FakeDevice("Odd", rates=(96000,), default_samplerate=96000.0, channels=(4,))
    mic, _ = recorder(FakeBackend([device]))
    with pytest.raises(AudioInputError, match="Cannot open the microphone Odd: Invalid number"):
        mic.start()


def test_microphone_no_input_device_says_plug_one_in() -> None:
    backend = FakeBackend([FakeDevice("HDMI", max_input_channels=0, max_output_channels=2)])
    assert list_input_devices(backend=backend) == []
    mic, _ = recorder(backend)
    with pytest.raises(AudioInputError) as caught:
        mic.start()
    assert str(caught.value) == NO_DEVICE
    assert backend.refreshes == 1  # looked again in case one was plugged in since


def test_missing_portaudio_gives_the_install_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    hide_portaudio(monkeypatch)
    expected = portaudio_missing_message()
    with pytest.raises(AudioInputError) as listed:
        list_input_devices()
    assert str(listed.value) == expected
    assert isinstance(listed.value.__cause__, OSError)
    with pytest.raises(AudioInputError) as started:
        Microphone().start()
    assert str(started.value) == expected
    if sys.platform.startswith("linux"):
        assert "`sudo apt install libportaudio2`" in expected


def test_portaudio_missing_message_per_platform() -> None:
    assert portaudio_missing_message("linux").startswith(
        "PortAudio is not installed: on Debian/Ubuntu run `sudo apt install libportaudio2`"
    )
    assert "pip install --force-reinstall sounddevice" in portaudio_missing_message("darwin")


def test_microphone_module_imports_sounddevice_lazily() -> None:
    code = "import sys, tray_stt.audio.microphone; assert 'sounddevice' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=60)


@pytest.mark.parametrize("chunk_ms", [19, 101])
def test_microphone_rejects_chunk_length_out_of_range(chunk_ms: int) -> None:
    with pytest.raises(ConfigError, match="20-100 ms"):
        Microphone(chunk_ms=chunk_ms, backend=FakeBackend([FakeDevice("Mic")]))


def test_microphone_chunks_before_start_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError, match="start"):
        next(Microphone(backend=FakeBackend([FakeDevice("Mic")])).chunks())


# --- streaming -----------------------------------------------------------------------------------


def test_microphone_stop_from_another_thread_ends_chunks() -> None:
    backend = FakeBackend(
        [FakeDevice("Mic", signal=tone(440, 1.0, 24000), loop=True)], mode="paced"
    )
    mic, notices = recorder(backend, chunk_ms=20)
    began = time.monotonic()
    mic.start()
    got: list[bytes] = []
    consumer = threading.Thread(target=lambda: got.extend(mic.chunks()))
    consumer.start()
    time.sleep(0.3)
    mic.stop()
    took = time.monotonic() - began
    consumer.join(10)
    assert not consumer.is_alive()
    # A paced device never runs ahead of the clock, however loaded the machine: no more audio
    # than the time it ran, plus the block it delivers at once on start.
    assert 0 < sum(len(c) for c in got) / (SAMPLE_RATE * 2) <= took + 0.1
    assert all(len(c) == 20 * BYTES_PER_MS for c in got[:-1])
    assert backend.last_stream.closed and notices == []


def test_microphone_stop_wakes_a_consumer_waiting_for_audio() -> None:
    backend = FakeBackend([FakeDevice("Mic", signal=noise(480))])  # 20 ms, then nothing
    mic, notices = recorder(backend, watchdog_s=60)
    mic.start()
    assert backend.last_stream.finished.wait(10)
    threading.Timer(0.2, mic.stop).start()
    began = time.monotonic()
    out = b"".join(mic.chunks())
    assert time.monotonic() - began < 30  # woken by stop, not by the 60 s watchdog
    assert out == noise(480).tobytes() and notices == []


def test_microphone_context_manager_closes_the_stream() -> None:
    backend = FakeBackend([FakeDevice("Mic")])
    with Microphone(backend=backend) as mic:
        assert mic.device_name == "Mic"
    assert backend.last_stream.closed and mic.device_name is None


def test_microphone_device_loss_switches_to_default_and_keeps_streaming() -> None:
    usb = FakeDevice("USB Mic", signal=tone(500, 1.0, 24000), loop=True, unplug_after_blocks=20)
    builtin = FakeDevice("Built-in Mic", signal=tone(1500, 1.0, 24000), loop=True)
    backend = FakeBackend([builtin, usb], default="Built-in Mic", mode="paced", speed=4)
    mic, notices = recorder(backend, "USB Mic", watchdog_s=0.2)
    mic.start()
    before, after = bytearray(), bytearray()
    for chunk in mic.chunks():
        (after if notices else before).extend(chunk)
        if len(after) >= 0.5 * SAMPLE_RATE * 2:
            break
    mic.stop()
    assert notices == [
        "The microphone USB Mic stopped delivering audio; switching to the default input device."
    ]
    assert len(before) == 20 * 960 * 2  # every block the USB mic delivered, none lost
    assert dominant_hz(bytes(before)) == pytest.approx(500, abs=5)
    assert dominant_hz(bytes(after)) == pytest.approx(1500, abs=5)
    assert backend.refreshes == 1  # PortAudio's device list was re-read...
    assert [s.device.name for s in backend.streams] == ["USB Mic", "Built-in Mic"]
    assert backend.streams[0].closed  # ...after the dead stream was closed


def test_microphone_without_any_device_keeps_trying_until_one_is_plugged_in() -> None:
    usb = FakeDevice("USB Mic", signal=tone(500, 1.0, 24000), loop=True, unplug_after_blocks=5)
    spare = FakeDevice("Spare Mic", signal=tone(1500, 1.0, 24000), loop=True)
    backend = FakeBackend([usb], mode="paced", speed=4)
    notices: list[str] = []

    def on_notice(text: str) -> None:
        notices.append(text)
        if text == NO_WORKING:
            backend.plug(spare)  # the user plugs a microphone in while we wait

    mic = Microphone("USB Mic", backend=backend, on_notice=on_notice, clock=fast_clock)
    mic.start()
    tail = bytearray()
    began = time.monotonic()
    for chunk in mic.chunks():
        if len(notices) == 3:
            tail.extend(chunk)
        if len(tail) >= 0.3 * SAMPLE_RATE * 2:
            break
    mic.stop()
    assert notices == [
        "The microphone USB Mic stopped delivering audio; switching to the default input device.",
        NO_WORKING,
        "Recording again, from the microphone Spare Mic.",
    ]
    assert dominant_hz(bytes(tail)) == pytest.approx(1500, abs=5)
    assert time.monotonic() - began > 0.15  # waited for the retry (2 s at 10x), not a busy loop
    assert backend.refreshes == 2


def test_microphone_device_that_never_delivers_is_retried_quietly() -> None:
    backend = FakeBackend([FakeDevice("Dead Mic", signal=np.zeros(0, dtype=np.int16))])
    mic, notices = recorder(backend, clock=fast_clock)
    mic.start()
    threading.Timer(0.8, mic.stop).start()
    assert b"".join(mic.chunks()) == b""
    assert notices == [NO_WORKING]  # said once, however many retries
    # Each round: the 1 s watchdog, then the 2 s retry delay (0.1 s + 0.2 s at 10x): about 3
    # rounds in 0.8 s. Without the delay it would reopen every 0.1 s, 8 times.
    assert 2 <= len(backend.streams) <= 5
    assert all(s.closed for s in backend.streams)


def test_microphone_overflow_counted_and_reported_at_most_every_10s() -> None:
    device = FakeDevice("Mic", signal=noise(24_000), overflow_blocks=frozenset({1, 2, 3, 10}))
    backend = FakeBackend([device], mode="manual", blocksize=480)
    clock = FakeClock()
    mic, notices = recorder(backend, chunk_ms=40, clock=clock, watchdog_s=1000)
    mic.start()
    stream, chunks = backend.last_stream, mic.chunks()
    stream.pump(4)  # blocks 0-3: three overflows
    [next(chunks) for _ in range(2)]
    assert notices == ["Audio input overflowed 3 times: the computer is busy; some audio was lost."]
    stream.pump(8)  # blocks 4-11: one more, within 10 s of the notice
    [next(chunks) for _ in range(4)]
    assert len(notices) == 1 and mic.overflows == 4
    clock.now += 10
    stream.pump(2)
    next(chunks)
    assert notices[1:] == [
        "Audio input overflowed once: the computer is busy; some audio was lost."
    ]
    mic.stop()


def test_microphone_callback_never_blocks_and_counts_drops_when_the_queue_is_full() -> None:
    backend = FakeBackend([FakeDevice("Mic", signal=np.zeros(60 * 24000, np.int16))])
    mic, notices = recorder(backend, watchdog_s=1000)
    mic.start()  # nobody reads chunks(): the queue fills up
    stream = backend.last_stream
    assert stream.finished.wait(10)
    assert stream.blocks_delivered == 1500 and not stream.callback_errors  # 60 s of 40 ms
    assert mic.dropped_blocks == 1500 - 1000 and mic.overflows == 0  # the queue holds 40 s
    # Each call returns at once (a put with a timeout would show in every call, not in the few a
    # loaded machine preempts).
    assert statistics.median(stream.callback_seconds) < 0.005
    next(mic.chunks())
    assert notices == [
        "Audio input overflowed 500 times: the computer is busy; some audio was lost."
    ]
    mic.stop()


# --- real PortAudio, no sound card ----------------------------------------------------------------


def run_python(script: str, env: dict[str, str], timeout: float = 60) -> Any:
    """Run a script in a fresh interpreter; return the JSON it printed last."""
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


READ_FILE_DEVICE = """
import json, sys
from tray_stt.audio.devices import list_input_devices
from tray_stt.audio.microphone import Microphone
devices = [(d.name, d.hostapi, d.max_input_channels) for d in list_input_devices()]
notices = []
mic = Microphone(sys.argv[1] if len(sys.argv) > 1 else "filemic", on_notice=notices.append)
mic.start()
opened = (mic.device_name, mic.device_rate)
got = bytearray()
for chunk in mic.chunks():
    got += chunk
    if len(got) >= {want}:
        break
mic.stop()
open({out!r}, "wb").write(got)
print(json.dumps({{"devices": devices, "opened": opened, "notices": notices}}))
"""


@needs_portaudio
def test_portaudio_alsa_file_device_is_listed_and_read_exactly(tmp_path: Path) -> None:
    raw, out = tmp_path / "in_24k.raw", tmp_path / "out.raw"
    samples = noise(2 * SAMPLE_RATE, seed=7)  # 2 s; the file device is unpaced, so read 0.5 s
    samples.astype("<i2").tofile(raw)
    write_asoundrc(tmp_path, raw)
    want = SAMPLE_RATE  # bytes: 0.5 s
    result = run_python(READ_FILE_DEVICE.format(want=want, out=str(out)), portaudio_env(tmp_path))
    names = [name for name, _, _ in result["devices"]]
    assert "filemic" in names and "nullmic" in names
    assert all(api == "ALSA" for _, api, _ in result["devices"])
    assert result["opened"] == ["filemic", SAMPLE_RATE]
    got = out.read_bytes()
    assert len(got) >= want
    assert got[:want] == samples.astype("<i2").tobytes()[:want]


UNKNOWN_NAME = """
import json
from tray_stt.errors import AudioInputError
from tray_stt.audio.microphone import Microphone
try:
    Microphone("Yeti").start()
except AudioInputError as e:
    print(json.dumps(str(e)))
"""


@needs_portaudio
def test_portaudio_unknown_name_lists_alsa_devices(tmp_path: Path) -> None:
    raw = tmp_path / "in.raw"
    noise(SAMPLE_RATE).tofile(raw)  # ALSA leaves a file device out if its infile is missing
    write_asoundrc(tmp_path, raw)
    message = run_python(UNKNOWN_NAME, portaudio_env(tmp_path))
    assert message.startswith("No input device is named 'Yeti'; the input devices are: ")
    assert "'filemic'" in message and "'nullmic'" in message


NO_DEVICE_SCRIPT = """
import json
from tray_stt.errors import AudioInputError
from tray_stt.audio.devices import format_devices, list_input_devices
from tray_stt.audio.microphone import Microphone
listed = format_devices(list_input_devices())
try:
    Microphone().start()
except AudioInputError as e:
    print(json.dumps([listed, str(e)]))
"""


@needs_portaudio
@pytest.mark.skipif(Path("/dev/snd").exists(), reason="this machine has a sound card")
def test_portaudio_without_sound_card_says_plug_in_a_microphone(tmp_path: Path) -> None:
    (tmp_path / ".asoundrc").write_text("# no devices of our own\n")
    assert run_python(NO_DEVICE_SCRIPT, portaudio_env(tmp_path)) == [NO_DEVICE, NO_DEVICE]


# --- real PulseAudio: a paced, real-time source (desktop tier) ------------------------------------

PULSE_SCRIPT = """
import json, time
from tray_stt.audio.microphone import Microphone
# module-sine-source hands PulseAudio's clients 2 s bursts: a watchdog above that.
mic = Microphone("pulse", watchdog_s=5)
mic.start()
opened, began, got = (mic.device_name, mic.device_rate), time.monotonic(), bytearray()
for chunk in mic.chunks():
    got += chunk
    if len(got) >= 6 * 48000:
        break
elapsed = time.monotonic() - began
mic.stop()
open({out!r}, "wb").write(got)
print(json.dumps({{"opened": opened, "elapsed": elapsed}}))
"""


@pytest.fixture
def pulse_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A private PulseAudio daemon whose default source is a 440 Hz sine; yields the client env."""
    sine = "module-sine-source source_name=sine rate=48000 frequency=440"
    with pulse_daemon(tmp_path, [sine], default_source="sine") as env:
        yield env


@pytest.mark.desktop
@needs_portaudio
def test_pulseaudio_source_is_captured_in_real_time(
    pulse_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "pulse.raw"
    result = run_python(PULSE_SCRIPT.format(out=str(out)), pulse_env)
    assert result["opened"] == ["pulse", SAMPLE_RATE]  # PulseAudio resamples 48 kHz itself
    audio = out.read_bytes()
    assert dominant_hz(audio) == pytest.approx(440, abs=2)
    # 6 s of audio arrives in real time after PulseAudio's first 2 s burst: about 4 s, not at once.
    assert 3.0 < result["elapsed"] < 12.0
