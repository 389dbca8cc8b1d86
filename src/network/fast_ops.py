"""Convolution and transposed-convolution Cells with a fast formulation for the CPU backend.

MindSpore's CPU kernels for ``Conv2D`` / ``Conv2DTranspose`` with a kernel larger than 1×1, or with a
stride, fall back to a slow reference path (a 3×3 convolution on 8×256×16×12 takes about a second),
while the 1×1, stride-1 convolution is a fast matrix product. The Cells below keep the parameters of
the stock layers (same names, shapes and layouts, so checkpoints move freely between backends) and,
when built with ``fast=True``, compute:

* convolution: ``im2col`` (``ops.unfold``) followed by one 1×1 convolution whose kernel is the
  weight reshaped to ``O × (C·k·k) × 1 × 1`` (no copy of the weight);
* stride-2 transposed convolution: the sub-pixel decomposition, in which each of the four output
  phases ``(y mod 2, x mod 2)`` is an ordinary correlation with ``ceil(k/2)²`` taps of the kernel,
  in one of two formulations picked from the shapes (see :class:`Conv2dTranspose`);
* in inference, BatchNorm folded into the preceding kernel where that is cheaper (:func:`conv_bn`);
* in training, BatchNorm whose backward pass keeps the γ and input gradients accurate where
  MindSpore's CPU kernel loses them, when the upstream gradient is nearly constant over a
  channel (:class:`BatchNorm2d`).

Everything is made of differentiable operators, so training works with MindSpore's autodiff in
GRAPH and PYNATIVE modes. The formulation is fixed when the Cell is built; export code builds the
network with ``fast=False`` so exported graphs only hold the stock operators.

Measured on 2 cores (MindSpore 2.10): ``ops.unfold`` beats padding + slices + concat (and its
gradient, ``Col2Im``, beats the slices' gradients); ``ops.pad`` is avoided because the gradient of
``PadV3`` hangs on repeated calls in GRAPH mode, zero padding is a concat of zeros instead; the
1×1 ``Conv2D`` is a faster matrix product than ``BatchMatMul`` for these shapes; the stock
max-pool is faster than an ``im2col`` maximum, so it stays.

Paths (``fast``): ``False`` / ``"stock"``: MindSpore's operators; ``"im2col"``: the formulations above;
``"onednn"``: oneDNN primitives in custom operators (:mod:`src.network.onednn`), where forward,
backward-data and backward-weights are oneDNN's and inference folds BatchNorm and fuses bias, residual
addition and ReLU; ``True``: the fastest available, ``"onednn"`` where its operators build, else
``"im2col"``. On the oneDNN path a network keeps its activations NHWC between layers, in inference and in
training, where BatchNorm is an operator of its own with ReLU and the residual addition fused
(:func:`use_nhwc_inside`); a layer on its own takes and returns NCHW.

Symbols: N batch, C input channels, O output channels, H×W spatial size, k kernel size.
"""
import logging
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from mindspore import Tensor, nn, ops
from mindspore.ops.operations._grad_ops import BiasAddGrad

from src.errors import ConfigError
from src.network import onednn
from src.network.onednn.isa import describe_cpu_isa

logger = logging.getLogger(__name__)

STOCK, IM2COL, ONEDNN = "stock", "im2col", "onednn"
_ANNOUNCED = set()


def _announce(level: int, message: str) -> None:
    """Logs ``message`` once per process (the path is decided per layer)."""
    if message not in _ANNOUNCED:
        _ANNOUNCED.add(message)
        logger.log(level, message)


