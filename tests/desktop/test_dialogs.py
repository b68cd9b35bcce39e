"""Asking the desktop: the API-key dialog says what it asks for; opening a file says what is
missing. Real programs: a stand-in zenity on PATH records how it was called."""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
from pathlib import Path

import pytest

from tray_stt.audio.portaudio import OUR_STREAM_NAMES, name_our_streams
from tray_stt.desktop.dialogs import ask_secret, open_path
from tray_stt.errors import ConfigError


def fake_program(bin_dir: Path, name: str, script: str) -> Path:
    bin_dir.mkdir(exist_ok=True)
    program = bin_dir / name
    program.write_text(f"#!/bin/sh\n{script}\n")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return program


@pytest.fixture
def only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH holding only the stand-ins the test writes (and the shell they need)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink("/bin/sh", bin_dir / "sh")
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


def test_ask_secret_labels_the_dialog_and_hides_the_text(only: Path, tmp_path: Path) -> None:
    """zenity --password showed "Type your password": a user might type the login password."""
    argv = tmp_path / "argv"
    fake_program(only, "zenity", f'printf "%s\\n" "$@" > {argv}; echo sk-typed')
    assert ask_secret("tray-stt", "OpenAI API key:") == "sk-typed"
    called = argv.read_text().splitlines()
    assert "--entry" in called and "--hide-text" in called and "--password" not in called
    assert "--text=OpenAI API key:" in called


def test_ask_secret_cancelled_is_empty_and_no_program_is_none(only: Path) -> None:
    fake_program(only, "kdialog", "exit 1")
    assert ask_secret("tray-stt", "OpenAI API key:") == ""
    (only / "kdialog").unlink()
    assert ask_secret("tray-stt", "OpenAI API key:") is None


def test_open_path_without_xdg_open_names_the_file_and_the_package(only: Path) -> None:
    log = Path("/tmp/2026-12-02.txt")
    with pytest.raises(ConfigError) as caught:
        open_path(log)
    assert str(log) in str(caught.value) and "xdg-utils" in str(caught.value)


@pytest.mark.skipif(sys.platform != "linux", reason="xdg-open is the Linux opener")
def test_open_path_the_opened_program_is_not_named_tray_stt_in_the_mixer(
    only: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once PortAudio loaded, the process names its streams "tray-stt"
    (tray_stt.audio.portaudio); the editor or file manager it opens must not inherit that."""
    for key in OUR_STREAM_NAMES:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PULSE_PROP_media.role", "music")  # the user's own: passed on
    name_our_streams(os.environ)
    seen = tmp_path / "env"
    # Python, not sh: dash drops variables whose names hold a dot before running anything.
    opener = only / "xdg-open"
    opener.write_text(
        f"#!{sys.executable}\nimport json, os\n"
        f"open('{seen}.part', 'w').write(json.dumps(dict(os.environ)))\n"
        f"os.rename('{seen}.part', '{seen}')\n"
    )
    opener.chmod(0o755)
    open_path(tmp_path)
    for _ in range(500):
        if seen.exists():
            break
        threading.Event().wait(0.01)
    environment = json.loads(seen.read_text())
    assert environment["PULSE_PROP_media.role"] == "music"
    assert "tray-stt" not in environment.values(), environment
