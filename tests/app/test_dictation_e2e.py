"""``tray-stt dictate`` end to end, under Xvfb: xdotool holds the real pynput hotkey, PulseAudio
plays spoken WAVs into the microphone, the loopback server scripts the transcripts, and the text
is read back from a Tk Entry, an xterm and an rxvt-unicode."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.audio_samples import spoken_wav
from tests.support.dictation_desktop import (
    PulseMicrophone,
    TkEntry,
    URxvt,
    XTerm,
    clipboard,
    dictate_env,
    lines_until,
    require,
    set_clipboard,
    wait_until,
)
from tests.support.fake_mpris_player import FakeMprisPlayer
from tests.support.realtime_server import RealtimeServer
from tests.support.xvfb import xvfb_server
from tray_stt.desktop.xwindows import X11

pytestmark = pytest.mark.desktop

KOREAN = "안녕하세요, 세계 — café déjà vu"
ENGLISH = "Hello from the hotkey."


@pytest.fixture
def pulse(tmp_path: Path) -> Iterator[PulseMicrophone]:
    microphone = PulseMicrophone(tmp_path)
    try:
        yield microphone
    finally:
        microphone.close()


@pytest.fixture
def speech(tmp_path: Path) -> Path:
    path = tmp_path / "speech.wav"
    spoken_wav(path, ["Hello from the hotkey."], gap_s=0.2)
    return path


class Dictate:
    """A running ``tray-stt dictate``; its stderr is collected on a thread."""

    def __init__(self, env: dict[str, str], tmp_path: Path, *args: str) -> None:
        self.log_dir = tmp_path / "logs"
        command = [sys.executable, "-m", "tray_stt", "dictate", "--log-dir", str(self.log_dir)]
        self.process = subprocess.Popen(
            [*command, *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stderr is not None
        started = lines_until(iter(self.process.stderr.readline, ""), "and speak")
        assert "and speak" in started[-1], "".join(started)
        self.stderr: list[str] = started
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)

    def close(self) -> str:
        """Ctrl+C; returns the stdout."""
        self.process.send_signal(2)
        stdout, _ = self.process.communicate(timeout=30)
        return stdout


def xdotool(env: dict[str, str], *args: str) -> None:
    subprocess.run(["xdotool", *args], env=env, check=True, timeout=10)


def hold_and_speak(env: dict[str, str], key: str, pulse: PulseMicrophone, wav: Path) -> None:
    """Hold ``key`` (X auto-repeat sends presses meanwhile) while the WAV plays.

    First wait until no modifier is down, as a person's hands would: the previous turn's text
    shows on the paste key's press, and xdotool lets go of its Shift a few ms later. A hotkey
    Ctrl pressed within those ms made Ctrl+Shift, which puts rxvt-unicode into its ISO 14755
    keycap mode (it then printed "⇧" and swallowed the next paste)."""
    x11 = X11(env["DISPLAY"])
    try:
        assert x11.wait_modifiers_released(10), "a modifier key is stuck down"
    finally:
        x11.close()
    xdotool(env, "keydown", key)
    pulse.speak(wav)
    xdotool(env, "keyup", key)


def dictate_turns(
    env: dict[str, str],
    key: str,
    pulse: PulseMicrophone,
    wav: Path,
    expected: list[str],
    field: Any,
    dictate: Dictate,
) -> None:
    """One turn per ``expected`` text; after each, ``field.text`` is every text so far, joined."""
    for turn in range(len(expected)):
        hold_and_speak(env, key, pulse, wav)
        typed = "".join(expected[: turn + 1])
        assert wait_until(lambda t=typed: field.text == t), (field.text, dictate.stderr)


def client_types(server: RealtimeServer) -> list[str]:
    return [str(e.get("type")) for c in server.connections for e in c.client_events]


@pytest.fixture
def own_display(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private Xvfb per test: focus, grabs and keyboard state never reach other tests."""
    require("Xvfb")
    with xvfb_server() as display:
        monkeypatch.setenv("DISPLAY", display)
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        yield display


@pytest.fixture
def desktop(own_display: str, tmp_path: Path, pulse: PulseMicrophone) -> dict[str, str]:
    require("xdotool", "xclip")
    return dictate_env(tmp_path, own_display, pulse)


