"""The pure parts of the view: the title and icon for a snapshot, and the icon fitted to a slot."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tray_stt.app.state import AppState, Snapshot
from tray_stt.config import Config
from tray_stt.pushtotalk.talk import DictationState
from tray_stt.tray.icons import IconState, load_icon
from tray_stt.tray.view import icon_state, title_for
from tray_stt.tray.xorg import fit_icon


def test_title_for_each_state() -> None:
    base = Snapshot(AppState.IDLE, "not listening", False, "", "", Config(), False, 0)
    assert title_for(base) == "tray-stt: idle"
    last = Snapshot(
        AppState.LISTENING, "listening", True, "Last\nline  here", "", Config(), False, 1
    )
    assert title_for(last) == "tray-stt: listening · Last line here"
    partial = Snapshot(AppState.SPEECH, "", True, "old", "new words", Config(), False, 1)
    assert title_for(partial) == "tray-stt: hearing speech · new words"
    error = Snapshot(AppState.ERROR, "No microphone.", True, "old", "", Config(), False, 1)
    assert title_for(error) == "tray-stt: error · No microphone."


@pytest.mark.parametrize("state", list(AppState))
def test_icon_state_for_every_app_state(state: AppState) -> None:
    snapshot = Snapshot(state, "", False, "", "", Config(), False, 0)
    assert icon_state(snapshot).value == state.value
    assert load_icon(icon_state(snapshot)).size == (64, 64)


def test_fit_icon_keeps_the_picture_square_on_the_tray_background() -> None:
    from PIL import Image

    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (16, 16, 48, 48))
    background = Image.new("RGB", (24, 30), (200, 210, 220))
    fitted = fit_icon(image, (24, 30), background)
    assert fitted.size == (24, 30) and fitted.mode == "RGB"
    assert fitted.getpixel((0, 0)) == (200, 210, 220)  # transparent: the tray shows through
    assert fitted.getpixel((12, 15)) == (255, 0, 0)
    red_rows = [y for y in range(30) if fitted.getpixel((12, y)) == (255, 0, 0)]
    red_cols = [x for x in range(24) if fitted.getpixel((x, 15)) == (255, 0, 0)]
    assert len(red_rows) == len(red_cols)  # not stretched to the 24x30 slot
    assert fit_icon(image, (24, 30)).getpixel((0, 0)) != (0, 0, 0)  # no black square


@pytest.mark.parametrize(
    ("dictation", "title", "icon"),
    [
        (DictationState.RECORDING, "tray-stt: dictating · new words", IconState.SPEECH),
        (DictationState.TRANSCRIBING, "tray-stt: transcribing · new words", IconState.ERROR),
    ],
)
def test_title_and_icon_while_dictating_over_an_error(
    dictation: DictationState, title: str, icon: IconState
) -> None:
    snapshot = Snapshot(
        AppState.ERROR, "No microphone.", False, "old", "new words", Config(), False, 1, dictation
    )
    assert title_for(snapshot) == title
    assert icon_state(snapshot) is icon


def test_title_while_dictating_never_shows_the_previous_transcript() -> None:
    """At the start of a turn the tooltip showed the previous turn's words as if just heard."""
    recording = Snapshot(
        AppState.LISTENING, "", True, "previous words", "", Config(), False, 1,
        DictationState.RECORDING,
    )  # fmt: skip
    assert title_for(recording) == "tray-stt: dictating"
    assert title_for(replace(recording, partial="this turn")) == "tray-stt: dictating · this turn"
    assert title_for(replace(recording, dictation=DictationState.IDLE)) == (
        "tray-stt: listening · previous words"
    )
