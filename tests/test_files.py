"""Tests of tray_stt.files.replace_file: the one way the app replaces a file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tray_stt.files import replace_file


def test_replace_file_creates_folders_and_sets_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "secret"
    replace_file(path, b"key\n", mode=0o600, dir_mode=0o700)
    assert path.read_bytes() == b"key\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700 & ~_umask()
    assert os.listdir(path.parent) == ["secret"]  # no temporary file left


def test_replace_file_replaces_a_file_with_wider_permissions(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("old")
    path.chmod(0o644)
    replace_file(path, b"new", mode=0o600)
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_replace_file_keeps_the_old_file_and_no_temporary_when_it_fails(tmp_path: Path) -> None:
    path = tmp_path / "entry.desktop"
    path.write_text("old")
    (tmp_path / "target-is-a-folder").mkdir()
    with pytest.raises(OSError):
        replace_file(tmp_path / "target-is-a-folder", b"new", mode=0o644)
    assert path.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["entry.desktop", "target-is-a-folder"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
