"""MindSpore operators over the int8 and bf16 kernels of ``int8.cc`` (``ops.Custom``, ``func_type="aot"``, CPU;
inference).

:class:`QConv` is one (transposed) convolution with its bias, the residual addition and ReLU fused, quantized as
:mod:`src.quantize.arithmetic` says, in bf16 where its input is bf16, or in float32 where its input is float32;
:class:`QReorder` quantizes, dequantizes or converts (float32, bf16) an activation and changes its layout; :class:`QMaxPool` max-pools an NHWC activation of any type.
Activations inside a network are NHWC (MindSpore sees N×H×W×C), NCHW at its edges.

The kernels are units of the oneDNN operators' library (:func:`src.network.onednn.library_path`), and like its other
operators each takes the float32 settings vector ``cfg`` first (:func:`src.network.onednn.ops.make_cfg`; the scales
are its ``src_scale``, ``dst_scale`` and ``res_scale``).
"""
from typing import Optional, Sequence, Tuple

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn

from src.network.onednn.ops import custom_op, make_cfg, nchw_of, shape_of

DTYPES = {"float32": ms.float32, "uint8": ms.uint8, "int8": ms.int8, "bfloat16": ms.bfloat16}


class QConv(nn.Cell):
    """``act(conv(x, w) + b [+ residual])``, quantized (integer input, int8 weights), in bf16 (bf16 input, float32
    weights rounded to bf16, float32 sums) or float32 (float32 input).

    Args:
        library: the compiled oneDNN operators (:func:`src.network.onednn.library_path`).
        weight: int8 (quantized) or float32 (bf16 and float32), MindSpore's layout (O×C×k×k; C×O×k×k when
            ``deconv``).
        bias: O float32 (BatchNorm folded in).
        w_scale: O float32, ``s_w`` (ignored in float32).
        kernel, stride, pad, output_padding, deconv: the layer's geometry (PyTorch's ``output_padding``).
        relu, residual: fused ReLU; a fused residual addition (an NHWC input of the output's type size).
        src_nhwc, dst_nhwc: layouts of the input and the output.
        src_scale, dst_scale, res_scale: ``s_x``, ``s_y``, ``s_r``.
        out_dtype: "float32", "uint8", "int8" or "bfloat16".

    Inputs:
        - **x** (Tensor) - N×C×H×W or N×H×W×C, uint8/int8 (quantized), bfloat16 or float32.
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
        self.cfg = make_cfg(stride=stride, pad=pad, kernel=kernel, src_nhwc=src_nhwc, dst_nhwc=dst_nhwc, relu=relu,
                            deconv=deconv, residual=residual, src_scale=src_scale, dst_scale=dst_scale,
                            res_scale=res_scale)
        self.op = custom_op(library, "pose_q_conv", self._out_shape, DTYPES[out_dtype],
                            tag=f"q k{kernel} s{stride} p{pad} d{deconv}")

    def output_nchw(self, nchw: Sequence[int]) -> Tuple[int, int, int, int]:
        """N×O×Ho×Wo for an input N×C×H×W."""
        n, _, h, w = nchw
        k, s, p = self.kernel, self.stride, self.pad
        if self.deconv:
            return n, self.out_channels, (h - 1) * s - 2 * p + k + self.output_padding, \
                (w - 1) * s - 2 * p + k + self.output_padding
        return n, self.out_channels, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1

    def _out_shape(self, _cfg, x, *_):
        return shape_of(self.output_nchw(nchw_of(x, self.src_nhwc)), self.dst_nhwc)

    def construct(self, x: Tensor, residual: Optional[Tensor] = None) -> Tensor:
        if self.residual:
            return self.op(self.cfg, x, self.weight, self.bias, self.w_scale, residual)
        return self.op(self.cfg, x, self.weight, self.bias, self.w_scale)


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
        self.cfg = make_cfg(src_nhwc=src_nhwc, dst_nhwc=dst_nhwc, src_scale=src_scale, dst_scale=dst_scale)
        self.op = custom_op(library, "pose_q_reorder", self._out_shape, DTYPES[out_dtype], tag=f"reorder {out_dtype}")

    def _out_shape(self, _cfg, x):
        return shape_of(nchw_of(x, self.src_nhwc), self.dst_nhwc)

    def construct(self, x: Tensor) -> Tensor:
        return self.op(self.cfg, x)


class QMaxPool(nn.Cell):
    """Max-pooling of an N×H×W×C activation of any of the types (symmetric padding).

    Outputs:
        Tensor N×Ho×Wo×C, ``Ho = (H + 2·pad − kernel) // stride + 1``, of the input's type.
    """

    def __init__(self, library: str, kernel: int, stride: int, pad: int, dtype: str) -> None:
        super().__init__()
        self.kernel, self.stride, self.pad = kernel, stride, pad
        self.cfg = make_cfg(stride=stride, pad=pad, kernel=kernel)
        self.op = custom_op(library, "pose_q_pool", self._out_shape, DTYPES[dtype], tag=f"pool {dtype}")

    def _out_shape(self, _cfg, x):
        size = [(v + 2 * self.pad - self.kernel) // self.stride + 1 for v in x[1:3]]
        return (x[0], size[0], size[1], x[3])

    def construct(self, x: Tensor) -> Tensor:
        return self.op(self.cfg, x)
