"""MindSpore operators over the int8 kernels of ``int8.cc`` (``ops.Custom``, ``func_type="aot"``, CPU; inference).

:class:`QConv` is one (transposed) convolution with its bias, the residual addition and ReLU fused, quantized as
:mod:`src.quantize.arithmetic` says, or in float32 where its input is float32; :class:`QReorder` quantizes or
dequantizes an activation and changes its layout; :class:`QMaxPool` max-pools an NHWC activation of any type.
Activations inside a network are NHWC (MindSpore sees N×H×W×C), NCHW at its edges.

Each operator takes a float32 ``cfg`` vector last, in the order of :data:`QCFG_FIELDS` (int8.cc's ``QIndex``).
"""
import itertools
from typing import Optional, Sequence, Tuple

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn, ops

#: The settings vector's entries, in int8.cc's QIndex order (tests/quantize check that they agree).
QCFG_FIELDS = ("stride", "pad", "kernel", "src_nhwc", "dst_nhwc", "relu", "deconv", "residual", "src_scale",
               "dst_scale", "res_scale")
DTYPES = {"float32": ms.float32, "uint8": ms.uint8, "int8": ms.int8}
_COUNT = itertools.count()


def make_qcfg(**values) -> Tensor:
    """The ``cfg`` vector: :data:`QCFG_FIELDS` in order, unnamed ones 0 (scales 1)."""
    unknown = set(values) - set(QCFG_FIELDS)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}")
    defaults = {"stride": 1, "kernel": 1, "src_nhwc": 1, "dst_nhwc": 1, "src_scale": 1, "dst_scale": 1, "res_scale": 1}
    return Tensor(np.array([float(values.get(f, defaults.get(f, 0))) for f in QCFG_FIELDS], np.float32))


def _custom(library: str, function: str, out_shape, out_dtype, tag: str) -> ops.Custom:
    op = ops.Custom(f"{library}:{function}", out_shape=out_shape, out_dtype=out_dtype, func_type="aot")
    # one attribute unique to each operator, so MindSpore's caches never take one for another
    op.add_prim_attr("pose_layer", f"{tag} #{next(_COUNT)}")
    return op


def _nhwc_shape(nchw: Sequence[int], nhwc: bool) -> Tuple[int, ...]:
    n, c, h, w = nchw
    return (n, h, w, c) if nhwc else (n, c, h, w)


def _nchw(shape: Sequence[int], nhwc: bool) -> Tuple[int, ...]:
    return (shape[0], shape[3], shape[1], shape[2]) if nhwc else tuple(shape)


