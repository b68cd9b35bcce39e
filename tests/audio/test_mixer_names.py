"""What the sound server's mixer calls our streams: "tray-stt", for the cues and the microphone.

Through ALSA's PulseAudio bridge every stream used to be "ALSA plug-in [python3.11]" (issue 14).
A private PulseAudio daemon (tests/support/virtual_audio.py) plays the part of the desktop's
sound server; the app's own code opens the microphone and plays the cues in a child process,
and ``pactl`` reads what the server records of each stream.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.support.virtual_audio import needs_portaudio, virtual_microphone
from tray_stt.audio.portaudio import (
    OUR_STREAM_NAMES,
    name_our_streams,
    without_our_stream_names,
)

# Opens the microphone and plays the start cue over and over, until its stdin closes.
MIC_AND_CUES = textwrap.dedent(
    """
    import sys, threading
    from tray_stt.audio.microphone import Microphone
    from tray_stt.pushtotalk.cues import load_sound, play_through_sounddevice, sound_path

    done = threading.Event()
    samples, rate = load_sound(sound_path("start"))

    def cues():
        while not done.is_set():
            play_through_sounddevice(samples, rate)

    with Microphone() as microphone:
        threading.Thread(target=cues, daemon=True).start()
        print("ready", flush=True)
        sys.stdin.read()
        done.set()
    """
)


def streams(env: dict[str, str], kind: str) -> list[dict[str, str]]:
    """The properties of every sink input or source output the server has now."""
    listed = subprocess.run(
        ["pactl", "--format=json", "list", kind],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
    )
    if listed.returncode != 0:  # pactl before 16 has no JSON: read the text form
        return _streams_from_text(env, kind)
    return [stream["properties"] for stream in json.loads(listed.stdout or "[]")]


def _streams_from_text(env: dict[str, str], kind: str) -> list[dict[str, str]]:
    text = subprocess.run(
        ["pactl", "list", kind], env=env, capture_output=True, text=True, timeout=10
    ).stdout
    found: list[dict[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(("Sink Input #", "Source Output #")):
            found.append({})
        elif " = " in line and found:
            key, value = line.split(" = ", 1)
            found[-1][key] = value.strip('"')
    return found


@pytest.mark.desktop
@needs_portaudio
def test_cues_and_microphone_show_as_tray_stt_in_the_mixer(tmp_path: Path) -> None:
    with virtual_microphone(tmp_path) as env:
        child = subprocess.Popen(
            [sys.executable, "-c", MIC_AND_CUES],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None and child.stdout.readline() == "ready\n"
            ours: dict[str, list[dict[str, str]]] = {}
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and len(ours) < 2:
                for kind in ("sink-inputs", "source-outputs"):
                    mine = [s for s in streams(env, kind) if "python" in _binary(s)]
                    if mine:
                        ours[kind] = mine
                time.sleep(0.05)
        finally:
            _, errors = child.communicate("", timeout=30)
        assert child.returncode == 0, errors
    assert set(ours) == {"sink-inputs", "source-outputs"}, (ours, errors)
    for kind, found in ours.items():
        for properties in found:
            assert properties.get("application.name") == "tray-stt", (kind, properties)
            assert properties.get("application.icon_name") == "tray-stt", (kind, properties)


def _binary(properties: dict[str, str]) -> str:
    return properties.get("application.process.binary", "")


def test_a_stream_name_the_user_chose_is_kept() -> None:
    environ = {"PULSE_PROP_application.name": "my dictation"}
    name_our_streams(environ)
    assert environ == {
        "PULSE_PROP_application.name": "my dictation",
        "PULSE_PROP_application.icon_name": "tray-stt",
    }
    environ = {"PULSE_PROP_OVERRIDE_application.icon_name": "mic"}
    name_our_streams(environ)
    assert environ == {
        "PULSE_PROP_OVERRIDE_application.icon_name": "mic",
        "PULSE_PROP_OVERRIDE_application.name": "tray-stt",
    }


def test_programs_we_open_for_the_user_are_not_named_tray_stt() -> None:
    environ = {"PATH": "/usr/bin", "PULSE_PROP_media.role": "music"}
    name_our_streams(environ)
    assert set(OUR_STREAM_NAMES) <= set(environ)
    assert without_our_stream_names(environ) == {
        "PATH": "/usr/bin",
        "PULSE_PROP_media.role": "music",
    }
