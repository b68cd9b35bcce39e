"""The input devices PortAudio offers: listing, the table ``tray-stt devices`` prints, and
choosing one by name."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tray_stt.audio.portaudio import import_sounddevice
from tray_stt.errors import AudioInputError

Backend = Any
"""The `sounddevice` module, or a fake with the same functions and classes
(tests/support/fake_sounddevice.py)."""

_NO_DEVICE_HINTS = {
    "darwin": "allow microphone access in System Settings > Privacy & Security",
    "win32": "enable it in Settings > System > Sound",
}


@dataclass(frozen=True)
class InputDevice:
    """A device PortAudio can record from, as `list_input_devices` reports it."""

    index: int
    name: str
    default_samplerate: float
    max_input_channels: int
    is_default: bool
    hostapi: str


def list_input_devices(*, backend: Backend = None) -> list[InputDevice]:
    """Every device PortAudio can record from, in PortAudio's order, the default one marked."""
    return query_inputs(load_backend(backend))


def format_devices(devices: Sequence[InputDevice]) -> str:
    """The table `tray-stt devices` prints, or a sentence saying what to do when it is empty."""
    if not devices:
        return no_device_message()
    width = max(4, *(len(d.name) for d in devices))
    lines = [f"     #  {'name':<{width}}  default rate  host API"]
    for d in devices:
        mark = "*" if d.is_default else " "
        rate = f"{d.default_samplerate:.0f} Hz"
        lines.append(f"  {mark} {d.index:>2}  {d.name:<{width}}  {rate:>12}  {d.hostapi}")
    lines.append("(* marks the default input device; choose a device by its name.)")
    return "\n".join(lines)


def no_device_message(platform: str = sys.platform) -> str:
    """The sentence shown when PortAudio reports no input device at all."""
    hint = _NO_DEVICE_HINTS.get(platform, "check that PulseAudio/PipeWire is running")
    return f"No input device found: plug in a microphone, or {hint}."


def portaudio_missing_message(platform: str = sys.platform) -> str:
    """The sentence shown when the PortAudio library cannot be loaded."""
    if platform in ("darwin", "win32"):  # the sounddevice wheels bundle PortAudio there
        return (
            "PortAudio could not be loaded: reinstall sounddevice with"
            " `pip install --force-reinstall sounddevice`."
        )
    return (
        "PortAudio is not installed: on Debian/Ubuntu run `sudo apt install libportaudio2`"
        " (Fedora: `sudo dnf install portaudio`, Arch: `sudo pacman -S portaudio`)."
    )


def load_backend(backend: Backend) -> Backend:
    """``backend``, or sounddevice (and so PortAudio), loaded now; AudioInputError if missing."""
    if backend is not None:
        return backend
    try:
        return import_sounddevice()
    except OSError as e:  # sounddevice raises OSError when it cannot load the PortAudio library
        raise AudioInputError(portaudio_missing_message()) from e
    except ImportError as e:
        raise AudioInputError(
            "The sounddevice package is not installed: run `pip install sounddevice`."
        ) from e


def query_inputs(sd: Backend) -> list[InputDevice]:
    """The devices of ``sd`` that can record, in PortAudio's order."""
    try:
        infos = list(sd.query_devices())
        apis = [api["name"] for api in sd.query_hostapis()]
        default = sd.default.device[0]
    except sd.PortAudioError as e:
        raise AudioInputError(f"Cannot list the audio input devices: {portaudio_reason(e)}.") from e
    return [
        InputDevice(
            index=info.get("index", i),
            name=info["name"],
            default_samplerate=float(info["default_samplerate"]),
            max_input_channels=int(info["max_input_channels"]),
            is_default=info.get("index", i) == default,
            hostapi=apis[info["hostapi"]] if 0 <= info["hostapi"] < len(apis) else "",
        )
        for i, info in enumerate(infos)
        if info["max_input_channels"] > 0
    ]


def default_of(devices: Sequence[InputDevice]) -> InputDevice:
    """The default input device; AudioInputError if there is none at all."""
    if not devices:
        raise AudioInputError(no_device_message())
    # PortAudio may name no default (ALSA without a "default" PCM) yet list devices: take the first.
    return next((d for d in devices if d.is_default), devices[0])


def pick_device(
    devices: Sequence[InputDevice], wanted: str | None
) -> tuple[InputDevice, InputDevice]:
    """(chosen, default): exact name, then case-insensitive name, then a unique substring."""
    default = default_of(devices)
    if wanted is None:
        return default, default
    lowered = wanted.casefold()
    tiers = (
        [d for d in devices if d.name == wanted],
        [d for d in devices if d.name.casefold() == lowered],
        [d for d in devices if lowered in d.name.casefold()],
    )
    for matches in tiers:
        # Windows lists one microphone once per host API, under the same name: any of them will do.
        if matches and len({d.name for d in matches}) == 1:
            return next((d for d in matches if d.hostapi == default.hostapi), matches[0]), default
    if tiers[2]:
        several = ", ".join(repr(name) for name in dict.fromkeys(d.name for d in tiers[2]))
        raise AudioInputError(
            f"The microphone name {wanted!r} matches several input devices ({several}):"
            " give more of the name."
        )
    names = ", ".join(repr(name) for name in dict.fromkeys(d.name for d in devices))
    raise AudioInputError(
        f"No input device is named {wanted!r}; the input devices are: {names}."
        " Run `tray-stt devices` to see them."
    )


def portaudio_reason(e: BaseException) -> str:
    """PortAudio's reason, as a clause for a sentence."""
    text = str(e.args[0]) if e.args else str(e)
    return text.rstrip(".") or type(e).__name__
