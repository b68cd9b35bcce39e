"""Two microphones of one process through 20 replugs of their PulseAudio source (desktop tier).

A private PulseAudio whose default source is the monitor of null sink `vmic`
(tests/support/virtual_audio.py); the child process (tests/audio/replug_scenario.py) opens a
listening and a push-to-talk Microphone on it, unloads and reloads the sink's module 20 times
and plays a different tone after each return. Run in a child so that a crash or an abort at exit
is seen as its return code (issue 12: the tray died during replugs and exited 134 at Quit).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO
from tests.support.virtual_audio import needs_portaudio, virtual_microphone

REPLUGS = 20


@pytest.mark.desktop
@needs_portaudio
def test_microphone_replug_both_microphones_capture_again_and_exit_cleanly(
    tmp_path: Path,
) -> None:
    with virtual_microphone(tmp_path) as env:
        command = [sys.executable, "-m", "tests.audio.replug_scenario", str(REPLUGS), str(tmp_path)]
        done = subprocess.run(
            command, env=env, cwd=REPO, capture_output=True, text=True, timeout=150
        )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0, done.stderr[-3000:]
    cycles, end = lines[:-1], lines[-1]
    assert [c["cycle"] for c in cycles] == list(range(REPLUGS))
    for cycle in cycles:
        assert cycle["lost"] and cycle["back"], cycle
        for states in cycle["states"]:  # the listening microphone's, then the dictation's
            # Lost when the source went, capturing once its tone is heard again; nothing else.
            assert states[0] == "lost" and states[-1] == "capturing", cycle
            assert set(states) == {"lost", "capturing"}, cycle
    assert end == {"done": ["stopped", "stopped"]}
