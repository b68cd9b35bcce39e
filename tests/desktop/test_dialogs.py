"""Asking the desktop: the API-key dialog says what it asks for; opening a file says what is
missing. Real programs: a stand-in zenity on PATH records how it was called."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

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
