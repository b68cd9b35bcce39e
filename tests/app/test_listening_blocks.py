"""The live microphone's block and message sizes: larger where the server decides turns (fewer
wake-ups while listening, benchmarks/bench_tray.py), the configured ones for local turns."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tray_stt.app.listening import SERVER_TURN_BLOCK_MS, SERVER_TURN_CHUNK_MS, live_microphone
from tray_stt.config import Config
from tray_stt.realtime.models import TurnMode


def made_with(config: Config) -> dict[str, Any]:
    made: dict[str, Any] = {}

    def microphone(device: str | None, **kwargs: Any) -> Any:
        made.update(kwargs, device=device)
        return made

    live_microphone(config, lambda _text: None, microphone=microphone)
    return made


@pytest.mark.parametrize("turn", [TurnMode.SERVER, TurnMode.SEMANTIC])
def test_listening_with_server_turns_uses_large_blocks_and_messages(turn: TurnMode) -> None:
    config = Config()
    config = replace(config, device="USB", transcription=replace(config.transcription, turn=turn))
    made = made_with(config)
    assert made["device"] == "USB"
    assert made["block_ms"] == SERVER_TURN_BLOCK_MS == 200
    assert made["chunk_ms"] == SERVER_TURN_CHUNK_MS == 100


@pytest.mark.parametrize("turn", [TurnMode.LOCAL, TurnMode.MANUAL])
def test_listening_with_local_turns_keeps_the_default_blocks_and_chunk_ms(turn: TurnMode) -> None:
    config = Config()
    config = replace(config, chunk_ms=20, transcription=replace(config.transcription, turn=turn))
    made = made_with(config)
    assert "block_ms" not in made  # the microphone's default, 40 ms
    assert made["chunk_ms"] == 20
