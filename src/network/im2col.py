"""The im2col path's formulations (``MODEL.FAST_CPU im2col``): child Cells of :class:`src.network.fast_ops.Conv2d`
and :class:`~src.network.fast_ops.Conv2dTranspose` computing ``(x, weight, bias) -> y`` from their parameters.

MindSpore's CPU kernels for ``Conv2D`` / ``Conv2DTranspose`` with a kernel larger than 1×1, or with a stride, fall
back to a slow reference path (a 3×3 convolution on 8×256×16×12 takes about a second), while the 1×1, stride-1
convolution is a fast matrix product. So:

* convolution: ``im2col`` (``ops.unfold``) followed by one 1×1 convolution whose kernel is the weight reshaped to
  ``O × (C·k·k) × 1 × 1`` (no copy of the weight), :class:`Im2colConv`;
* stride-2 transposed convolution: the sub-pixel decomposition, in which each of the four output phases
  ``(y mod 2, x mod 2)`` is an ordinary correlation with ``ceil(k/2)²`` taps of the kernel, in one of two
  formulations picked from the shapes, :class:`SubPixelDeconv`.

Everything is made of differentiable operators, so training works with MindSpore's autodiff in GRAPH and PYNATIVE
modes. Measured on 2 cores (MindSpore 2.10): ``ops.unfold`` beats padding + slices + concat (and its gradient,
``Col2Im``, beats the slices' gradients); ``ops.pad`` is avoided because the gradient of ``PadV3`` hangs on repeated
calls in GRAPH mode, zero padding is a concat of zeros instead; the 1×1 ``Conv2D`` is a faster matrix product than
``BatchMatMul`` for these shapes.

Symbols: N batch, C input channels, O output channels, H×W spatial size, k kernel size.
"""
from typing import List, Optional, Tuple

