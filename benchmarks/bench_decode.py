"""Decoders for ``transcribe`` measured: PyAV (FFmpeg) against soundfile (libsndfile), and the
project's own WAV reader, per format.

For each decoder: installed size, import time and RSS after import; for each format it reads:
CPU seconds per minute of audio and peak RSS, decoding to the 24 kHz mono PCM16 chunks the
session sends (the same soxr resampler after each). Every measurement runs in a fresh child
process, so imports and peaks do not mix. Needs ffmpeg (apt) to make the media; soundfile is
measured when installed (``pip install soundfile``; it is not a dependency).
Run: .venv/bin/python -m benchmarks.bench_decode   (prints tables; asserts nothing)
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

AUDIO_S = 120  # per file: speech-like tone bursts and silence
FORMATS = {
    "wav": ["-c:a", "pcm_s16le"],
    "flac": ["-c:a", "flac"],
    "mp3": ["-c:a", "libmp3lame", "-b:a", "96k"],
    "ogg/opus": ["-c:a", "libopus", "-b:a", "32k", "-f", "ogg"],
    "m4a/aac": ["-c:a", "aac", "-b:a", "96k", "-f", "ipod"],
    "webm/opus": ["-c:a", "libopus", "-b:a", "32k", "-f", "webm"],
    "mp4 video": ["-c:a", "aac", "-b:a", "96k", "-c:v", "libx264", "-pix_fmt", "yuv420p"],
}
SOURCE = "sine=frequency=300:sample_rate=44100,volume='if(lt(mod(t,2),1.2),1,0)':eval=frame"

IMPORT_PROBE = """
import json, resource, sys, time
t = time.perf_counter()
import {module}
took = time.perf_counter() - t
print(json.dumps([took, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss]))
"""

DECODE_PROBE = """
import json, resource, sys, time
path, decoder = sys.argv[1], sys.argv[2]
t = time.process_time()
if decoder == "pyav":
    from tray_stt.audio.media import open_media
    chunks = open_media(path).pcm_chunks(40)
elif decoder == "wav reader":
    from tray_stt.audio.wav import open_wav
    chunks = open_wav(path).pcm_chunks(40)
else:
    import numpy as np
    import soundfile
    from tray_stt.audio.convert import Rechunker, Resampler

    def sf_chunks():
        with soundfile.SoundFile(path) as f:
            resampler, rechunker = Resampler(f.samplerate), Rechunker(1920)
            for block in f.blocks(blocksize=4096, dtype="int16", always_2d=True):
                mono = block.mean(axis=1).astype("<i2").tobytes()
                yield from rechunker.push(resampler.process(mono))
            yield from rechunker.push(resampler.flush())

    chunks = sf_chunks()
total = sum(len(c) for c in chunks)
cpu = time.process_time() - t
print(json.dumps([total / 48000, cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss]))
"""


def make_media(folder: Path) -> dict[str, Path]:
    """The same two minutes in every format."""
    out = {}
    for name, codec in FORMATS.items():
        ext = {"ogg/opus": "ogg", "m4a/aac": "m4a", "webm/opus": "webm", "mp4 video": "mp4"}
        path = folder / f"audio.{ext.get(name, name)}"
        inputs = ["-f", "lavfi", "-t", str(AUDIO_S), "-i", SOURCE]
        if name == "mp4 video":
            inputs += ["-f", "lavfi", "-t", str(AUDIO_S), "-i", "color=c=blue:s=320x240:r=25"]
        command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *inputs, *codec, str(path)]
        subprocess.run(command, check=True)
        out[name] = path
    return out


def installed_mb(module: str) -> float:
    """Size on disk of a module's package and the native libraries its wheel bundles."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        return 0.0
    origin = Path(spec.origin)
    package = origin.name == "__init__.py"
    site = origin.parent.parent if package else origin.parent
    paths = [origin.parent] if package else [origin]
    paths += [*site.glob(f"{module}.libs"), *site.glob(f"_{module}_data")]
    files = [p for path in paths for p in ([path] if path.is_file() else path.rglob("*"))]
    return sum(p.stat().st_size for p in files if p.is_file()) / 1e6


def probe(code: str, *args: str) -> list[float]:
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return []
    values: list[float] = json.loads(result.stdout)
    return values


def main() -> None:
    decoders = {"pyav": ("av",), "soundfile": ("soundfile", "numpy"), "wav reader": ()}
    have_sf = importlib.util.find_spec("soundfile") is not None
    print("decoder      installed MB   import ms   RSS after import MB")
    base = probe(IMPORT_PROBE.format(module="json"))
    for name, modules in decoders.items():
        if name == "soundfile" and not have_sf:
            print(f"{name:<12} not installed")
            continue
        module = modules[0] if modules else "tray_stt.audio.wav"
        runs = [probe(IMPORT_PROBE.format(module=module)) for _ in range(3)]
        took = min(r[0] for r in runs) * 1000
        rss = runs[0][1] / 1024
        size = installed_mb(modules[0]) if modules else 0.0
        alone = base[1] / 1024
        print(f"{name:<12} {size:>12.1f}   {took:>9.0f}   {rss:>9.0f} (python alone {alone:.0f})")
    with tempfile.TemporaryDirectory() as tmp:
        media = make_media(Path(tmp))
        print()
        print(f"format       decoder      CPU s per audio min   peak RSS MB   ({AUDIO_S} s files)")
        for fmt, path in media.items():
            for name in decoders:
                if name == "soundfile" and not have_sf:
                    continue
                if name == "wav reader" and fmt != "wav":
                    continue
                result = probe(DECODE_PROBE, str(path), name)
                if not result:
                    print(f"{fmt:<12} {name:<12} cannot read it")
                    continue
                seconds, cpu, rss = result
                per_min = cpu / (seconds / 60)
                print(f"{fmt:<12} {name:<12} {per_min:>19.3f}   {rss / 1024:>11.0f}")


if __name__ == "__main__":
    main()
