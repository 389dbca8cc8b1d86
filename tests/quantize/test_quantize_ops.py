"""src/quantize/ops.py and int8.cc: each int8 operator against the NumPy reference of the same quantized arithmetic
(src/quantize/arithmetic.py: integer accumulation, rint half to even, saturation), bit for bit, on the weight grid
of the CPU's kernels (measured exact on oneDNN's AVX2 kernels and, under ONEDNN_MAX_CPU_ISA=SSE41, its SSE4.1
ones). The settings vector is the library's (tests/network/onednn/test_sources.py checks its order)."""

import numpy as np
import pytest
import mindspore as ms
from mindspore import Tensor

from src.network import onednn
from src.network.onednn.isa import effective_isa, has_vnni
from src.quantize import arithmetic as qa
from src.quantize.ops import QConv, QMaxPool, QReorder
from tests.helpers import needs_onednn

pytestmark = needs_onednn("int8 operators")


def _nhwc(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1))


def _nchw(a: np.ndarray) -> np.ndarray:
    return a.transpose(0, 3, 1, 2)


# (deconv, kernel, stride, pad, output_padding, relu, residual, input type, output type, input N×C×H×W, O)
CASES = {
    "conv k3 s1 relu u8->u8": (False, 3, 1, 1, 0, True, False, "uint8", "uint8", (2, 16, 9, 7), 24),
    "conv k3 s2 relu u8->u8": (False, 3, 2, 1, 0, True, False, "uint8", "uint8", (2, 16, 9, 8), 32),
    "conv k1 s2 u8->s8 (projection)": (False, 1, 2, 0, 0, False, False, "uint8", "int8", (2, 32, 9, 8), 64),
    "conv k1 residual relu u8->u8": (False, 1, 1, 0, 0, True, True, "uint8", "uint8", (2, 16, 5, 6), 64),
    "conv k7 s2 s8->u8 (stem)": (False, 7, 2, 3, 0, True, False, "int8", "uint8", (2, 3, 20, 14), 64),
    "conv k1 bias u8->f32 (heatmaps)": (False, 1, 1, 0, 0, False, False, "uint8", "float32", (2, 32, 6, 5), 17),
    "deconv k4 relu u8->u8": (True, 4, 2, 1, 0, True, False, "uint8", "uint8", (2, 32, 4, 3), 16),
    "deconv k3 relu u8->f32": (True, 3, 2, 1, 1, True, False, "uint8", "float32", (2, 32, 4, 3), 16),
    "deconv k2 u8->u8": (True, 2, 2, 0, 0, True, False, "uint8", "uint8", (2, 32, 4, 3), 16),
}


@pytest.mark.parametrize("mode", [ms.PYNATIVE_MODE, ms.GRAPH_MODE], ids=["pynative", "graph"])
@pytest.mark.parametrize("case", list(CASES))
def test_int8_conv_equals_the_reference(case, mode):
    ms.set_context(mode=mode, device_target="CPU")
    deconv, k, s, p, op_, relu, residual, in_type, out_type, shape, out_ch = CASES[case]
    rng = np.random.default_rng(sorted(CASES).index(case))
    x = rng.standard_normal(shape).astype(np.float32)
    if in_type == "uint8":
        x = np.abs(x)
    x_scale = qa.activation_scale(float(np.abs(x).max()), in_type)
    x_q = qa.quantize(x, x_scale, in_type)
    c = shape[1]
    w_shape = (c, out_ch, k, k) if deconv else (out_ch, c, k, k)
    out_axis = 1 if deconv else 0
    spread = rng.uniform(0.1, 2.0, out_ch).astype(np.float32).reshape([-1 if i == out_axis else 1 for i in range(4)])
    w = rng.standard_normal(w_shape).astype(np.float32) * spread
    grid = qa.weight_grid(has_vnni(effective_isa()), in_type == "int8")
    w_q, w_scale = qa.quantize_weights(w, out_axis, grid)
    assert np.abs(w_q).max() == qa.GRID_TOP[grid]
    bias = rng.standard_normal(out_ch).astype(np.float32)
    acc = qa.deconv_accumulate(x_q, w_q, s, p, op_) if deconv else qa.conv_accumulate(x_q, w_q, s, p)
    res_scale, res_q, res_real = 1.0, None, None
    if residual:
        r = rng.standard_normal(acc.shape).astype(np.float32) * 5
        res_scale = qa.activation_scale(float(np.abs(r).max()), "int8")
        res_q = qa.quantize(r, res_scale, "int8")
        res_real = res_q.astype(np.float32) * np.float32(res_scale)
    y = qa.requantize(acc, x_scale, w_scale, bias, res_real, relu)
    # an output range below the largest value, so that saturation is exercised too
    y_scale = qa.activation_scale(0.8 * float(np.abs(y).max()), out_type) if out_type != "float32" else 1.0
    expected = qa.requantize(acc, x_scale, w_scale, bias, res_real, relu, y_scale, out_type)
    layer = QConv(onednn.library_path(), w_q, bias, w_scale, k, s, p, op_, deconv, relu, residual, src_nhwc=False,
                  dst_nhwc=True, src_scale=x_scale, dst_scale=y_scale, res_scale=res_scale, out_dtype=out_type)
    args = (Tensor(x_q),) + ((Tensor(_nhwc(res_q)),) if residual else ())
    out = _nchw(layer(*args).asnumpy())
    assert out.dtype == np.dtype(out_type) and out.shape == expected.shape
    if out_type == "float32":
        # the same float32 operations; oneDNN may order the scale's product otherwise: 1 ulp
        np.testing.assert_allclose(out, expected, rtol=2e-7, atol=2e-7 * float(np.abs(expected).max()))
    else:
        np.testing.assert_array_equal(out, expected)
        assert (expected == np.iinfo(out_type).max).any()  # saturation was exercised


