"""The package's layers (docs/architecture.md, "Layers" and "Enforcement"): what each module may
import, checked
twice.

Statically, every ``tray_stt`` import in the source (lazy and TYPE_CHECKING ones included) must
point at the same layer or one below. Dynamically, each module is imported alone in a fresh
interpreter and ``sys.modules`` shows what that really loads: the realtime core nothing outside
the standard library, the configuration no numpy, the controller no desktop toolkit.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tray_stt"

# Lowest first. A module may import its own layer and the layers before it, never one after.
# The most specific prefix decides a module's layer.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("tray_stt", "tray_stt.errors", "tray_stt.files", "tray_stt.resources")),
    (
        "pure cores",
        (
            "tray_stt.realtime.models",
            "tray_stt.realtime.pcm",
            "tray_stt.realtime.wire",
            "tray_stt.realtime.events",
            "tray_stt.realtime.journal",
            "tray_stt.realtime.turns",
            "tray_stt.realtime.endpoint",
            "tray_stt.realtime.protocol",
            "tray_stt.realtime.text",
            "tray_stt.realtime.usage",
            "tray_stt.pushtotalk.talk",
            "tray_stt.pushtotalk.hotkey",
            "tray_stt.pushtotalk.delivery",
            "tray_stt.pushtotalk.replacements",
        ),
    ),
    (
        "settings",
        ("tray_stt.config", "tray_stt.credentials", "tray_stt.transcripts", "tray_stt.metering"),
    ),
    ("realtime shell", ("tray_stt.realtime",)),
    ("spool", ("tray_stt.spool",)),
    ("audio", ("tray_stt.audio",)),
    ("push-to-talk", ("tray_stt.pushtotalk",)),
    ("desktop", ("tray_stt.desktop",)),
    ("autostart", ("tray_stt.autostart",)),
    ("app state", ("tray_stt.app.state",)),
    ("tray", ("tray_stt.tray",)),
    ("app", ("tray_stt.app",)),
    ("command line", ("tray_stt.__main__",)),
)

CORE = {prefix for name, prefixes in LAYERS[:2] for prefix in prefixes}

# Third-party modules and the modules allowed to import each (statically, anywhere in the file).
OWNERS: dict[str, set[str]] = {
    "sounddevice": {"tray_stt.audio.portaudio"},
    "websocket": {"tray_stt.realtime.transport"},
    "pystray": {"tray_stt.tray.view"},
    "PIL": {
        "tray_stt.tray.icons",
        "tray_stt.tray.view",
        "tray_stt.tray.xorg",
        "tray_stt.tray.usage_chart",
    },
    "pynput": {"tray_stt.desktop.keyboard"},
    "pyperclip": {"tray_stt.desktop.clipboard"},
    "keyring": {"tray_stt.credentials"},
    "Xlib": {"tray_stt.desktop.xwindows", "tray_stt.desktop.probes", "tray_stt.tray.xorg"},
    "gi": {"tray_stt.tray.backend", "tray_stt.tray.gtk"},
    "jeepney": {
        "tray_stt.desktop.caret",
        "tray_stt.desktop.notify",
        "tray_stt.desktop.portal_hotkey",
        "tray_stt.desktop.media",
        "tray_stt.desktop.probes",
    },
    "numpy": {
        "tray_stt.audio.capture",
        "tray_stt.audio.convert",
        "tray_stt.audio.silero",
        "tray_stt.audio.vad",
        "tray_stt.audio.wav",
        "tray_stt.pushtotalk.cues",
    },
    "soxr": {"tray_stt.audio.convert", "tray_stt.audio.vad"},
    "av": {"tray_stt.audio.media"},
}

# What importing one module alone must not load.
FORBIDDEN_AT_IMPORT: dict[str, set[str]] = {
    "tray_stt.config": {"numpy", "soxr", "websocket", "sounddevice", "keyring", "pystray"},
    "tray_stt.app.controller": {"pystray", "pynput", "Xlib", "sounddevice", "PIL", "gi"},
    "tray_stt.app.state": {"numpy", "websocket", "sounddevice", "pystray", "pynput"},
    "tray_stt.tray.view": {"numpy", "websocket", "sounddevice", "pynput"},
    "tray_stt.realtime.session": {"numpy", "soxr", "sounddevice"},
    "tray_stt.__main__": {
        "sounddevice",
        "pystray",
        "pynput",
        "websocket",
        "Xlib",
        "numpy",
        "soxr",
        "av",
    },
    # The idle tray (tests/app/test_idle_modules.py): nothing that only listening needs.
    "tray_stt.app.service": {"numpy", "soxr", "sounddevice", "websocket", "ssl"},
    "tray_stt.app.listening": {"numpy", "soxr", "sounddevice", "websocket", "ssl"},
    "tray_stt.app.pushtotalk": {"numpy", "soxr", "sounddevice", "websocket", "ssl"},
    "tray_stt.audio.microphone": {"numpy", "soxr", "sounddevice"},  # 24 kHz mono needs neither
    # doctor asks each library only inside its check: a missing one is a row, not a crash.
    "tray_stt.app.doctor": {"sounddevice", "websocket", "jeepney", "Xlib", "gi", "keyring"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(module_name(p) for p in PACKAGE.rglob("*.py"))
PACKAGES = sorted(module_name(p) for p in PACKAGE.rglob("__init__.py"))


def layer_of(module: str) -> int:
    """The index in LAYERS of ``module``: its most specific prefix decides. A package's
    ``__init__`` is a docstring (test_layering_packages_import_nothing), so it is at the base."""
    if module in PACKAGES:
        return 0
    best = (-1, -1)
    for index, (_name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best[0]:
                best = (len(prefix), index)
    assert best[1] >= 0, f"{module} is in no layer: add it to LAYERS"
    return best[1]


def imports_of(module: str) -> set[str]:
    """Every module ``module``'s source imports, at any depth (lazy imports included)."""
    path = PACKAGE.parent / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = PACKAGE.parent / module.replace(".", "/") / "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            # ``from tray_stt.x import y`` may name a submodule y.
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if f"{node.module}.{alias.name}" in MODULES
            )
    return found


