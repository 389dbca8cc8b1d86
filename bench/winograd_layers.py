"""One 3×3 stride-1 layer's inference (or training's backward-weights), oneDNN's direct convolution against the
library's Winograd F(2×2, 3×3), called alternately in one process on the same input (the compiled operators
through ``ctypes``, no MindSpore graph around them), with the largest difference between the two outputs.

    python -m bench.winograd_layers [--rounds 30] [--layers r50-layer3,demo-layer1] [--pass backward_weights]

Prints one line per layer: milliseconds a call (median) of each, their ratio, and the difference relative to the
output's largest magnitude (the weights' gradient's, with ``--pass backward_weights``). The layers are those of ResNet-50 at 256×192, batch 8, and of the demo network
(ResNet-18 at 160×128, batch 16).
"""
import argparse
import ctypes
import time
from typing import Dict, List, Tuple

import numpy as np

from src.network.onednn import library_path
from src.network.onednn.ops import AFFINE_BIAS, CFG_DEFAULTS, CFG_FIELDS

#: name: (N, C=O, H, W) of the layer's input.
LAYERS: Dict[str, Tuple[int, int, int, int]] = {
    "r50-layer1": (8, 64, 64, 48),
    "r50-layer2": (8, 128, 32, 24),
    "r50-layer3": (8, 256, 16, 12),
    "r50-layer4": (8, 512, 8, 6),
    "demo-layer1": (16, 64, 40, 32),
    "demo-layer2": (16, 128, 20, 16),
    "demo-layer3": (16, 256, 10, 8),
    "demo-layer4": (16, 512, 5, 4),
}


def _cfg(**settings: float) -> np.ndarray:
    return np.array([float(settings.get(f, CFG_DEFAULTS.get(f, 0))) for f in CFG_FIELDS], np.float32)


class AotCall:
    """Calls an AOT operator of the compiled library on NumPy arrays (inputs, then outputs)."""

    def __init__(self, library: ctypes.CDLL, name: str, arrays: List[np.ndarray]) -> None:
        self.function = getattr(library, name)
        self.arrays = arrays
        count = len(arrays)
        self.params = (ctypes.c_void_p * count)(*[a.ctypes.data for a in arrays])
        self.ndims = (ctypes.c_int * count)(*[a.ndim for a in arrays])
        self.shape_arrays = [(ctypes.c_int64 * a.ndim)(*a.shape) for a in arrays]
        self.shapes = (ctypes.POINTER(ctypes.c_int64) * count)(
            *[ctypes.cast(s, ctypes.POINTER(ctypes.c_int64)) for s in self.shape_arrays])
        self.dtypes = (ctypes.c_char_p * count)(*[b"float32"] * count)

    def __call__(self) -> None:
        status = self.function(len(self.arrays), self.params, self.ndims, self.shapes, self.dtypes, None, None)
        if status != 0:
            raise RuntimeError(f"{self.function.__name__} returned {status}")


def _alternate(direct: AotCall, wino: AotCall, rounds: int) -> Tuple[float, float]:
    """Median milliseconds of the two calls, alternating, after two untimed rounds."""
    times: Dict[AotCall, List[float]] = {direct: [], wino: []}
    for round_ in range(rounds + 2):
        for call in (direct, wino):
            start = time.perf_counter()
            call()
            if round_ >= 2:
                times[call].append(time.perf_counter() - start)
    return 1e3 * float(np.median(times[direct])), 1e3 * float(np.median(times[wino]))


def compare(library: ctypes.CDLL, shape: Tuple[int, int, int, int], rounds: int, relu: bool = True,
            residual: bool = True, seed: int = 0) -> Tuple[float, float, float]:
    """(direct ms, Winograd ms, largest |difference| / largest |output|) of one layer, N×H×W×C activations."""
    n, c, h, w = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    weight = (rng.standard_normal((c, c, 3, 3)) * np.sqrt(2.0 / (9 * c))).astype(np.float32)
    bias = rng.standard_normal(c).astype(np.float32) * 0.1
    res = rng.standard_normal((n, h, w, c)).astype(np.float32)
    cfg = _cfg(stride=1, pad=1, kernel=3, relu=relu, residual=residual, affine=AFFINE_BIAS)
    inputs = [cfg, x, weight, bias] + ([res] if residual else [])
    y_direct, y_wino = np.empty((n, h, w, c), np.float32), np.empty((n, h, w, c), np.float32)
    direct = AotCall(library, "pose_conv_infer", inputs + [y_direct])
    wino = AotCall(library, "pose_winograd_infer", inputs + [y_wino])
    direct_ms, wino_ms = _alternate(direct, wino, rounds)
    return direct_ms, wino_ms, float(np.abs(y_direct - y_wino).max() / np.abs(y_direct).max())


def compare_backward_weights(library: ctypes.CDLL, shape: Tuple[int, int, int, int], rounds: int,
                             seed: int = 0) -> Tuple[float, float, float]:
    """As :func:`compare`, for training's gradient of the weights (and bias) of ⟨conv(x), dy⟩."""
    n, c, h, w = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    dy = rng.standard_normal((n, h, w, c)).astype(np.float32)
    weight = np.zeros((c, c, 3, 3), np.float32)
    cfg = _cfg(stride=1, pad=1, kernel=3, bias=1)
    outputs = {name: (np.empty_like(weight), np.empty(c, np.float32)) for name in ("conv", "winograd")}
    direct, wino = (AotCall(library, f"pose_{name}_backward_weights", [cfg, x, dy, weight, *outputs[name]])
                    for name in ("conv", "winograd"))
    direct_ms, wino_ms = _alternate(direct, wino, rounds)
    dw_direct, dw_wino = outputs["conv"][0], outputs["winograd"][0]
    return direct_ms, wino_ms, float(np.abs(dw_direct - dw_wino).max() / np.abs(dw_direct).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--layers", default=",".join(LAYERS), help=f"comma-separated, of {', '.join(LAYERS)}")
    parser.add_argument("--pass", dest="kind", choices=("infer", "backward_weights"), default="infer",
                        help="inference (fused bias, residual and ReLU) or training's backward-weights")
    args = parser.parse_args()
    unknown = [name for name in args.layers.split(",") if name not in LAYERS]
    if unknown:
        parser.error(f"unknown layer {', '.join(unknown)}; choose from {', '.join(LAYERS)}")
    path = library_path()
    if path is None:
        raise SystemExit("the oneDNN operators are unavailable (see src/network/onednn/build.py)")
    library = ctypes.CDLL(path)
    for name in args.layers.split(","):
        n, c, h, w = LAYERS[name]
        measure = compare if args.kind == "infer" else compare_backward_weights
        direct, wino, error = measure(library, (n, c, h, w), args.rounds)
        gflop = 2 * n * h * w * c * c * 9 / 1e9
        print(f"{name:12s} N={n:2d} {h}x{w} {c}->{c}: direct {direct:7.2f} ms ({gflop / direct * 1e3:5.0f} GFLOP/s), "
              f"winograd {wino:7.2f} ms, direct/winograd {direct / wino:4.2f}x, max diff {error:.1e}")


if __name__ == "__main__":
    main()