def cpu_path(fast: Union[bool, str]) -> str:
    """The path a layer built with ``fast`` runs: :data:`STOCK`, :data:`IM2COL` or :data:`ONEDNN`.

    ``True`` (or ``"true"``) takes the oneDNN operators where they build and im2col elsewhere; ``"onednn"``
    asks for them (im2col, with a warning, where they do not build). The first decision logs one line.

    Raises:
        ConfigError: ``fast`` is none of True, False, "stock", "im2col", "onednn".
    """
    value = str(fast).strip().lower()
    if value in ("false", STOCK):
        return STOCK
    if value == IM2COL:
        if not _ANNOUNCED:  # (after a fallback to im2col, the layers are built with "im2col": said already)
            _announce(logging.INFO, f"CPU convolutions: the im2col path (MODEL.FAST_CPU im2col); {_isa_phrase()}")
        return IM2COL
    if value not in ("true", ONEDNN):
        raise ConfigError(f"MODEL.FAST_CPU must be True, False, onednn or im2col, got {fast!r}")
    path, description = onednn.library_status()
    if path is None:
        _announce(logging.WARNING, f"CPU convolutions: the im2col path, the oneDNN operators are unavailable: "
                                   f"{description}; {_isa_phrase()}")
        return IM2COL
    _announce(logging.INFO, f"CPU convolutions: {description}; {_isa_phrase()}")
    return ONEDNN


def _isa_phrase() -> str:
    """What the CPU path's log line says of the instruction set (figures depend on it)."""
    return f"oneDNN dispatches {describe_cpu_isa()}"


def _onednn_ops():
    from src.network.onednn import ops as onednn_ops  # pylint: disable=import-outside-toplevel
    return onednn_ops


def _pair(value: Union[int, Sequence[int]]) -> Tuple[int, int]:
    if isinstance(value, int):
        return value, value
    first, second = value
    return int(first), int(second)


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


class _FastForward:
    """The CPU paths' forward passes, shared by :class:`Conv2d` and :class:`Conv2dTranspose`.

    (Graph mode cannot compile ``super()`` inside a mix-in, so each class keeps its own
    ``construct`` choosing between the stock operator and this.)
    """

    def fast_forward(self, x: Tensor) -> Tensor:
        """``self.convolve(x, self.weight)`` plus the bias, if any."""
        out = self.convolve(x, self.weight)
        if self.has_bias:
            out = ops.bias_add(out, self.bias)  # twice as fast as a broadcast addition on the CPU
        return out

    def onednn_forward(self, x: Tensor) -> Tensor:
        """The oneDNN operators' pass: differentiable in training and where the layer takes or returns N×C×H×W; in
        inference inside a network (the last layer), the fused inference operator."""
        if self.training or not self.dnn.nhwc_inside:
            return self.dnn.train_forward(x, self.weight, self.bias)
        return self.dnn.infer(x, self.weight, self.bias)