def test_dictate_pastes_non_ascii_into_tk_entry_and_restores_clipboard(
    desktop: dict[str, str], tmp_path: Path, pulse: PulseMicrophone, speech: Path
) -> None:
    with RealtimeServer(transcripts=[KOREAN]) as server:
        entry = TkEntry(tmp_path, desktop)
        set_clipboard(desktop, "PREVIOUS-CLIP")
        dictate = Dictate(desktop, tmp_path, "--url", server.url, "--hotkey", "f9")
        try:
            hold_and_speak(desktop, "F9", pulse, speech)
            assert wait_until(lambda: entry.text == KOREAN), (entry.text, dictate.stderr)
            assert wait_until(lambda: clipboard(desktop) == "PREVIOUS-CLIP")
        finally:
            stdout = dictate.close()
            entry.close()
        types = client_types(server)
        events = server.connections[0].client_events
        session = next(e["session"] for e in events if e["type"] == "session.update")
    assert types.count("input_audio_buffer.commit") == 1  # auto-repeat did not split the turn
    assert session["audio"]["input"]["turn_detection"] is None
    assert KOREAN in stdout
    log = next(dictate.log_dir.glob("*.txt")).read_text(encoding="utf-8")
    assert log.rstrip().endswith(KOREAN)


def test_dictate_types_into_a_stock_xterm(
    desktop: dict[str, str], tmp_path: Path, pulse: PulseMicrophone, speech: Path
) -> None:
    """Stock xterm binds no Ctrl+Shift+V: the paste chord arrived as ^V and the text was lost."""
    with RealtimeServer(transcripts=[ENGLISH, KOREAN]) as server:
        term = XTerm(tmp_path, desktop)
        dictate = Dictate(desktop, tmp_path, "--url", server.url, "--hotkey", "<ctrl>+<alt>+space")
        try:
            hold_and_speak(desktop, "ctrl+alt+space", pulse, speech)
            assert wait_until(lambda: term.text == ENGLISH), (term.text, dictate.stderr)
            hold_and_speak(desktop, "ctrl+alt+space", pulse, speech)
            both = f"{ENGLISH} {KOREAN}"  # joined like typing, not glued together
            assert wait_until(lambda: term.text == both), (term.text, dictate.stderr)
        finally:
            dictate.close()
            term.close()


def test_dictate_joins_three_turns_in_a_stock_urxvt(
    desktop: dict[str, str], tmp_path: Path, pulse: PulseMicrophone, speech: Path
) -> None:
    """rxvt-unicode is a terminal class, so it got Ctrl+Shift+V, which it prints as ^V: the
    text was lost. Capitals follow the previous turn, spaces join them, Korean and accents
    arrive whole."""
    said = ["Hello there.", "how are you", "And you? 안녕하세요, café déjà vu"]
    expected = ["Hello there.", " How are you", " and you? 안녕하세요, café déjà vu"]
    with RealtimeServer(transcripts=said) as server:
        term = URxvt(tmp_path, desktop)
        dictate = Dictate(desktop, tmp_path, "--url", server.url, "--hotkey", "<ctrl>+<alt>+space")
        try:
            dictate_turns(desktop, "ctrl+alt+space", pulse, speech, expected, term, dictate)
        finally:
            dictate.close()
            term.close()


def test_dictate_pastes_with_ctrl_shift_v_where_a_window_rule_says_paste(
    desktop: dict[str, str], tmp_path: Path, pulse: PulseMicrophone, speech: Path
) -> None:
    """A terminal that binds Ctrl+Shift+V, chosen for paste by ``window_delivery``."""
    with RealtimeServer(transcripts=[ENGLISH, KOREAN]) as server:
        desktop = {**desktop, "TRAY_STT_WINDOW_DELIVERY": "xterm=paste"}
        set_clipboard(desktop, "PREVIOUS-CLIP")
        term = XTerm(tmp_path, desktop, paste_chord=True)
        dictate = Dictate(desktop, tmp_path, "--url", server.url, "--hotkey", "<ctrl>+<alt>+space")
        try:
            hold_and_speak(desktop, "ctrl+alt+space", pulse, speech)
            assert wait_until(lambda: term.text == ENGLISH), (term.text, dictate.stderr)
            hold_and_speak(desktop, "ctrl+alt+space", pulse, speech)
            both = f"{ENGLISH} {KOREAN}"  # joined like typing, not glued together
            assert wait_until(lambda: term.text == both), (term.text, dictate.stderr)
            assert wait_until(lambda: clipboard(desktop) == "PREVIOUS-CLIP")  # it was a paste
        finally:
            dictate.close()
            term.close()


