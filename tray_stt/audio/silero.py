"""Silero VAD v5 (16 kHz) in numpy: speech probability for each 32 ms of audio.

The network is small: a 256-point STFT magnitude, four 3-tap convolutions, a 128-unit LSTM cell
and a linear read-out, about 0.7 M multiply-adds a frame. Running it in numpy keeps
onnxruntime (37 MB resident once a session exists) out of the process; numpy is loaded anyway.
The weights are the ones of Silero's ONNX model, copied unchanged by
``assets/extract_silero.py`` into ``assets/models/silero_vad_16k.npz`` (1 MB; MIT licence beside
it). tests/audio/test_silero.py checks the scores against onnxruntime's on speech and noise.

Shapes are fixed, so every buffer, and every strided view that turns a convolution into one
matrix product, is made once: a frame costs about a dozen numpy calls and no allocation of note.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tray_stt.errors import ConfigError
from tray_stt.resources import assets_dir

RATE = 16_000
FRAME = 512
"""Samples scored at a time: 32 ms."""

_CONTEXT = 64  # the model also reads the 4 ms before each frame
_N_FFT = 256
_HOP = 128
_PAD = _N_FFT // 4  # reflected past the end, so the last window reaches exactly to it
_WINDOWS = (_CONTEXT + FRAME + _PAD - _N_FFT) // _HOP + 1  # 4 STFT columns a frame
_BINS = _N_FFT // 2 + 1
_HIDDEN = 128
_STRIDES = (1, 2, 2, 1)

Floats = npt.NDArray[np.float32]


def model_path() -> Path:
    """Where the weights are: ``models/silero_vad_16k.npz`` among the package's assets."""
    return assets_dir() / "models" / "silero_vad_16k.npz"


