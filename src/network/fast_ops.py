"""The network's convolution, transposed-convolution, BatchNorm and max-pooling Cells: the parameters of the stock
layers (same names, shapes and layouts, so checkpoints move freely between backends) and, on the CPU, the
formulation the network's :class:`~src.network.cpu_path.CpuPath` names, as one child Cell ``formulation`` with one
signature, ``(x, weight, bias) -> y``:

* :data:`CpuPath.STOCK <src.network.cpu_path.CpuPath>`: none, the layer's own MindSpore operator;
* ``IM2COL``: :class:`~src.network.im2col.Im2colConv` (a 1×1, stride-1 convolution keeps the stock operator,
  already a fast matrix product) and :class:`~src.network.im2col.SubPixelDeconv`;
* ``ONEDNN``: :class:`~src.network.onednn.ops.ConvOps`, oneDNN primitives in custom operators, where inference folds
  BatchNorm and fuses bias, residual addition and ReLU (by Winograd F(2×2, 3×3) where
  :meth:`CpuPath.inference_winograd <src.network.cpu_path.CpuPath.inference_winograd>` says, and in training the
  forward pass and both gradients where :meth:`~src.network.cpu_path.CpuPath.training_winograd` says).

The path and, on the oneDNN path, the layout between layers (:class:`~src.network.cpu_path.Layout`) are fixed when
the layer is built, from the values the network decided once. Besides, in inference, BatchNorm is folded into the
preceding kernel where that is cheaper (:func:`conv_bn`), and in training BatchNorm's backward pass keeps the γ and
input gradients accurate where MindSpore's CPU kernel loses them (:class:`BatchNorm2d`). Export builds the network
on the stock path, so exported graphs only hold the stock operators.

Symbols: N batch, C input channels, O output channels, H×W spatial size, k kernel size.
"""
from typing import Optional, Sequence, Tuple, Union

import numpy as np
from mindspore import Tensor, nn, ops
from mindspore.ops.operations._grad_ops import BiasAddGrad

from src.network import onednn
from src.network.cpu_path import CpuPath, FastCpu, Layout, cpu_path
from src.network.im2col import Im2colConv, SubPixelDeconv, conv_output_size


def _onednn_ops():
    from src.network.onednn import ops as onednn_ops  # pylint: disable=import-outside-toplevel
    return onednn_ops


def _pair(value: Union[int, Sequence[int]]) -> Tuple[int, int]:
    if isinstance(value, int):
        return value, value
    first, second = value
    return int(first), int(second)


