"""The wheel holds every module of tray_stt/ and every data file of assets/ (setup.py finds them).

The wheel is built offline (``--no-build-isolation``: the setuptools and wheel of the test extras)
from a copy of the checkout, so the build's ``build/`` and ``*.egg-info`` folders land in the
test's tmp_path, not in the working tree, where another run of the suite may be building too.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support import REPO

# Never part of a build: version control, environments, caches, earlier builds, the tests.
_NOT_SOURCES = shutil.ignore_patterns(
    ".git",
    ".venv*",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
    "test-artifacts",
    "tests",
    "benchmarks",
)


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The names of every file in a wheel built from a copy of the checkout."""
    root = tmp_path_factory.mktemp("packaging")
    source, out = root / "source", root / "wheel"
    shutil.copytree(REPO, source, ignore=_NOT_SOURCES)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    command += ["--no-index", "--disable-pip-version-check", "-w", str(out), "."]
    built = subprocess.run(command, cwd=source, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, f"{built.stdout}\n{built.stderr}"
    [wheel] = out.glob("tray_stt-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def _files(folder: Path, pattern: str) -> list[str]:
    """Paths, relative to ``folder``, of the files matching ``pattern`` outside __pycache__."""
    found = [p for p in folder.glob(pattern) if p.is_file() and "__pycache__" not in p.parts]
    return sorted(p.relative_to(folder).as_posix() for p in found)


def test_wheel_holds_every_module_of_the_package(wheel_names: set[str]) -> None:
    modules = _files(REPO / "tray_stt", "**/*.py")
    assert "__main__.py" in modules and any("/" in name for name in modules)  # subpackages too
    missing = [name for name in modules if f"tray_stt/{name}" not in wheel_names]
    assert missing == [], f"tray_stt modules missing from the wheel: {missing}"


def test_wheel_holds_every_asset(wheel_names: set[str]) -> None:
    # The data the app loads; the *.py scripts that make it (make_icons.py ...) are tools.
    assets = [name for name in _files(REPO / "assets", "**/*") if not name.endswith(".py")]
    for kind in ("*.png", "icons/*.png", "sounds/*.wav", "models/*.npz", "models/LICENSE.*"):
        assert _files(REPO / "assets", kind), f"no assets/{kind} in the checkout"
    missing = [name for name in assets if f"tray_stt/assets/{name}" not in wheel_names]
    assert missing == [], f"assets missing from the wheel: {missing}"


def test_wheel_installs_nothing_beside_the_package(wheel_names: set[str]) -> None:
    outside = sorted(n for n in wheel_names if not n.startswith(("tray_stt/", "tray_stt-")))
    assert outside == [], f"the wheel would install these beside tray_stt: {outside}"