import numpy as np
from mindspore import Tensor, nn, ops


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a convolution along one axis (padding on both sides, dilation 1)."""
    return (size + 2 * padding - kernel) // stride + 1


def im2col(x: Tensor, kernel: Tuple[int, int], stride: Tuple[int, int],
           padding: Tuple[int, int]) -> Tensor:
    """Sliding windows of ``x`` as channels, zero padding on both sides of each axis.

    Args:
        x: N×C×H×W.
        kernel, stride, padding: ``(along H, along W)``.

    Returns:
        N×(C·kh·kw)×Ho×Wo, channel index ``c·kh·kw + i·kw + j`` for tap ``(i, j)`` — the order of
        a ``C×kh×kw`` kernel flattened, so an ``O×C×kh×kw`` weight reshapes to ``O×(C·kh·kw)``.
    """
    n, c, h, w = x.shape
    out_h = conv_output_size(h, kernel[0], stride[0], padding[0])
    out_w = conv_output_size(w, kernel[1], stride[1], padding[1])
    cols = ops.unfold(x, kernel, dilation=1, padding=padding, stride=stride)
    return cols.reshape(n, c * kernel[0] * kernel[1], out_h, out_w)


class Im2colConv(nn.Cell):
    """A convolution as ``im2col`` + one 1×1 convolution (symmetric zero padding, dilation 1).

    Inputs:
        - **x** (Tensor) - N×C×H×W.
        - **weight** (Tensor) - O×C×kh×kw.
        - **bias** (Tensor) - O, or None.

    Outputs:
        Tensor of shape N×O×Ho×Wo.
    """

    def __init__(self, out_channels: int, kernel: Tuple[int, int], stride: Tuple[int, int],
                 padding: Tuple[int, int], has_bias: bool) -> None:
        super().__init__()
        self.out_channels, self.kernel, self.stride, self.padding = out_channels, kernel, stride, padding
        self.has_bias = has_bias

    def convolve(self, x: Tensor, weight: Tensor) -> Tensor:
        """The convolution of ``x`` with ``weight``, without bias."""
        cols = im2col(x, self.kernel, self.stride, self.padding)
        return ops.conv2d(cols, weight.reshape(self.out_channels, -1, 1, 1))

    def construct(self, x: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
        out = self.convolve(x, weight)
        if self.has_bias:
            out = ops.bias_add(out, bias)  # twice as fast as a broadcast addition on the CPU
        return out


def _phase_taps(kernel: int, padding: int) -> Tuple[int, List[int], List[List[int]]]:
    """Sub-pixel decomposition of a stride-2 transposed convolution along one axis.

    Output ``o = 2m + a`` (phase ``a``) receives ``x[m + d] · w[t]`` for every tap ``t`` with
    ``2(m + d) − padding + t = o``, i.e. ``t ≡ a + padding (mod 2)`` and ``d = (a + padding − t) / 2``.
    Each phase is thus a correlation with at most ``ceil(kernel / 2)`` taps over consecutive inputs.

    Returns:
        ``(window, first, taps)``: the window length ``T``; for each phase the input offset ``d``
        of its first window slot; and for each phase the kernel tap of each slot (−1: none).
    """
    window = (kernel + 1) // 2
    first, taps = [], []
    for phase in (0, 1):
        offsets = {(phase + padding - t) // 2: t for t in range(kernel) if (phase + padding - t) % 2 == 0}
        start = min(offsets)
        first.append(start)
        taps.append([offsets.get(start + slot, -1) for slot in range(window)])
    return window, first, taps



class SubPixelDeconv(nn.Cell):
    """A stride-2 transposed convolution with an output of exactly 2H × 2W (true for (k, padding, output_padding)
    in (2, 0, 0), (3, 1, 1), (4, 1, 0)) by the sub-pixel decomposition (:func:`_phase_taps`), in one of two
    formulations picked from the shapes:

    * *phase*: ``im2col`` of T×T windows, one 1×1 convolution giving the four phases as 4·O
      channels (the kernel's taps regrouped per phase), then one transpose interleaves them. Best
      when activations outweigh the kernel (the later, larger layers).
    * *scatter*: one matrix product of the untouched kernel (viewed as C × O·k·k) with the input,
      then each phase sums the shifted planes of its taps. Best for a large kernel on a small
      input (2048→256 channels on 8×6), as it never copies the kernel.

    ``variant`` forces one of them (``'phase'``, ``'scatter'``); ``'auto'`` takes *scatter*
    when ``O·k² ≥ 4·N·H·W``.

    Inputs:
        - **x** (Tensor) - N×C×H×W.
        - **weight** (Tensor) - C×O×k×k.
        - **bias** (Tensor) - O, or None.

    Outputs:
        Tensor of shape N×O×2H×2W.

    Raises:
        ValueError: the kernel, padding and output padding do not give twice the input size.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: int, output_padding: int,
                 has_bias: bool, variant: str = "auto") -> None:
        super().__init__()
        if kernel_size + output_padding - 2 * padding != 2:
            raise ValueError(f"the CPU fast path needs an output of twice the input size; kernel "
                             f"{kernel_size}, padding {padding}, output_padding {output_padding} do not give it")
        self.in_channels, self.out_channels, self.has_bias = in_channels, out_channels, has_bias
        self.variant = variant
        window, first, taps = _phase_taps(kernel_size, padding)
        self.kernel_len = kernel_size
        self._init_phase(window, first, taps)
        # scatter: phase a sums the planes of taps t at input offsets d = first[a] + slot
        terms = [[(taps[a][slot], first[a] + slot) for slot in range(window) if taps[a][slot] >= 0] for a in (0, 1)]
        self.scatter_terms = tuple(tuple(t) for t in terms)
        self.scatter_pad = max(abs(d) for phase in terms for _, d in phase)
        self.matmul_ta = ops.MatMul(transpose_a=True)

    def _init_phase(self, window: int, first: List[int], taps: List[List[int]]) -> None:
        """Constants of the *phase* formulation (``im2col`` over a symmetric padding ``P``).

        Phase ``a`` reads grid row ``m + s_a`` (``s_a = first[a] + P``) for output row ``2m + a``.
        Placing the phases in the order ``order`` on a canvas of twice the grid makes the output
        the crop ``[crop, crop + 2H)`` of the canvas: ``2·s_a + order[a] − a`` must not depend on
        ``a``, which holds when ``s_1 − s_0`` is 0 (order 0, 1) or 1 (order 1, 0).
        """
        self.window = window
        self.phase_pad = max(0, -min(first), max(first) + window - 1)
        starts = [f + self.phase_pad for f in first]
        if starts[1] - starts[0] not in (0, 1):
            raise ValueError(f"unsupported deconvolution layout (kernel {self.kernel_len})")
        order = (0, 1) if starts[1] == starts[0] else (1, 0)
        self.phase_crop = 2 * starts[0] + order[0]
        zero_tap = self.kernel_len * self.kernel_len
        index = []
        for ay in order:
            for ax in order:
                for sy in range(window):
                    for sx in range(window):
                        ty, tx = taps[ay][sy], taps[ax][sx]
                        index.append(ty * self.kernel_len + tx if ty >= 0 and tx >= 0 else zero_tap)
        self.needs_zero_tap = zero_tap in index
        self.tap_index = Tensor(np.array(index, np.int32))

    def _phase_kernel(self, weight: Tensor) -> Tensor:
        """The 4 phase sub-kernels of ``weight`` as one 1×1 kernel of shape (4·O)×(C·T·T)×1×1."""
        c, o = self.in_channels, self.out_channels
        weight = weight.reshape(c, o, -1)
        if self.needs_zero_tap:
            weight = ops.concat((weight, ops.zeros((c, o, 1), weight.dtype)), 2)
        taps = ops.gather(weight, self.tap_index, 2)  # C×O×(4·T·T)
        taps = taps.reshape(c, o, 4, self.window * self.window).transpose(2, 1, 0, 3)
        return taps.reshape(4 * o, c * self.window * self.window, 1, 1)

    def _by_phases(self, x: Tensor, weight: Tensor) -> Tensor:
        """*phase* formulation: N×C×H×W → N×O×2H×2W via im2col and a (4·O)-channel 1×1 convolution."""
        n, _, h, w = x.shape
        o = self.out_channels
        cols = x if self.window == 1 else im2col(x, (self.window, self.window), (1, 1),
                                                  (self.phase_pad, self.phase_pad))
        z = ops.conv2d(cols, self._phase_kernel(weight))  # N×(4·O)×Gh×Gw
        grid_h, grid_w = z.shape[2], z.shape[3]
        canvas = z.reshape(n, 2, 2, o, grid_h, grid_w).transpose(0, 3, 4, 1, 5, 2)
        canvas = canvas.reshape(n, o, 2 * grid_h, 2 * grid_w)
        if self.phase_crop == 0 and grid_h == h and grid_w == w:
            return canvas
        return ops.slice(canvas, (0, 0, self.phase_crop, self.phase_crop), (n, o, 2 * h, 2 * w))

    def _by_scatter(self, x: Tensor, weight: Tensor) -> Tensor:
        """*scatter* formulation: N×C×H×W → N×O×2H×2W via one (O·k·k)×C by C×(N·H·W) product."""
        n, c, h, w = x.shape
        o, k, q = self.out_channels, self.kernel_len, self.scatter_pad
        columns = x.transpose(1, 0, 2, 3).reshape(c, n * h * w)
        planes = self.matmul_ta(weight.reshape(c, o * k * k), columns)  # (O·k·k)×(N·H·W)
        planes = planes.reshape(o * k * k, n, h, w)
        if q:
            rows = ops.zeros((o * k * k, n, q, w), planes.dtype)
            planes = ops.concat((rows, planes, rows), 2)
            cols = ops.zeros((o * k * k, n, h + 2 * q, q), planes.dtype)
            planes = ops.concat((cols, planes, cols), 3)
        planes = ops.unstack(planes.reshape(o, k * k, n, h + 2 * q, w + 2 * q), 1)  # k·k × O×N×H'×W'
        phases = []
        for ay in range(2):
            for ax in range(2):
                total = None
                for ty, dy in self.scatter_terms[ay]:
                    for tx, dx in self.scatter_terms[ax]:
                        term = ops.slice(planes[ty * k + tx], (0, 0, q + dy, q + dx), (o, n, h, w))
                        total = term if total is None else total + term
                phases.append(total.reshape(1, o, n, h, w))
        out = ops.concat(phases, 0).reshape(2, 2, o, n, h, w).transpose(3, 2, 4, 0, 5, 1)
        return out.reshape(n, o, 2 * h, 2 * w)


    def convolve(self, x: Tensor, weight: Tensor) -> Tensor:
        """The fast path's transposed convolution of ``x`` with ``weight`` (C×O×k×k), without bias."""
        n, _, h, w = x.shape
        # shapes are compile-time constants, so this picks one formulation per compiled graph
        scatter = self.out_channels * self.kernel_len * self.kernel_len >= 4 * n * h * w
        if self.variant == "scatter" or (self.variant == "auto" and scatter):
            return self._by_scatter(x, weight)
        return self._by_phases(x, weight)


    def construct(self, x: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
        out = self.convolve(x, weight)
        if self.has_bias:
            out = ops.bias_add(out, bias)
        return out
