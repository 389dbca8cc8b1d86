"""The quantized arithmetic, in NumPy: the one definition the int8 operators (``int8.cc``) follow and are tested
against, and the weights' quantization the network uses.

* Weights: BatchNorm folded first (:func:`fold_batchnorm`), then symmetric per output channel:
  ``w ≈ s_w[o]·w_q``, ``w_q = rint(w / s_w)`` in [−T, T], ``s_w[o] = max|w[o]| / T``, on a grid that the CPU's
  kernels compute exactly (:func:`weight_grid`): with VNNI (or AMX) all of [−127, 127]. Without it oneDNN multiplies
  with ``vpmaddubsw``, which adds two u8·s8 products in a saturating 16-bit word (255·127·2 overflows it): with an
  unsigned input the weights take [−63, 63] ("reduced"), and with a signed input, which oneDNN shifts to unsigned
  and for which it halves the weights itself, even values in [−126, 126] ("even"), which the halving keeps exact.
  (Measured on oneDNN 3.10, AVX2: the operators then equal this reference bit for bit.)
* Activations: ``x ≈ s_x·x_q``; unsigned (u8, [0, 255], ``s_x = range / 255``) after a ReLU, signed (s8,
  [−128, 127], ``s_x = range / 127``) elsewhere; ``range`` is the calibrated one (:mod:`.calibration`).
* A layer: ``acc = Σ x_q·w_q`` in int32; ``y = act(acc·(s_x·s_w[o]) + b[o] [+ s_r·r_q])``, in float32;
  ``y_q = saturate(rint(y / s_y))``, rint rounding half to even, as oneDNN's conversions do (``vcvtps2dq``).
* bf16 (``MODEL.PRECISION bf16``): activations and weights rounded to bf16 (:func:`to_bf16`, to nearest, half to
  even), products summed in float32, ``y = act(Σ x·w + b[o] [+ r])`` rounded to bf16 again (or kept in float32).

Symbols: N batch, C input channels, O output channels, H×W size, k kernel.
"""
from typing import Optional, Tuple

import numpy as np

#: Integer range of each activation type.
LIMITS = {"uint8": (0, 255), "int8": (-128, 127)}


def fold_batchnorm(weight: np.ndarray, bias: Optional[np.ndarray], gamma: np.ndarray, beta: np.ndarray,
                   mean: np.ndarray, var: np.ndarray, eps: float, out_axis: int) -> Tuple[np.ndarray, np.ndarray]:
    """``bn(conv(x, w) + b)`` as ``conv(x, w') + b'`` (inference BatchNorm).

    Args:
        weight: O×C×k×k (``out_axis`` 0) or C×O×k×k (transposed convolution, ``out_axis`` 1).
        bias: O, or None (zero).

    Returns:
        ``(w', b')``, float32, shaped as ``weight`` and O.
    """
    scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
    shape = [1] * weight.ndim
    shape[out_axis] = -1
    folded = weight.astype(np.float64) * scale.reshape(shape)
    own = np.zeros_like(mean, np.float64) if bias is None else bias.astype(np.float64)
    return folded.astype(np.float32), ((own - mean) * scale + beta).astype(np.float32)


#: Largest |w_q| of each weight grid (see the module docstring).
GRID_TOP = {"full": 127, "reduced": 63, "even": 126}


def weight_grid(vnni: bool, signed_input: bool) -> str:
    """The weight grid oneDNN's int8 kernels compute exactly: "full" with VNNI, else "even" for a signed (s8)
    input and "reduced" for an unsigned (u8) one."""
    if vnni:
        return "full"
    return "even" if signed_input else "reduced"


def quantize_weights(weight: np.ndarray, out_axis: int, grid: str = "full") -> Tuple[np.ndarray, np.ndarray]:
    """Symmetric per-output-channel int8 weights.

    Args:
        weight: float weights, output channels along ``out_axis``.
        grid: "full", "reduced" or "even" (:func:`weight_grid`).

    Returns:
        ``(w_q, s_w)``: int8 shaped as ``weight``, and O float32 scales with ``weight ≈ s_w·w_q``.
    """
    axes = tuple(i for i in range(weight.ndim) if i != out_axis)
    peak = np.abs(weight).max(axis=axes).astype(np.float32)
    top = float(GRID_TOP[grid])
    scale = np.where(peak > 0, peak / np.float32(top), np.float32(1.0)).astype(np.float32)
    shape = [1] * weight.ndim
    shape[out_axis] = -1
    ratio = weight.astype(np.float32) / scale.reshape(shape)
    q = 2.0 * np.rint(ratio / 2.0) if grid == "even" else np.rint(ratio)
    return np.clip(q, -top, top).astype(np.int8), scale


