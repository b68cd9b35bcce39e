"""Media paused while dictating (issue 14, item 5): fake MPRIS players on a private session bus
record every Pause and Play; only what was playing is paused, and only that is resumed, unless
the user touched it meanwhile."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_mpris_player import FakeMprisPlayer
from tray_stt.desktop.media import MediaPause
from tray_stt.pushtotalk.talk import DictationState

RECORDING, TRANSCRIBING, IDLE = (
    DictationState.RECORDING,
    DictationState.TRANSCRIBING,
    DictationState.IDLE,
)


@pytest.fixture
def media() -> Iterator[MediaPause]:
    pause = MediaPause()
    try:
        yield pause
    finally:
        pause.close()


def turn(media: MediaPause, *states: DictationState) -> None:
    for state in states:
        media.on_state(state)
    assert media.settle()


def test_only_the_playing_player_is_paused_then_resumed(
    mpris_players: dict[str, FakeMprisPlayer], media: MediaPause
) -> None:
    music, podcast = mpris_players["music"], mpris_players["podcast"]
    turn(media, RECORDING)
    assert music.methods() == ["Pause"] and music.status() == "Paused"
    turn(media, TRANSCRIBING, IDLE)
    assert music.methods() == ["Pause", "Play"] and music.status() == "Playing"
    assert podcast.methods() == [] and podcast.status() == "Paused"
    turn(media, RECORDING, IDLE)  # a second turn, cancelled: the same again
    assert music.methods() == ["Pause", "Play", "Pause", "Play"]
    assert podcast.methods() == []


def test_a_player_the_user_resumed_during_the_turn_is_left_alone(
    mpris_players: dict[str, FakeMprisPlayer], media: MediaPause
) -> None:
    music = mpris_players["music"]
    turn(media, RECORDING)
    music.press("Playing")  # the user wants it now, dictation or not
    turn(media, TRANSCRIBING)
    assert music.methods() == ["Pause", "user:Playing"]
    assert music.status() == "Playing"


def test_resumed_and_paused_again_by_the_user_stays_paused(
    mpris_players: dict[str, FakeMprisPlayer], media: MediaPause
) -> None:
    """Its status at the end is "Paused" as we left it, but that pause is the user's now."""
    music = mpris_players["music"]
    turn(media, RECORDING)
    music.press("Playing")
    music.press("Paused")
    turn(media, TRANSCRIBING)
    assert music.methods() == ["Pause", "user:Playing", "user:Paused"]
    assert music.status() == "Paused"


def test_a_player_the_user_started_or_stopped_during_the_turn_is_not_touched(
    mpris_players: dict[str, FakeMprisPlayer], media: MediaPause
) -> None:
    music, podcast = mpris_players["music"], mpris_players["podcast"]
    turn(media, RECORDING)
    podcast.press("Playing")
    music.press("Stopped")
    turn(media, TRANSCRIBING)
    assert podcast.methods() == ["user:Playing"] and podcast.status() == "Playing"
    assert music.methods() == ["Pause", "user:Stopped"] and music.status() == "Stopped"


def test_a_frozen_player_does_not_stop_the_others(
    private_session_bus: str, tmp_path: Path, media: MediaPause
) -> None:
    """Each call waits at most the timeout: the hung player is skipped, the other paused."""
    frozen = FakeMprisPlayer(private_session_bus, tmp_path / "a.jsonl", "aaa", "Playing", hang=True)
    music = FakeMprisPlayer(private_session_bus, tmp_path / "m.jsonl", "music", "Playing")
    try:
        turn(media, RECORDING)
        assert music.status() == "Paused"
        turn(media, TRANSCRIBING)
        assert music.methods() == ["Pause", "Play"]
    finally:
        frozen.stop()
        music.stop()


def test_closing_mid_turn_resumes_what_it_paused(mpris_players: dict[str, FakeMprisPlayer]) -> None:
    media = MediaPause()
    turn(media, RECORDING)
    media.close()
    assert mpris_players["music"].methods() == ["Pause", "Play"]


@pytest.mark.parametrize("address", [None, "unix:path=/nonexistent/bus", "nonsense"])
def test_no_session_bus_is_one_log_line_never_a_traceback(
    address: str | None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if address is None:
        monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    else:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    media = MediaPause()
    with caplog.at_level(logging.INFO, logger="tray_stt.desktop.media"):
        turn(media, RECORDING, TRANSCRIBING, RECORDING, IDLE)
        media.close()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and lines[0].startswith("Media is not paused while dictating: ")
    assert not any(r.exc_info for r in caplog.records)


def test_an_empty_bus_is_nothing_to_do(private_session_bus: str, media: MediaPause) -> None:
    turn(media, RECORDING, TRANSCRIBING)