def test_dictate_escape_cancels_the_turn(
    desktop: dict[str, str], tmp_path: Path, pulse: PulseMicrophone, speech: Path
) -> None:
    with RealtimeServer(transcripts=[ENGLISH, "a second turn"]) as server:
        entry = TkEntry(tmp_path, desktop)
        dictate = Dictate(desktop, tmp_path, "--url", server.url, "--hotkey", "f9")
        try:
            xdotool(desktop, "keydown", "F9")
            pulse.speak(speech)
            xdotool(desktop, "key", "Escape")
            xdotool(desktop, "keyup", "F9")
            hold_and_speak(desktop, "F9", pulse, speech)
            assert wait_until(lambda: entry.text == ENGLISH), (entry.text, dictate.stderr)
        finally:
            dictate.close()
            entry.close()
        types = client_types(server)
    assert types.count("input_audio_buffer.commit") == 1
    first_commit = types.index("input_audio_buffer.commit")
    assert types[:first_commit].count("input_audio_buffer.clear") >= 2  # cancel, then press


REPLACEMENTS = r'{ "new line" = "\n", "café noir" = "☕", "스마일" = "☺" }'


def test_dictate_replaces_spoken_phrases_before_joining_the_turns(
    desktop: dict[str, str], tmp_path: Path, pulse: PulseMicrophone, speech: Path
) -> None:
    """ "new line" ends the line (no space after it, a capital next), Korean and accented
    phrases become symbols; the log keeps what was said."""
    said = ["Hello there. New line.", "un café noir, s'il vous plaît.", "좋아요 스마일."]
    with RealtimeServer(transcripts=said) as server:
        entry = TkEntry(tmp_path, desktop)
        desktop = {**desktop, "TRAY_STT_REPLACEMENTS": REPLACEMENTS}
        dictate = Dictate(desktop, tmp_path, "--url", server.url, "--hotkey", "f9")
        expected = ["Hello there.\n", "Un ☕, s'il vous plaît.", " 좋아요 ☺"]
        try:
            dictate_turns(desktop, "F9", pulse, speech, expected, entry, dictate)
        finally:
            dictate.close()
            entry.close()
    log = next(dictate.log_dir.glob("*.txt")).read_text(encoding="utf-8")
    assert [line.split("  ", 1)[1] for line in log.splitlines()] == said


def test_dictate_pauses_the_playing_player_only_while_recording(
    desktop: dict[str, str],
    tmp_path: Path,
    pulse: PulseMicrophone,
    speech: Path,
    mpris_players: dict[str, FakeMprisPlayer],
    private_session_bus: str,
) -> None:
    """The music stops while the key is held and plays again after; the podcast the user
    had paused gets no call at all."""
    music, podcast = mpris_players["music"], mpris_players["podcast"]
    with RealtimeServer(transcripts=[ENGLISH]) as server:
        entry = TkEntry(tmp_path, desktop)
        desktop = {**desktop, "DBUS_SESSION_BUS_ADDRESS": private_session_bus}
        dictate = Dictate(desktop, tmp_path, "--url", server.url, "--hotkey", "f9")
        try:
            xdotool(desktop, "keydown", "F9")
            assert wait_until(lambda: music.methods() == ["Pause"]), dictate.stderr
            pulse.speak(speech)
            assert music.status() == "Paused"
            xdotool(desktop, "keyup", "F9")
            assert wait_until(lambda: entry.text == ENGLISH), (entry.text, dictate.stderr)
            assert wait_until(lambda: music.methods() == ["Pause", "Play"]), music.methods()
        finally:
            dictate.close()
            entry.close()
    assert music.status() == "Playing"
    assert podcast.methods() == [] and podcast.status() == "Paused"


def test_dictate_leaves_the_players_alone_with_pause_media_off(
    desktop: dict[str, str],
    tmp_path: Path,
    pulse: PulseMicrophone,
    speech: Path,
    mpris_players: dict[str, FakeMprisPlayer],
    private_session_bus: str,
) -> None:
    with RealtimeServer(transcripts=[ENGLISH]) as server:
        entry = TkEntry(tmp_path, desktop)
        bus = {"DBUS_SESSION_BUS_ADDRESS": private_session_bus, "TRAY_STT_PAUSE_MEDIA": "false"}
        desktop = {**desktop, **bus}
        dictate = Dictate(desktop, tmp_path, "--url", server.url, "--hotkey", "f9")
        try:
            hold_and_speak(desktop, "F9", pulse, speech)
            assert wait_until(lambda: entry.text == ENGLISH), (entry.text, dictate.stderr)
        finally:
            dictate.close()
            entry.close()
    assert mpris_players["music"].methods() == [] and mpris_players["podcast"].methods() == []