def loaded_by(module: str) -> list[str]:
    """``sys.modules`` after importing ``module`` alone in a fresh interpreter."""
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout)
    return loaded


@pytest.fixture(scope="module")
def loaded() -> dict[str, list[str]]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(MODULES, pool.map(loaded_by, MODULES), strict=True))


def test_layering_every_module_is_in_a_layer() -> None:
    for module in MODULES:
        layer_of(module)


def test_layering_top_level_holds_at_most_ten_modules() -> None:
    top = [p.name for p in PACKAGE.glob("*.py")]
    assert len(top) <= 10, top


@pytest.mark.parametrize("module", MODULES)
def test_layering_no_import_reaches_up(module: str) -> None:
    own = layer_of(module)
    upward = {
        name: LAYERS[layer_of(name)][0]
        for name in imports_of(module)
        if name.split(".")[0] == "tray_stt" and name in MODULES and layer_of(name) > own
    }
    assert not upward, f"{module} ({LAYERS[own][0]}) imports from layers above it: {upward}"


def test_layering_packages_import_nothing() -> None:
    for package in PACKAGES:
        assert not imports_of(package) - {"__future__"}, f"{package}/__init__.py imports"


@pytest.mark.parametrize("library", sorted(OWNERS))
def test_layering_each_native_library_has_its_owners(library: str) -> None:
    importers = {m for m in MODULES if any(n.split(".")[0] == library for n in imports_of(m))}
    assert importers <= OWNERS[library], f"{library} imported by {importers - OWNERS[library]}"
    assert importers, f"nobody imports {library}: drop it from OWNERS"


def test_layering_core_loads_only_the_standard_library(loaded: dict[str, list[str]]) -> None:
    stdlib = set(sys.stdlib_module_names)
    for module in MODULES:
        if layer_of(module) > 1:
            continue
        foreign = {
            name
            for name in loaded[module]
            if name.split(".")[0] not in stdlib and name.split(".")[0] != "tray_stt"
        }
        # The interpreter's own start-up (site, the venv's .pth files) loads these for everyone.
        foreign -= set(loaded_by("sys"))
        assert not foreign, f"{module} loads {sorted(foreign)}"


def test_layering_loads_nothing_from_a_layer_above(loaded: dict[str, list[str]]) -> None:
    for module in MODULES:
        own = layer_of(module)
        above = [
            name
            for name in loaded[module]
            if name.startswith("tray_stt") and name in MODULES and layer_of(name) > own
        ]
        assert not above, f"importing {module} loads {above}"


@pytest.mark.parametrize("module", sorted(FORBIDDEN_AT_IMPORT))
def test_layering_forbidden_libraries_stay_unloaded(
    module: str, loaded: dict[str, list[str]]
) -> None:
    tops = {name.split(".")[0] for name in loaded[module]}
    assert not tops & FORBIDDEN_AT_IMPORT[module], (
        f"{module} loads {tops & FORBIDDEN_AT_IMPORT[module]}"
    )


def test_layering_rules_catch_a_leak() -> None:
    """The checks themselves: a core module importing the shell would be seen."""
    assert layer_of("tray_stt.realtime.protocol") < layer_of("tray_stt.realtime.session")
    assert layer_of("tray_stt.config") < layer_of("tray_stt.pushtotalk.dictation")
    assert layer_of("tray_stt.app.state") < layer_of("tray_stt.tray.view")
    assert layer_of("tray_stt.tray.view") < layer_of("tray_stt.app.controller")
    assert CORE
