"""A push-to-talk turn right after each replug of the PulseAudio source records real audio.

The child process (tests/pushtotalk/replug_dictation.py) runs a Dictation with a real Microphone
on a private PulseAudio (tests/support/virtual_audio.py) against the loopback server; after
each unload and reload of the source's module it holds a turn while a tone plays.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO
from tests.support.virtual_audio import needs_portaudio, virtual_microphone

REPLUGS = 4


@pytest.mark.desktop
@needs_portaudio
def test_dictation_replug_next_turn_records_the_tone(tmp_path: Path) -> None:
    with virtual_microphone(tmp_path) as env:
        command = [sys.executable, "-m", "tests.pushtotalk.replug_dictation"]
        command += [str(REPLUGS), str(tmp_path)]
        done = subprocess.run(
            command, env=env, cwd=REPO, capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    turns, end = lines[:-1], lines[-1]
    assert len(turns) == REPLUGS
    for turn in turns:
        assert turn["back"] and turn["states"][-1] == "capturing", turn
        assert turn["seconds"] >= 0.8, turn  # the whole hold, not an empty item
        assert turn["rms"] > 3000 and abs(turn["hz"] - turn["want"]) < 10, turn
    assert end == {"delivered": [f"turn {n}" for n in range(REPLUGS)], "state": "stopped"}