def _edges(layout: Layout, first: bool, last: bool) -> dict:
    """The oneDNN operators' layouts of a layer at the given place in a network of ``layout``."""
    inside = layout.inference_nhwc
    return dict(src_nhwc=inside and not first, dst_nhwc=inside and not last, training_nhwc=layout.training_nhwc)


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` with symmetric zero padding (``pad_mode='pad'``) and the CPU path's formulation.

    The parameters are those of ``nn.Conv2d``: ``weight`` (O×C×kh×kw) and, with ``has_bias``, ``bias`` (O).

    Args:
        path: the CPU path (a :class:`CpuPath`, or a ``MODEL.FAST_CPU`` value decided here).
        layout: the network's layout (the oneDNN path: N×H×W×C between layers).
        first, last: the layer takes the network's N×C×H×W input / returns its N×C×H×W output.

    Inputs:
        - **x** (Tensor) - N×C×H×W float32 (N×H×W×C inside a network on the oneDNN path).

    Outputs:
        Tensor of shape N×O×Ho×Wo (N×Ho×Wo×O), ``Ho = (H + 2·padding − kh) // stride + 1`` (and likewise Wo).
    """

    out_axis = 0  # axis of the output channels in ``weight``

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, has_bias: bool = False, weight_init=None, bias_init=None,
                 path: FastCpu = CpuPath.STOCK, layout: Layout = Layout.NCHW, first: bool = False,
                 last: bool = False) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, pad_mode="pad",
                         padding=padding, has_bias=has_bias, weight_init=weight_init, bias_init=bias_init)
        self.kernel_hw = _pair(kernel_size)
        self.stride_hw = _pair(stride)
        self.padding_hw = _pair(padding)
        self.path = cpu_path(path)
        self.weight_numel = int(np.prod(self.weight.shape))
        square = self.kernel_hw[0] == self.kernel_hw[1] and self.stride_hw[0] == self.stride_hw[1]
        pointwise = self.kernel_hw == (1, 1) and self.stride_hw == (1, 1)
        self.onednn = self.path is CpuPath.ONEDNN and square
        if self.onednn:
            window = (self.kernel_hw[0], self.stride_hw[0], self.padding_hw[0])
            self.formulation = _onednn_ops().ConvOps(onednn.library_path(), out_channels, *window, has_bias=has_bias,
                                                     winograd=self.path.inference_winograd(*window),
                                                     train_winograd=self.path.training_winograd(*window),
                                                     **_edges(layout, first, last))
        elif self.path is not CpuPath.STOCK and not pointwise:
            self.formulation = Im2colConv(out_channels, self.kernel_hw, self.stride_hw, self.padding_hw, has_bias)
        else:
            self.formulation = None
        # inference folds BatchNorm into the kernel on the im2col path (conv_bn)
        self.fold_bn = self.path is not CpuPath.STOCK and not self.onednn
        # a 1×1, stride-1 convolution in NCHW is already a fast matrix product: in training (NCHW between
        # layers) MindSpore's was 7 % faster over a ResNet-50 step than oneDNN's, which reorders to NHWC and back
        self.stock_in_training = self.onednn and pointwise and not self.formulation.train_nhwc

    def convolve(self, x: Tensor, weight: Tensor) -> Tensor:
        """The convolution of ``x`` with ``weight`` (shaped as ``self.weight``), without bias (N×C×H×W)."""
        if self.formulation is None:
            return self.conv2d(x, weight)
        return self.formulation.convolve(x, weight)

    def output_shape(self, shape: Tuple[int, int, int, int]) -> Tuple[int, int, int, int]:
        """N×O×Ho×Wo for an input of shape N×C×H×W."""
        return (shape[0], self.out_channels,
                conv_output_size(shape[2], self.kernel_hw[0], self.stride_hw[0], self.padding_hw[0]),
                conv_output_size(shape[3], self.kernel_hw[1], self.stride_hw[1], self.padding_hw[1]))

    def construct(self, x: Tensor) -> Tensor:
        if self.formulation is None or (self.training and self.stock_in_training):
            return super().construct(x)
        return self.formulation(x, self.weight, self.bias)


class Conv2dTranspose(nn.Conv2dTranspose):
    """Stride-2 transposed convolution with PyTorch's padding semantics and the CPU path's formulation.

    The output has size ``2·(H − 1) − 2·padding + k + output_padding`` as in PyTorch's
    ``ConvTranspose2d``: ``output_padding`` extends the output at the end with values computed by
    the transposed-convolution formula. (``nn.Conv2dTranspose`` instead pads its output with zeros,
    so the stock path is built with the equivalent asymmetric padding ``(p, p − op, p, p − op)``.)
    The parameters are those of ``nn.Conv2dTranspose``: ``weight`` (C×O×k×k), ``bias`` (O).

    Args:
        path, layout, first, last: as :class:`Conv2d`'s.
        subpixel: the im2col path's variant of the sub-pixel decomposition (``'auto'``, ``'phase'``, ``'scatter'``,
            :class:`~src.network.im2col.SubPixelDeconv`), which needs an output of exactly 2H × 2W.

    Inputs:
        - **x** (Tensor) - N×C×H×W float32 (N×H×W×C inside a network on the oneDNN path).

    Outputs:
        Tensor of shape N×O×Ho×Wo (N×O×2H×2W for the kernels above).
    """

    out_axis = 1  # axis of the output channels in ``weight``

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0,
                 output_padding: int = 0, has_bias: bool = False, weight_init=None, bias_init=None,
                 path: FastCpu = CpuPath.STOCK, layout: Layout = Layout.NCHW, first: bool = False,
                 last: bool = False, subpixel: str = "auto") -> None:
        if not 0 <= output_padding <= padding:
            raise ValueError(f"output_padding must be in [0, padding={padding}], got {output_padding}")
        end = padding - output_padding
        super().__init__(in_channels, out_channels, kernel_size, stride=2, pad_mode="pad",
                         padding=(padding, end, padding, end), has_bias=has_bias,
                         weight_init=weight_init, bias_init=bias_init)
        if subpixel not in ("auto", "phase", "scatter"):
            raise ValueError(f"subpixel must be 'auto', 'phase' or 'scatter', got {subpixel!r}")
        self.path = cpu_path(path)
        self.weight_numel = int(np.prod(self.weight.shape))
        self.onednn = self.path is CpuPath.ONEDNN
        if self.onednn:
            self.formulation = _onednn_ops().ConvOps(onednn.library_path(), out_channels, kernel_size, 2, padding,
                                                     output_padding, deconv=True, has_bias=has_bias,
                                                     **_edges(layout, first, last))
        elif self.path is CpuPath.IM2COL:
            self.formulation = SubPixelDeconv(in_channels, out_channels, kernel_size, padding, output_padding,
                                              has_bias, subpixel)
        else:
            self.formulation = None
        self.fold_bn = self.path is CpuPath.IM2COL

    def output_shape(self, shape: Tuple[int, int, int, int]) -> Tuple[int, int, int, int]:
        """N×O×2H×2W for an input of shape N×C×H×W (the fast path's layouts)."""
        return shape[0], self.out_channels, 2 * shape[2], 2 * shape[3]

    def convolve(self, x: Tensor, weight: Tensor) -> Tensor:
        """The im2col path's transposed convolution of ``x`` with ``weight`` (C×O×k×k), without bias."""
        return self.formulation.convolve(x, weight)

    def construct(self, x: Tensor) -> Tensor:
        if self.formulation is None:
            return super().construct(x)
        return self.formulation(x, self.weight, self.bias)


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

    With ``nhwc`` (inside a network on the oneDNN path, :class:`~src.network.cpu_path.Layout` NHWC) it takes
    N×H×W×C activations: in training normalised by the oneDNN path's own operator
    (:class:`src.network.onednn.ops.BatchNormOps`: channel sums in double; :func:`conv_bn` fuses ReLU and the
    residual addition into it), in inference (where :func:`conv_bn` folds it into the convolution) as
    ``nn.BatchNorm2d`` on the transposed tensor; the parameters are the same.

    Inputs:
        - **x** (Tensor) - N×C×H×W float32 (N×H×W×C with ``nhwc``).

    Outputs:
        Tensor of shape N×C×H×W.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.9,
                 centred_grad: bool = False, nhwc: bool = False) -> None:
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.centred_grad = bool(centred_grad)
        self.centre = _CentredGradient()
        self.nhwc = bool(nhwc)
        if self.nhwc:
            self.dnn = _onednn_ops().BatchNormOps(onednn.library_path(), eps, momentum)

    def construct(self, x: Tensor) -> Tensor:
        if self.nhwc:
            if self.training:
                return self.dnn.train(x, self.gamma, self.beta, self.moving_mean, self.moving_variance)
            return super().construct(x.transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1)
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
    if conv.onednn and conv.formulation.nhwc_inside:
        if not bn.training:
            return conv.formulation.infer(x, conv.weight, conv.bias, bn, relu, residual)
        if bn.nhwc:  # training, N×H×W×C between layers
            out = conv.formulation.train_forward(x, conv.weight, conv.bias)
            return bn.dnn.train(out, bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance, relu, residual)
    out = _conv_bn(conv, bn, x)
    if residual is not None:
        out = out + residual
    if relu:
        out = ops.relu(out)
    return out


def _conv_bn(conv: Union[Conv2d, Conv2dTranspose], bn: nn.BatchNorm2d, x: Tensor) -> Tensor:
    """``bn(conv(x))``, BatchNorm folded into the kernel on the im2col path in inference where cheaper."""
    if bn.training or not conv.fold_bn or conv.has_bias:
        return bn(conv(x))
    out_shape = conv.output_shape(x.shape)
    if conv.weight_numel >= out_shape[0] * out_shape[1] * out_shape[2] * out_shape[3]:
        return bn(conv(x))
    scale = bn.gamma / ops.sqrt(bn.moving_variance + bn.eps)
    shape = (-1, 1, 1, 1) if conv.out_axis == 0 else (1, -1, 1, 1)
    out = conv.convolve(x, conv.weight * scale.reshape(shape))
    return ops.bias_add(out, bn.beta - bn.moving_mean * scale)


class MaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d`` with symmetric zero padding (PyTorch's); inside a network on the oneDNN path (``layout``
    other than NCHW), oneDNN's on N×H×W×C activations, in inference and, with :class:`Layout` NHWC, training.

    Inputs:
        - **x** (Tensor) - N×C×H×W float32 (N×H×W×C inside a network on the oneDNN path).

    Outputs:
        Tensor of shape N×C×Ho×Wo (N×Ho×Wo×C), ``Ho = (H + 2·padding − kernel) // stride + 1``.
    """

    def __init__(self, kernel_size: int, stride: int, padding: int, path: FastCpu = CpuPath.STOCK,
                 layout: Layout = Layout.NCHW) -> None:
        super().__init__(kernel_size=kernel_size, stride=stride, pad_mode="pad", padding=padding)
        self.nhwc = cpu_path(path) is CpuPath.ONEDNN and layout.inference_nhwc
        self.train_nhwc = self.nhwc and layout.training_nhwc
        if self.nhwc:
            self.dnn = _onednn_ops().MaxPoolOps(onednn.library_path(), kernel_size, stride, padding)

    def construct(self, x: Tensor) -> Tensor:
        if self.nhwc and not self.training:
            return self.dnn(x)
        if self.train_nhwc and self.training:
            return self.dnn.train(x)
        return super().construct(x)