def activation_scale(value_range: float, dtype: str) -> float:
    """``s`` of an activation of the given range (max |x|) stored as ``dtype`` ("uint8" or "int8")."""
    top = LIMITS[dtype][1]
    return float(np.float32(value_range) / np.float32(top)) if value_range > 0 else 1.0


def quantize(x: np.ndarray, scale: float, dtype: str) -> np.ndarray:
    """``saturate(rint(x / scale))`` as ``dtype``."""
    low, high = LIMITS[dtype]
    return np.clip(np.rint(x.astype(np.float32) / np.float32(scale)), low, high).astype(dtype)


def to_bf16(x: np.ndarray) -> np.ndarray:
    """``x`` rounded to bfloat16 (the upper 16 bits of a float32; to nearest, half to even), as float32 values;
    NaN stays NaN."""
    values = np.ascontiguousarray(x, np.float32)
    bits = values.view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000).astype(np.uint32).view(np.float32)
    return np.where(np.isnan(values), values, rounded).reshape(np.shape(x))


def conv_accumulate(x_q: np.ndarray, w_q: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """Integer convolution: N×C×H×W by O×C×k×k → N×O×Ho×Wo int64 (exact; oneDNN's int32 never overflows here);
    float64 for float inputs."""
    n, c, h, w = x_q.shape
    o, _, k, _ = w_q.shape
    wide = np.int64 if np.issubdtype(x_q.dtype, np.integer) else np.float64
    xp = np.pad(x_q.astype(wide), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    out = np.zeros((n, o, ho, wo), wide)
    weights = w_q.astype(wide)
    for i in range(k):
        for j in range(k):
            window = xp[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride]  # N×C×Ho×Wo
            out += np.einsum("nchw,oc->nohw", window, weights[:, :, i, j])
    return out


def deconv_accumulate(x_q: np.ndarray, w_q: np.ndarray, stride: int, pad: int, output_padding: int) -> np.ndarray:
    """Integer transposed convolution (PyTorch's semantics): N×C×H×W by C×O×k×k → N×O×Ho×Wo int64 (float64
    for float inputs), ``Ho = (H − 1)·stride − 2·pad + k + output_padding``."""
    n, c, h, w = x_q.shape
    _, o, k, _ = w_q.shape
    wide = np.int64 if np.issubdtype(x_q.dtype, np.integer) else np.float64
    full_h, full_w = (h - 1) * stride + k, (w - 1) * stride + k
    full = np.zeros((n, o, full_h + output_padding, full_w + output_padding), wide)
    weights = w_q.astype(wide)
    for i in range(k):
        for j in range(k):
            full[:, :, i:i + stride * (h - 1) + 1:stride, j:j + stride * (w - 1) + 1:stride] += np.einsum(
                "nchw,co->nohw", x_q.astype(wide), weights[:, :, i, j])
    ho, wo = (h - 1) * stride - 2 * pad + k + output_padding, (w - 1) * stride - 2 * pad + k + output_padding
    return full[:, :, pad:pad + ho, pad:pad + wo]


def requantize(acc: np.ndarray, x_scale: float, w_scale: np.ndarray, bias: np.ndarray,
               residual: Optional[np.ndarray] = None, relu: bool = False, y_scale: float = 1.0,
               dtype: str = "float32") -> np.ndarray:
    """The layer's output from its integer accumulators (N×O×Ho×Wo), float32 arithmetic.

    Args:
        residual: the residual's real value (``s_r·r_q``), N×O×Ho×Wo, or None.
        dtype: "float32" (``y``), "uint8" or "int8" (``y_q`` at scale ``y_scale``).
    """
    scale = (np.float32(x_scale) * w_scale.astype(np.float32)).reshape(1, -1, 1, 1)
    y = acc.astype(np.float32) * scale + bias.astype(np.float32).reshape(1, -1, 1, 1)
    if residual is not None:
        y = y + residual.astype(np.float32)
    if relu:
        y = np.maximum(y, np.float32(0))
    return y if dtype == "float32" else quantize(y, y_scale, dtype)
