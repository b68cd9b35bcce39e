"""Loading PortAudio (through sounddevice) without the ALSA plugins no microphone can be.

The one module that imports sounddevice: the microphone and the sound cues load it from here.

On Linux, PortAudio's start-up scan opens every PCM the ALSA configuration defines, to learn its
channels. With libasound2-plugins installed (most desktops: it carries the PulseAudio and
PipeWire bridges) that includes ``a52``, an AC-3 *encoder* for S/PDIF output, whose plugin links
libavcodec and through it some 75 libraries: 14 MB resident in every process that imports
sounddevice (`tray-stt listen` is 47 MB without them). Removing that PCM's definition from this
process's copy of the ALSA configuration before each scan keeps them out; a capture device list
cannot change, since the encoder has no capture side. Nothing is written to disk or changed for
other programs. Everywhere else, or if anything here fails, sounddevice is simply imported.

Before that first scan the process also gets its name in the sound server's mixer: through
ALSA's PulseAudio bridge every stream was "ALSA plug-in [python3.11]" (see `name_our_streams`).
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Mapping, MutableMapping
from types import ModuleType
from typing import Any

_PLAYBACK_ONLY = (b"pcm.a52",)
"""ALSA PCMs the scan must not open: playback-only, and each loads large libraries."""

OUR_STREAM_NAMES = {
    # OVERRIDE: the ALSA pulse plugin names its connection itself, and a plain PULSE_PROP_
    # variable only fills in what is missing.
    "PULSE_PROP_OVERRIDE_application.name": "tray-stt",
    "PULSE_PROP_application.icon_name": "tray-stt",
}
"""How PulseAudio (and PipeWire's pulse server) names this process's streams in mixers."""


def import_sounddevice() -> ModuleType:
    """sounddevice, its PortAudio initialised without the playback-only ALSA PCMs.

    OSError if the PortAudio library is missing, ImportError if sounddevice is, as from
    ``import sounddevice``.
    """
    if "sounddevice" not in sys.modules:  # PortAudio scans once, at the first import
        name_our_streams(os.environ)
        hide_playback_only_pcms()
    import sounddevice

    module: ModuleType = sounddevice
    return module


def rescan(sd: Any) -> None:
    """Make PortAudio read the device list again (it stops every stream of this process)."""
    # Private functions, but the only way (python-sounddevice#125). PortAudio frees ALSA's
    # configuration when it terminates, so the scan after it needs the PCMs hidden again.
    if getattr(sd, "_initialized", 1) > 0:
        sd._terminate()
    hide_playback_only_pcms()
    sd._initialize()


def name_our_streams(environ: MutableMapping[str, str]) -> None:
    """Have the mixer show our cues and microphone as "tray-stt", not "ALSA plug-in [python3.11]".

    ALSA's pulse plugin names its connection after the executable; libpulse lets
    ``PULSE_PROP_OVERRIDE_*`` variables of the environment replace that when a connection is
    made, which happens at every stream PortAudio opens, so they stay set for the process. A
    name or icon the user set (either spelling) is kept. Children that start other programs drop
    ours (`without_our_stream_names`).
    """
    for key, value in OUR_STREAM_NAMES.items():
        prop = key.removeprefix("PULSE_PROP_").removeprefix("OVERRIDE_")
        if f"PULSE_PROP_{prop}" not in environ and f"PULSE_PROP_OVERRIDE_{prop}" not in environ:
            environ[key] = value


def without_our_stream_names(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` for a program we start on the user's behalf (a file opener, an editor): its
    own sounds must not show in the mixer as tray-stt's."""
    return {key: value for key, value in environ.items() if OUR_STREAM_NAMES.get(key) != value}


def hide_playback_only_pcms() -> None:
    """Drop `_PLAYBACK_ONLY` from ALSA's in-memory configuration; no-op off Linux or on error."""
    alsa = _libasound()
    if alsa is None or alsa.snd_config_update() < 0:
        return
    # The global tree, loaded by snd_config_update; it is reused until a file of it changes.
    top = ctypes.c_void_p.in_dll(alsa, "snd_config")
    if not top.value:
        return
    for key in _PLAYBACK_ONLY:
        node = ctypes.c_void_p()
        if alsa.snd_config_search(top, key, ctypes.byref(node)) == 0:
            alsa.snd_config_delete(node)


def _libasound() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        alsa = ctypes.CDLL("libasound.so.2")  # the one PortAudio links
    except OSError:
        return None
    alsa.snd_config_update.argtypes = []
    alsa.snd_config_search.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    alsa.snd_config_delete.argtypes = [ctypes.c_void_p]
    return alsa
