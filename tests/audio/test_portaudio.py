"""Tests of tray_stt.audio.portaudio: PortAudio's device scan without ALSA's playback-only encoder.

Each check runs in a fresh interpreter, because PortAudio scans once per initialisation and a
loaded library stays loaded. The devices are those of a private PulseAudio daemon, seen through
the ALSA pulse plugin, as on a desktop.
"""

from __future__ import annotations

import glob
import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support import REPO
from tests.support.virtual_audio import needs_portaudio, virtual_microphone

pytestmark = needs_portaudio

# Prints the input devices, whether the a52 plugin is loaded, then the same after a rescan.
PROBE = """
import json, sys
def state(sd):
    loaded = "libasound_module_pcm_a52" in open("/proc/self/maps").read()
    inputs = [d["name"] for d in sd.query_devices() if d["max_input_channels"] > 0]
    return {"a52": loaded, "inputs": inputs}
if sys.argv[1] == "plain":
    import sounddevice as sd
else:
    from tray_stt.audio.portaudio import import_sounddevice
    sd = import_sounddevice()
first = state(sd)
from tray_stt.audio.portaudio import rescan
rescan(sd)
print(json.dumps([first, state(sd)]))
"""


@pytest.fixture(scope="module")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    if not glob.glob("/usr/lib/*/alsa-lib/libasound_module_pcm_a52.so"):
        pytest.skip("the ALSA a52 plugin is not installed (apt install libasound2-plugins)")
    with virtual_microphone(tmp_path_factory.mktemp("pulse")) as env:
        yield env


def probe(mode: str, env: dict[str, str]) -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    result: list[dict[str, object]] = json.loads(done.stdout)
    return result


def test_plain_sounddevice_loads_the_a52_encoder(pulse: dict[str, str]) -> None:
    """The cost being avoided is real here: PortAudio's scan opens the encoder."""
    first, _ = probe("plain", pulse)
    assert first["a52"] is True


def test_scan_leaves_out_the_encoder_and_finds_the_same_inputs(pulse: dict[str, str]) -> None:
    plain, _ = probe("plain", pulse)
    first, rescanned = probe("hidden", pulse)
    assert first == {"a52": False, "inputs": plain["inputs"]}
    assert rescanned == first
    assert "pulse" in plain["inputs"]  # a real capture device, so the comparison means something