def test_float_layer_runs_in_float32():
    ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 12, 10)).astype(np.float32)
    w = rng.standard_normal((16, 3, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(16).astype(np.float32)
    layer = QConv(onednn.library_path(), w, bias, np.ones(16, np.float32), 3, 2, 1, relu=True, src_nhwc=False,
                  dst_nhwc=False)
    expected = np.maximum(qa.conv_accumulate(x.astype(np.float64), w.astype(np.float64), 2, 1)
                          + bias.reshape(1, -1, 1, 1), 0)
    out = layer(Tensor(x)).asnumpy()
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_quantize_and_dequantize():
    ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU")
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((2, 5, 4, 3)) * 3).astype(np.float32)
    scale = qa.activation_scale(2.5, "int8")
    x_q = QReorder(onednn.library_path(), False, True, 1.0, scale, "int8")(Tensor(x)).asnumpy()
    np.testing.assert_array_equal(_nchw(x_q), qa.quantize(x, scale, "int8"))
    back = QReorder(onednn.library_path(), True, False, scale, 1.0, "float32")(Tensor(x_q)).asnumpy()
    np.testing.assert_allclose(back, _nchw(x_q).astype(np.float32) * np.float32(scale), rtol=1e-7)


def test_max_pool_u8():
    ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU")
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (2, 9, 7, 16)).astype(np.uint8)  # N×H×W×C
    out = QMaxPool(onednn.library_path(), 3, 2, 1, "uint8")(Tensor(x)).asnumpy()
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))  # zero padding never wins over u8 values ≥ 0 ...
    expected = np.stack([np.stack([padded[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3].max(axis=(1, 2))
                                   for j in range(4)], 1) for i in range(5)], 1)
    np.testing.assert_array_equal(out, expected)  # ... so this equals oneDNN's max over the window's inside


def test_layers_sharing_weights_keep_their_own_residual_scale():
    """The residual's scale is built into oneDNN's primitive: two layers on the same weights' memory (as when one
    network's freed weights are reused by the next) must not share it."""
    ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU")
    rng = np.random.default_rng(5)
    x_q = rng.integers(0, 256, (1, 16, 4, 4)).astype(np.uint8)
    w_q, w_scale = qa.quantize_weights(rng.standard_normal((16, 16, 1, 1)).astype(np.float32), 0,
                                       qa.weight_grid(has_vnni(effective_isa()), False))
    bias = np.zeros(16, np.float32)
    r_q = rng.integers(-128, 128, (1, 16, 4, 4)).astype(np.int8)
    acc = qa.conv_accumulate(x_q, w_q, 1, 0)
    first = None
    for res_scale in (0.01, 0.5):
        layer = QConv(onednn.library_path(), w_q, bias, w_scale, 1, residual=True, relu=True, src_nhwc=False,
                      src_scale=0.02, dst_scale=0.1, res_scale=res_scale, out_dtype="uint8")
        if first is None:
            first = layer
        else:
            layer.weight = first.weight  # the same Tensor, the same memory
        out = _nchw(layer(Tensor(x_q), Tensor(_nhwc(r_q))).asnumpy())
        expected = qa.requantize(acc, 0.02, w_scale, bias, r_q.astype(np.float32) * np.float32(res_scale), True,
                                 0.1, "uint8")
        np.testing.assert_array_equal(out, expected)