class QConv(nn.Cell):
    """``act(conv(x, w) + b [+ residual])``, quantized (integer input, int8 weights) or float32 (float32 input).

    Args:
        library: the compiled int8 operators (:func:`src.quantize.library.library_path`).
        weight: int8 (quantized) or float32, MindSpore's layout (O×C×k×k; C×O×k×k when ``deconv``).
        bias: O float32 (BatchNorm folded in).
        w_scale: O float32, ``s_w`` (ignored in float32).
        kernel, stride, pad, output_padding, deconv: the layer's geometry (PyTorch's ``output_padding``).
        relu, residual: fused ReLU; a fused residual addition (an NHWC input of the output's type size).
        src_nhwc, dst_nhwc: layouts of the input and the output.
        src_scale, dst_scale, res_scale: ``s_x``, ``s_y``, ``s_r``.
        out_dtype: "float32", "uint8" or "int8".

    Inputs:
        - **x** (Tensor) - N×C×H×W or N×H×W×C, uint8/int8 (quantized) or float32.
        - **residual** (Tensor) - the output's shape, or None.

    Outputs:
        Tensor N×O×Ho×Wo (or N×Ho×Wo×O) of ``out_dtype``.
    """

    def __init__(self, library: str, weight: np.ndarray, bias: np.ndarray, w_scale: np.ndarray, kernel: int,
                 stride: int = 1, pad: int = 0, output_padding: int = 0, deconv: bool = False, relu: bool = False,
                 residual: bool = False, src_nhwc: bool = True, dst_nhwc: bool = True, src_scale: float = 1.0,
                 dst_scale: float = 1.0, res_scale: float = 1.0, out_dtype: str = "float32") -> None:
        super().__init__()
        self.weight = Tensor(weight)
        self.bias = Tensor(bias.astype(np.float32))
        self.w_scale = Tensor(w_scale.astype(np.float32))
        self.out_channels = weight.shape[1] if deconv else weight.shape[0]
        self.kernel, self.stride, self.pad, self.output_padding, self.deconv = kernel, stride, pad, output_padding, deconv
        self.src_nhwc, self.dst_nhwc, self.residual = src_nhwc, dst_nhwc, residual
        self.cfg = make_qcfg(stride=stride, pad=pad, kernel=kernel, src_nhwc=src_nhwc, dst_nhwc=dst_nhwc, relu=relu,
                             deconv=deconv, residual=residual, src_scale=src_scale, dst_scale=dst_scale,
                             res_scale=res_scale)
        self.op = _custom(library, "pose_q_conv", self._out_shape, DTYPES[out_dtype],
                          f"q k{kernel} s{stride} p{pad} d{deconv}")

    def output_nchw(self, nchw: Sequence[int]) -> Tuple[int, int, int, int]:
        """N×O×Ho×Wo for an input N×C×H×W."""
        n, _, h, w = nchw
        k, s, p = self.kernel, self.stride, self.pad
        if self.deconv:
            return n, self.out_channels, (h - 1) * s - 2 * p + k + self.output_padding, \
                (w - 1) * s - 2 * p + k + self.output_padding
        return n, self.out_channels, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1

    def _out_shape(self, x, *_):
        return _nhwc_shape(self.output_nchw(_nchw(x, self.src_nhwc)), self.dst_nhwc)

    def construct(self, x: Tensor, residual: Optional[Tensor] = None) -> Tensor:
        if self.residual:
            return self.op(x, self.weight, self.bias, self.w_scale, residual, self.cfg)
        return self.op(x, self.weight, self.bias, self.w_scale, self.cfg)


class QReorder(nn.Cell):
    """``y = x·src_scale / dst_scale`` converted to ``out_dtype`` (rint, saturated) and to the output's layout.

    Inputs:
        - **x** (Tensor) - N×C×H×W or N×H×W×C of any of the types.

    Outputs:
        Tensor of the same N, C, H, W in the ``dst_nhwc`` layout, of ``out_dtype``.
    """

    def __init__(self, library: str, src_nhwc: bool, dst_nhwc: bool, src_scale: float, dst_scale: float,
                 out_dtype: str) -> None:
        super().__init__()
        self.src_nhwc, self.dst_nhwc = src_nhwc, dst_nhwc
        self.cfg = make_qcfg(src_nhwc=src_nhwc, dst_nhwc=dst_nhwc, src_scale=src_scale, dst_scale=dst_scale)
        self.op = _custom(library, "pose_q_reorder", self._out_shape, DTYPES[out_dtype], f"reorder {out_dtype}")

    def _out_shape(self, x, *_):
        return _nhwc_shape(_nchw(x, self.src_nhwc), self.dst_nhwc)

    def construct(self, x: Tensor) -> Tensor:
        return self.op(x, self.cfg)


class QMaxPool(nn.Cell):
    """Max-pooling of an N×H×W×C activation of any of the types (symmetric padding).

    Outputs:
        Tensor N×Ho×Wo×C, ``Ho = (H + 2·pad − kernel) // stride + 1``, of the input's type.
    """

    def __init__(self, library: str, kernel: int, stride: int, pad: int, dtype: str) -> None:
        super().__init__()
        self.kernel, self.stride, self.pad = kernel, stride, pad
        self.cfg = make_qcfg(stride=stride, pad=pad, kernel=kernel)
        self.op = _custom(library, "pose_q_pool", self._out_shape, DTYPES[dtype], f"pool {dtype}")

    def _out_shape(self, x, *_):
        size = [(v + 2 * self.pad - self.kernel) // self.stride + 1 for v in x[1:3]]
        return (x[0], size[0], size[1], x[3])

    def construct(self, x: Tensor) -> Tensor:
        return self.op(x, self.cfg)