def load_weights(path: Path | None = None) -> dict[str, Floats]:
    """The model's float32 arrays by their PyTorch names; ConfigError if unreadable."""
    path = path or model_path()
    try:
        with np.load(path, allow_pickle=False) as npz:
            weights = {name: np.asarray(npz[name], dtype=np.float32) for name in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise ConfigError(
            f"The speech detector's model {path} could not be read ({e}): reinstall tray-stt."
        ) from e
    bad = [name for name, shape in _SHAPES.items() if _shape(weights.get(name)) != shape]
    if bad:
        raise ConfigError(
            f"The speech detector's model {path} is damaged or of another version"
            f" ({', '.join(bad)} missing or misshapen): reinstall tray-stt."
        )
    return weights


class SileroVAD:
    """One audio stream's detector: call `process` with consecutive 512-sample frames."""

    def __init__(self, weights: dict[str, Floats] | None = None) -> None:
        """Build from `load_weights()` (by default the bundled model); ConfigError if broken."""
        w = weights if weights is not None else load_weights()
        # Silero's STFT is a convolution with a periodic Hann window times the DFT basis; only
        # magnitudes are used, so an FFT of the windowed samples gives the same.
        n = np.arange(_N_FFT)
        self._hann = (0.5 - 0.5 * np.cos(2 * np.pi * n / _N_FFT)).astype(np.float32)
        # Context, frame and a reflection of its end, cut into overlapping windows.
        self._audio = np.zeros(_CONTEXT + FRAME + _PAD, dtype=np.float32)
        self._windows = _rows(self._audio, _WINDOWS, _N_FFT, _HOP)
        # Each layer's input, time along rows, zero-padded a row either side; the strided view
        # lays the 3 taps of each output step side by side, so the layer is one product.
        self._layers: list[tuple[Floats, Floats, Floats, Floats]] = []
        steps, channels = _WINDOWS, _BINS
        for i, stride in enumerate(_STRIDES):
            kernel = w[f"encoder.{i}.reparam_conv.weight"]  # (out, in, 3)
            padded = np.zeros((steps + 2, channels), dtype=np.float32)
            steps = (steps - 1) // stride + 1
            taps = _rows(padded, steps, 3 * channels, stride * channels)
            # Row k*in + c of the matrix meets tap k of channel c in the view.
            matrix = np.ascontiguousarray(kernel.transpose(2, 1, 0).reshape(3 * channels, -1))
            self._layers.append((padded, taps, matrix, w[f"encoder.{i}.reparam_conv.bias"]))
            channels = kernel.shape[0]
        # The LSTM cell reads [x, h]: one product with both matrices side by side.
        self._xh = np.zeros(2 * _HIDDEN, dtype=np.float32)
        self._lstm = np.ascontiguousarray(
            np.concatenate([w["decoder.rnn.weight_ih"], w["decoder.rnn.weight_hh"]], axis=1)
        )
        self._lstm_bias = w["decoder.rnn.bias_ih"] + w["decoder.rnn.bias_hh"]
        self._cell = np.zeros(_HIDDEN, dtype=np.float32)
        self._out = w["decoder.decoder.2.weight"].reshape(_HIDDEN)
        self._out_bias = float(w["decoder.decoder.2.bias"][0])

    def reset(self) -> None:
        """Forget the stream: the next frame starts a new one."""
        self._audio[:_CONTEXT] = 0
        self._xh[:] = 0
        self._cell[:] = 0

    def process(self, frame: Floats) -> float:
        """The probability (0-1) that the next 512 samples (16 kHz, -1..1) are speech."""
        if frame.shape != (FRAME,):
            raise ValueError(f"Silero scores {FRAME} samples at a time, not {frame.shape}")
        audio, end = self._audio, _CONTEXT + FRAME
        audio[_CONTEXT:end] = frame
        # torch's reflect padding: the samples before the last one, mirrored.
        audio[end:] = audio[end - 2 : end - 2 - _PAD : -1]
        spectrum = np.fft.rfft(self._windows * self._hann, axis=1)
        x: Floats = np.abs(spectrum).astype(np.float32, copy=False)
        for padded, taps, matrix, bias in self._layers:
            padded[1:-1] = x
            x = np.maximum(taps @ matrix + bias, 0)
        audio[:_CONTEXT] = audio[end - _CONTEXT : end]
        return self._step(x[0])

    def _step(self, x: Floats) -> float:
        """The LSTM cell (PyTorch gate order i, f, g, o), then ReLU, linear and sigmoid."""
        xh, cell = self._xh, self._cell
        xh[:_HIDDEN] = x
        gates = self._lstm @ xh + self._lstm_bias
        i, f, g, o = (gates[k * _HIDDEN : (k + 1) * _HIDDEN] for k in range(4))
        cell *= _sigmoid(f)
        cell += _sigmoid(i) * np.tanh(g)
        hidden = _sigmoid(o) * np.tanh(cell)
        xh[_HIDDEN:] = hidden
        logit = float(np.maximum(hidden, 0) @ self._out) + self._out_bias
        return 0.5 + 0.5 * math.tanh(0.5 * logit)


def _sigmoid(z: Floats) -> Floats:
    # Through tanh: the same function, and it cannot overflow as exp(-z) can.
    result: Floats = 0.5 + 0.5 * np.tanh(0.5 * z)
    return result


def _shape(array: Floats | None) -> tuple[int, ...] | None:
    return None if array is None else array.shape


def _rows(buffer: Floats, count: int, width: int, step: int) -> Floats:
    """A read-only view of `count` rows of `width` values of `buffer`, `step` values apart."""
    flat = buffer.reshape(-1)
    item = flat.strides[0]
    return np.lib.stride_tricks.as_strided(
        flat, shape=(count, width), strides=(step * item, item), writeable=False
    )


_SHAPES: dict[str, tuple[int, ...]] = {
    "encoder.0.reparam_conv.weight": (128, _BINS, 3),
    "encoder.0.reparam_conv.bias": (128,),
    "encoder.1.reparam_conv.weight": (64, 128, 3),
    "encoder.1.reparam_conv.bias": (64,),
    "encoder.2.reparam_conv.weight": (64, 64, 3),
    "encoder.2.reparam_conv.bias": (64,),
    "encoder.3.reparam_conv.weight": (128, 64, 3),
    "encoder.3.reparam_conv.bias": (128,),
    "decoder.rnn.weight_ih": (4 * _HIDDEN, _HIDDEN),
    "decoder.rnn.weight_hh": (4 * _HIDDEN, _HIDDEN),
    "decoder.rnn.bias_ih": (4 * _HIDDEN,),
    "decoder.rnn.bias_hh": (4 * _HIDDEN,),
    "decoder.decoder.2.weight": (1, _HIDDEN, 1),
    "decoder.decoder.2.bias": (1,),
}
"""Every array of the model and its shape: a file that differs is refused, not misread."""