class Conv2d(_FastForward, nn.Conv2d):
    """``nn.Conv2d`` with symmetric zero padding (``pad_mode='pad'``) and an optional CPU path.

    The parameters are those of ``nn.Conv2d``: ``weight`` (O×C×kh×kw) and, with ``has_bias``,
    ``bias`` (O). With ``fast=True`` a convolution whose kernel is larger than 1×1 or whose stride
    is larger than 1 runs as ``im2col`` + a 1×1 convolution; a 1×1, stride-1 convolution always
    uses the stock operator (it is already a fast matrix product).

    ``fold_bn`` (set by ``fast``) lets :func:`conv_bn` fold an inference BatchNorm into the kernel.

    Inputs:
        - **x** (Tensor) - N×C×H×W float32.

    Outputs:
        Tensor of shape N×O×Ho×Wo, ``Ho = (H + 2·padding − kh) // stride + 1`` (and likewise Wo).
    """

    out_axis = 0  # axis of the output channels in ``weight``

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, has_bias: bool = False, weight_init=None, bias_init=None,
                 fast: Union[bool, str] = False) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, pad_mode="pad",
                         padding=padding, has_bias=has_bias, weight_init=weight_init, bias_init=bias_init)
        self.kernel_hw = _pair(kernel_size)
        self.stride_hw = _pair(stride)
        self.padding_hw = _pair(padding)
        self.path = cpu_path(fast)
        self.fold_bn = self.path != STOCK
        self.weight_numel = int(np.prod(self.weight.shape))
        self.onednn = self.path == ONEDNN and self.kernel_hw[0] == self.kernel_hw[1] and self.stride_hw[0] == self.stride_hw[1]
        self.fast = self.onednn or (self.path != STOCK and (self.kernel_hw != (1, 1) or self.stride_hw != (1, 1)))
        # a 1×1, stride-1 convolution in NCHW is already a fast matrix product: in training (NCHW between
        # layers) MindSpore's was 7 % faster over a ResNet-50 step than oneDNN's, which reorders to NHWC and back
        self.stock_in_training = self.kernel_hw == (1, 1) and self.stride_hw == (1, 1)
        if self.onednn:
            self.dnn = _onednn_ops().ConvOps(onednn.library_path(), out_channels, self.kernel_hw[0], self.stride_hw[0],
                                             self.padding_hw[0], has_bias=has_bias)

    def convolve(self, x: Tensor, weight: Tensor) -> Tensor:
        """The convolution of ``x`` with ``weight`` (shaped as ``self.weight``), without bias."""
        if not self.fast:
            return self.conv2d(x, weight)
        cols = im2col(x, self.kernel_hw, self.stride_hw, self.padding_hw)
        return ops.conv2d(cols, weight.reshape(self.out_channels, -1, 1, 1))

    def output_shape(self, shape: Tuple[int, int, int, int]) -> Tuple[int, int, int, int]:
        """N×O×Ho×Wo for an input of shape N×C×H×W."""
        return (shape[0], self.out_channels,
                conv_output_size(shape[2], self.kernel_hw[0], self.stride_hw[0], self.padding_hw[0]),
                conv_output_size(shape[3], self.kernel_hw[1], self.stride_hw[1], self.padding_hw[1]))

    def construct(self, x: Tensor) -> Tensor:
        if self.onednn:
            if self.training and self.stock_in_training and not self.dnn.train_nhwc:
                return super().construct(x)
            return self.onednn_forward(x)
        if not self.fast:
            return super().construct(x)
        return self.fast_forward(x)


#: :class:`_CentredGradient` estimates each channel's mean gradient from every ROW_STRIDE-th row.
ROW_STRIDE = 8


class _CentredGradient(nn.Cell):
    """The identity on a training-mode BatchNorm's output ``y``; its backward pass subtracts from the
    upstream gradient a per-channel shift close to its mean, and hands β what it removed.

    Training-mode BatchNorm's γ and input gradients are invariant to any constant subtracted from
    ``dy`` over a channel (``Σ x̂ = 0``); β's gradient ``Σ dy`` is not, so β gets ``shift·count``
    from here and the sum of the shifted gradient from the BatchNorm's own backward pass. Any shift
    near the channel mean removes the cancellation; the mean over every 8th row (of every image)
    is as good as the exact mean (the accuracy test's errors are the same) at an eighth of a
    channel sum's cost.

    Inputs:
        - **y** (Tensor) - N×C×H×W, the BatchNorm's output.
        - **beta** (Tensor) - C, the BatchNorm's β.

    Outputs:
        ``y`` unchanged.
    """

    def __init__(self) -> None:
        super().__init__()
        # The kernel of bias_add's backward: the channel sums of an N×C×H×W tensor, twice as fast
        # as ReduceSum over (0, 2, 3) on the CPU (as bias_add is against a broadcast subtraction).
        self.channel_sums = BiasAddGrad(data_format="NCHW")

    def construct(self, y: Tensor, beta: Tensor) -> Tensor:
        return y

    def bprop(self, y: Tensor, beta: Tensor, out: Tensor, dout: Tensor) -> Tuple[Tensor, Tensor]:
        sample = dout[:, :, ::ROW_STRIDE, :]
        shift = self.channel_sums(sample) / (sample.shape[0] * sample.shape[2] * sample.shape[3])
        count = y.shape[0] * y.shape[2] * y.shape[3]
        return ops.bias_add(dout, -shift), shift * count


class BatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` whose training backward pass, with ``centred_grad``, keeps γ and the input
    gradient accurate on the CPU.

    MindSpore's CPU BatchNorm backward computes γ's gradient ``Σ dy·x̂`` (sum over N, H, W) in a way
    that loses it to cancellation when ``dy`` is nearly constant over a channel (say, heatmaps
    offset from their targets by a constant), all the more when the input's channel mean exceeds
    its spread; the input gradient, which uses that sum, suffers too. Subtracting each channel's
    mean (estimated from a subsample) from ``dy`` first changes neither gradient in exact arithmetic
    (``Σ x̂ = 0``) but removes the cancellation (:class:`_CentredGradient`); β's gradient ``Σ dy``
    stays exact. The forward pass is the stock operator's, so outputs and running statistics are bit
    for bit those of ``nn.BatchNorm2d``; so are the parameters. Inference, and
    ``centred_grad=False``, run ``nn.BatchNorm2d`` unchanged.

    Cost: a subtraction over ``dy`` and a channel sum over an eighth of it per layer
    (``bench/batchnorm.py`` measures it per training step; figures in docs/cpu_performance.md).

    Inputs:
        - **x** (Tensor) - N×C×H×W float32.

    Outputs:
        Tensor of shape N×C×H×W.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.9,
                 centred_grad: bool = False) -> None:
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.centred_grad = bool(centred_grad)
        self.centre = _CentredGradient()
        self.bn_eps, self.bn_momentum = eps, momentum
        self.nhwc = False

    def set_nhwc(self, on: bool = True) -> None:
        """With ``on``, in training takes N×H×W×C activations through :func:`conv_bn`, normalised by the oneDNN
        path's own operator (:class:`src.network.onednn.ops.BatchNormOps`: ReLU and the residual addition fused,
        channel sums in double); otherwise N×C×H×W, normalised as ``nn.BatchNorm2d`` (the default)."""
        if on and not hasattr(self, "dnn"):
            self.dnn = _onednn_ops().BatchNormOps(onednn.library_path(), self.bn_eps, self.bn_momentum)
        self.nhwc = bool(on)

    def construct(self, x: Tensor) -> Tensor:
        if not (self.training and self.centred_grad):
            return super().construct(x)
        y = self.bn_train(x, self.gamma, self.beta, self.moving_mean, self.moving_variance)[0]
        return self.centre(y, self.beta)


def conv_bn(conv: Union[Conv2d, "Conv2dTranspose"], bn: nn.BatchNorm2d, x: Tensor, relu: bool = False,
            residual: Optional[Tensor] = None) -> Tensor:
    """``act(bn(conv(x)) + residual)``, ``act`` ReLU or the identity; on the CPU paths in inference,
    BatchNorm folded into the kernel (where cheaper, on the im2col path), and on the oneDNN path
    BatchNorm, residual and ReLU fused into the convolution; in training inside a network on the oneDNN
    path, the convolution and then one operator for BatchNorm, residual and ReLU, on N×H×W×C.

    In inference BatchNorm is the affine map ``y·s + (β − μ·s)``, ``s = γ / sqrt(σ² + eps)``, so it
    can scale the kernel instead of the output. The im2col path does this (for a bias-free ``conv``,
    with ``bn`` in inference mode) when the kernel has fewer elements than the output, which spares a
    pass of MindSpore's CPU BatchNorm over the larger tensor. Shapes are compile-time constants in
    GRAPH mode, so the choice is fixed per compiled graph.

    Args:
        conv: a :class:`Conv2d` or :class:`Conv2dTranspose`.
        bn: the BatchNorm after it.
        x: the input of ``conv``, N×C×H×W (N×H×W×C inside a network on the oneDNN path).
        relu: apply ReLU last.
        residual: added before the ReLU (same shape as the output), or None.

    Returns:
        N×O×Ho×Wo (or N×Ho×Wo×O).
    """
    if conv.onednn and conv.dnn.nhwc_inside:
        if not bn.training:
            return conv.dnn.infer(x, conv.weight, conv.bias, bn, relu, residual)
        if bn.nhwc:  # training, NHWC (use_nhwc_inside)
            out = conv.dnn.train_forward(x, conv.weight, conv.bias)
            return bn.dnn.train(out, bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance, relu, residual)
    out = _conv_bn(conv, bn, x)
    if residual is not None:
        out = out + residual
    if relu:
        out = ops.relu(out)
    return out


def _conv_bn(conv: Union[Conv2d, "Conv2dTranspose"], bn: nn.BatchNorm2d, x: Tensor) -> Tensor:
    """``bn(conv(x))``, BatchNorm folded into the kernel on the im2col path in inference where cheaper."""
    if bn.training or not conv.fold_bn or conv.has_bias or conv.onednn:
        return bn(conv(x))
    out_shape = conv.output_shape(x.shape)
    if conv.weight_numel >= out_shape[0] * out_shape[1] * out_shape[2] * out_shape[3]:
        return bn(conv(x))
    scale = bn.gamma / ops.sqrt(bn.moving_variance + bn.eps)
    shape = (-1, 1, 1, 1) if conv.out_axis == 0 else (1, -1, 1, 1)
    out = conv.convolve(x, conv.weight * scale.reshape(shape))
    return ops.bias_add(out, bn.beta - bn.moving_mean * scale)


class MaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d`` with symmetric zero padding (PyTorch's); inside a network on the oneDNN path
    (:func:`use_nhwc_inside`), oneDNN's on NHWC activations, in inference and (unless told otherwise) training.

    Inputs:
        - **x** (Tensor) - N×C×H×W float32 (N×H×W×C inside a network on the oneDNN path).

    Outputs:
        Tensor of shape N×C×Ho×Wo (N×Ho×Wo×C), ``Ho = (H + 2·padding − kernel) // stride + 1``.
    """

    def __init__(self, kernel_size: int, stride: int, padding: int) -> None:
        super().__init__(kernel_size=kernel_size, stride=stride, pad_mode="pad", padding=padding)
        self.pool_size, self.pool_stride, self.pool_padding = kernel_size, stride, padding
        self.nhwc = self.train_nhwc = False

    def set_nhwc(self, training: bool = True) -> None:
        """Takes and returns N×H×W×C activations, pooled by oneDNN: in inference, and in training if ``training``
        (else N×C×H×W in training, MindSpore's max-pool)."""
        self.dnn = _onednn_ops().MaxPoolOps(onednn.library_path(), self.pool_size, self.pool_stride,
                                            self.pool_padding)
        self.nhwc, self.train_nhwc = True, bool(training)

    def construct(self, x: Tensor) -> Tensor:
        if self.nhwc and not self.training:
            return self.dnn(x)
        if self.train_nhwc and self.training:
            return self.dnn.train(x)
        return super().construct(x)


def use_nhwc_inside(net: nn.Cell, first: nn.Cell, last: nn.Cell, training: bool = True) -> None:
    """Makes the oneDNN layers of ``net`` pass NHWC activations to each other, in inference and, with
    ``training``, in training.

    Every convolution and transposed convolution and the max-pool then take and return N×H×W×C, except
    that ``first`` takes the network's N×C×H×W input and ``last`` returns N×C×H×W. In inference BatchNorm
    is folded into the kernel and the residual addition and ReLU are fused (:func:`conv_bn`); in training
    BatchNorm runs as its own operator on N×H×W×C with ReLU and the residual addition fused
    (:meth:`BatchNorm2d.set_nhwc`). With ``training`` False, training passes N×C×H×W between layers,
    normalised by MindSpore's BatchNorm (measured slower; kept for comparison, ``bench/speed.py``).
    Only for networks whose every convolution is on the oneDNN path, and called before the first call.
    """
    for _, cell in net.cells_and_names():
        if isinstance(cell, (Conv2d, Conv2dTranspose)) and cell.onednn:
            cell.dnn.set_layout(src_nhwc=cell is not first, dst_nhwc=cell is not last, training=training)
        elif isinstance(cell, MaxPool2d):
            cell.set_nhwc(training)
        elif isinstance(cell, BatchNorm2d):
            cell.set_nhwc(training)


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


class Conv2dTranspose(_FastForward, nn.Conv2dTranspose):
    """Stride-2 transposed convolution with PyTorch's padding semantics and an optional CPU path.

    The output has size ``2·(H − 1) − 2·padding + k + output_padding`` as in PyTorch's
    ``ConvTranspose2d``: ``output_padding`` extends the output at the end with values computed by
    the transposed-convolution formula. (``nn.Conv2dTranspose`` instead pads its output with zeros,
    so the stock path is built with the equivalent asymmetric padding ``(p, p − op, p, p − op)``.)
    The parameters are those of ``nn.Conv2dTranspose``: ``weight`` (C×O×k×k), ``bias`` (O).

    With ``fast=True`` (which needs an output of exactly 2H × 2W, true for (k, padding,
    output_padding) in (2, 0, 0), (3, 1, 1), (4, 1, 0)) one of two formulations of the sub-pixel
    decomposition (:func:`_phase_taps`) runs, picked from the shapes:

    * *phase*: ``im2col`` of T×T windows, one 1×1 convolution giving the four phases as 4·O
      channels (the kernel's taps regrouped per phase), then one transpose interleaves them. Best
      when activations outweigh the kernel (the later, larger layers).
    * *scatter*: one matrix product of the untouched kernel (viewed as C × O·k·k) with the input,
      then each phase sums the shifted planes of its taps. Best for a large kernel on a small
      input (2048→256 channels on 8×6), as it never copies the kernel.

    ``formulation`` forces one of them (``'phase'``, ``'scatter'``); ``'auto'`` takes *scatter*
    when ``O·k² ≥ 4·N·H·W``.

    Inputs:
        - **x** (Tensor) - N×C×H×W float32.

    Outputs:
        Tensor of shape N×O×Ho×Wo (N×O×2H×2W for the kernels above).
    """

    out_axis = 1  # axis of the output channels in ``weight``

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0,
                 output_padding: int = 0, has_bias: bool = False, weight_init=None, bias_init=None,
                 fast: Union[bool, str] = False, formulation: str = "auto") -> None:
        if not 0 <= output_padding <= padding:
            raise ValueError(f"output_padding must be in [0, padding={padding}], got {output_padding}")
        end = padding - output_padding
        super().__init__(in_channels, out_channels, kernel_size, stride=2, pad_mode="pad",
                         padding=(padding, end, padding, end), has_bias=has_bias,
                         weight_init=weight_init, bias_init=bias_init)
        if formulation not in ("auto", "phase", "scatter"):
            raise ValueError(f"formulation must be 'auto', 'phase' or 'scatter', got {formulation!r}")
        self.path = cpu_path(fast)
        self.fast = self.path != STOCK
        self.fold_bn = self.fast
        self.weight_numel = int(np.prod(self.weight.shape))
        self.formulation = formulation
        self.onednn = self.path == ONEDNN
        if self.onednn:
            self.dnn = _onednn_ops().ConvOps(onednn.library_path(), out_channels, kernel_size, 2, padding,
                                             output_padding, deconv=True, has_bias=has_bias)
        if not self.fast:
            return
        if kernel_size + output_padding - 2 * padding != 2:
            raise ValueError(f"the CPU fast path needs an output of twice the input size; kernel "
                             f"{kernel_size}, padding {padding}, output_padding {output_padding} do not give it")
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

    def output_shape(self, shape: Tuple[int, int, int, int]) -> Tuple[int, int, int, int]:
        """N×O×2H×2W for an input of shape N×C×H×W (the fast path's layouts)."""
        return shape[0], self.out_channels, 2 * shape[2], 2 * shape[3]

    def convolve(self, x: Tensor, weight: Tensor) -> Tensor:
        """The fast path's transposed convolution of ``x`` with ``weight`` (C×O×k×k), without bias."""
        n, _, h, w = x.shape
        # shapes are compile-time constants, so this picks one formulation per compiled graph
        scatter = self.out_channels * self.kernel_len * self.kernel_len >= 4 * n * h * w
        if self.formulation == "scatter" or (self.formulation == "auto" and scatter):
            return self._by_scatter(x, weight)
        return self._by_phases(x, weight)

    def construct(self, x: Tensor) -> Tensor:
        if self.onednn:
            return self.onednn_forward(x)
        if not self.fast:
            return super().construct(x)
        return self.fast_forward(x)

