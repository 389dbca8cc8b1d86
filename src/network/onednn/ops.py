"""MindSpore operators over the compiled oneDNN kernels (conv.cc, winograd.cc, pool.cc, batchnorm.cc; ``ops.Custom``,
``func_type="aot"``, CPU).

:class:`ConvOps` holds one (transposed) convolution's operators: the training forward pass with its
gradients (backward-data, backward-weights) as its ``bprop``, and the inference pass that folds the
following BatchNorm into the kernel and fuses the bias, the residual addition and ReLU as post-ops (or, for a
3×3 stride-1 convolution built with ``winograd``, into Winograd F(2×2, 3×3)'s output transform; built with
``train_winograd``, its training forward pass and both gradients are Winograd's too).
:class:`MaxPoolOps` is the stem's max-pooling, :class:`BatchNormOps` training-mode BatchNorm with ReLU and
the residual addition fused. Inside a network activations are NHWC between layers, in inference and in training
(MindSpore then sees N×H×W×C; the network decides the layout once, :class:`src.network.cpu_path.Layout`, and builds
its layers with it), NCHW at the network's edges; a layer on its own takes NCHW.

Each operator takes a small float32 ``cfg`` vector first, the layer's settings in the order of :data:`CFG_FIELDS`
(settings.h's ``CfgIndex``; a test parses the C++ and fails where they differ); the bprops return a zero gradient
for it first too. Symbols: N batch, C input channels, O output channels, H×W size, k kernel.
"""
import itertools
from typing import Optional, Sequence, Tuple

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn, ops

#: Inference: what follows the convolution in the fused operator (settings.h's Config::affine).
AFFINE_NONE, AFFINE_BIAS, AFFINE_BN, AFFINE_BIAS_BN = 0, 1, 2, 3
#: The settings vector's entries in settings.h's ``CfgIndex`` order (``kSrcNhwc`` is ``src_nhwc``), with their
#: defaults (settings.h's ``Config``); tests/network/onednn check that the two agree.
CFG_FIELDS = ("stride", "pad", "kernel", "src_nhwc", "dst_nhwc", "relu", "deconv", "residual", "affine", "eps", "bias",
              "momentum", "src_scale", "dst_scale", "res_scale")
CFG_DEFAULTS = {"stride": 1, "kernel": 1, "src_nhwc": True, "dst_nhwc": True, "affine": AFFINE_NONE, "eps": 1e-5,
                "momentum": 0.9, "src_scale": 1.0, "dst_scale": 1.0, "res_scale": 1.0}


def make_cfg(**settings: float) -> Tensor:
    """The ``cfg`` vector: :data:`CFG_FIELDS` in order, those not given at their defaults (:data:`CFG_DEFAULTS`, else 0).

    Raises:
        ValueError: a setting that is not one of :data:`CFG_FIELDS`.
    """
    unknown = set(settings) - set(CFG_FIELDS)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; the settings vector holds {CFG_FIELDS}")
    values = [float(settings.get(field, CFG_DEFAULTS.get(field, 0))) for field in CFG_FIELDS]
    return Tensor(np.array(values, np.float32))


def nchw_of(shape: Sequence[int], nhwc: bool) -> Tuple[int, int, int, int]:
    """N, C, H, W of an activation of MindSpore shape ``shape`` in the given layout."""
    return (shape[0], shape[3], shape[1], shape[2]) if nhwc else tuple(shape)


def shape_of(nchw: Sequence[int], nhwc: bool) -> Tuple[int, int, int, int]:
    """MindSpore shape of an activation N×C×H×W stored in the given layout."""
    n, c, h, w = nchw
    return (n, h, w, c) if nhwc else (n, c, h, w)


_COUNT = itertools.count()


def custom_op(library: str, function: str, out_shape, out_dtype=ms.float32, bprop=None, tag: str = "") -> ops.Custom:
    """The AOT operator ``function`` of the compiled ``library`` (this module's and :mod:`src.quantize.ops`'s);
    ``tag`` names the layer in MindSpore's attributes."""
    op = ops.Custom(f"{library}:{function}", out_shape=out_shape, out_dtype=out_dtype, func_type="aot", bprop=bprop)
    # MindSpore takes Custom operators with equal attributes for the same operator (PyNative caches the
    # inferred shape by them, GRAPH mode shares the bprop): an attribute unique to each keeps them apart.
    op.add_prim_attr("pose_layer", f"{tag} #{next(_COUNT)}")
    return op


class ConvOps(nn.Cell):
    """The oneDNN path's formulation of one convolution or stride-2 transposed convolution (no parameters): the
    child Cell of :class:`src.network.fast_ops.Conv2d` / ``Conv2dTranspose`` on that path.

    Args:
        library: the compiled kernels (``src.network.onednn.library_path``).
        out_channels: O.
        kernel, stride, padding: the layer's (square) kernel, stride and padding.
        output_padding: transposed convolutions: PyTorch's ``output_padding``.
        deconv: a transposed convolution (weight C×O×k×k) instead of a convolution (O×C×k×k).
        has_bias: the layer adds a bias.
        eps: the following BatchNorm's epsilon (inference folding).
        src_nhwc, dst_nhwc: the layer's input / output is N×H×W×C (else N×C×H×W).
        training_nhwc: so in training too (else training takes and returns N×C×H×W, normalised by MindSpore's
            BatchNorm between the convolutions).
        winograd: inference by Winograd F(2×2, 3×3) (winograd.cc; a 3×3 convolution of stride 1 and padding 1
            only) instead of oneDNN's direct kernel.
        train_winograd: so the training forward pass and both gradients (backward-data: the convolution of the
            output's gradient with the weights transposed and turned by 180°; backward-weights: the transforms'
            adjoint, winograd.cc).

    The primitives work on NHWC and reorder at the boundary.

    Inputs:
        - **x** (Tensor) - the layer's input in its layout.
        - **weight** (Tensor) - O×C×k×k (a convolution's) or C×O×k×k (a transposed one's).
        - **bias** (Tensor) - O, or None.

    Outputs:
        The layer's output: differentiable in training and where the layer takes and returns N×C×H×W; in inference
        inside a network, the fused inference operator's.
    """

    def __init__(self, library: str, out_channels: int, kernel: int, stride: int, padding: int,
                 output_padding: int = 0, deconv: bool = False, has_bias: bool = False, eps: float = 1e-5,
                 src_nhwc: bool = False, dst_nhwc: bool = False, training_nhwc: bool = True,
                 winograd: bool = False, train_winograd: bool = False) -> None:
        super().__init__()
        if (winograd or train_winograd) and (deconv or (kernel, stride, padding) != (3, 1, 1)):
            raise ValueError(f"Winograd F(2x2, 3x3) takes 3x3 convolutions of stride 1 and padding 1, got "
                             f"kernel {kernel}, stride {stride}, padding {padding}{', transposed' if deconv else ''}")
        self.winograd, self.train_winograd = bool(winograd), bool(train_winograd)
        self.library = library
        self.out_channels, self.kernel, self.stride, self.padding = out_channels, kernel, stride, padding
        self.output_padding, self.deconv, self.has_bias, self.eps = output_padding, deconv, has_bias, eps
        self._set_layout(src_nhwc, dst_nhwc, training_nhwc)

    def construct(self, x: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
        if self.training or not self.nhwc_inside:
            return self.train_forward(x, weight, bias)
        return self.infer(x, weight, bias)

    def _make_training_ops(self, geometry: dict) -> None:
        """The training operators: the forward pass, with backward-data and backward-weights as its bprop."""
        tag = f"train {sorted(geometry.items())} op{self.output_padding}"
        self.train_cfg = make_cfg(**geometry, bias=self.has_bias)
        lib, out_channels = self.library, self.out_channels
        kernels = "pose_winograd" if self.train_winograd else "pose_conv"
        forward, data, weights = (f"{kernels}_{name}" for name in ("forward", "backward_data", "backward_weights"))
        backward_data = custom_op(lib, data, lambda cfg, dy, w, x: x, tag=tag)
        # bprops are closures over the operators (GRAPH mode does not take bound methods there)
        if self.has_bias:
            backward_weights = custom_op(lib, weights, lambda cfg, x, dy, w: (w, (out_channels,)),
                                       (ms.float32, ms.float32), tag=tag)

            def bprop(cfg, x, w, b, out, dout):
                dw, db = backward_weights(cfg, x, dout, w)
                return ops.zeros_like(cfg), backward_data(cfg, dout, w, x), dw, db
        else:
            backward_weights = custom_op(lib, weights, lambda cfg, x, dy, w: w, tag=tag)

            def bprop(cfg, x, w, out, dout):
                return ops.zeros_like(cfg), backward_data(cfg, dout, w, x), backward_weights(cfg, x, dout, w)
        src_nhwc, dst_nhwc = geometry["src_nhwc"], geometry["dst_nhwc"]

        def out_shape(_cfg, x, *_):
            return shape_of(self.output_nchw(nchw_of(x, src_nhwc)), dst_nhwc)
        self.forward_op = custom_op(lib, forward, out_shape, bprop=bprop, tag=tag)

    def _set_layout(self, src_nhwc: bool, dst_nhwc: bool, training: bool) -> None:
        """Layouts of the operators' input and output: NHWC (True) or NCHW; in training too unless ``training``
        is False (training then takes and returns NCHW)."""
        self.src_nhwc, self.dst_nhwc = bool(src_nhwc), bool(dst_nhwc)
        self.nhwc_inside = self.src_nhwc or self.dst_nhwc
        self.train_nhwc = self.nhwc_inside and bool(training)
        train_layout = (self.src_nhwc, self.dst_nhwc) if training else (False, False)
        self._make_training_ops(dict(stride=self.stride, pad=self.padding, kernel=self.kernel,
                                     src_nhwc=train_layout[0], dst_nhwc=train_layout[1], deconv=self.deconv))
        geometry = dict(stride=self.stride, pad=self.padding, kernel=self.kernel, src_nhwc=self.src_nhwc,
                        dst_nhwc=self.dst_nhwc, deconv=self.deconv)
        tag = f"{sorted(geometry.items())} op{self.output_padding}"
        # inference settings, indexed by relu·8 + residual·4 + affine
        self.infer_cfgs = tuple(make_cfg(**geometry, relu=relu, residual=residual, affine=affine, eps=self.eps)
                                for relu in (False, True) for residual in (False, True)
                                for affine in (AFFINE_NONE, AFFINE_BIAS, AFFINE_BN, AFFINE_BIAS_BN))
        function = "pose_winograd_infer" if self.winograd else "pose_conv_infer"
        self.infer_op = custom_op(self.library, function, self._out_shape, tag=tag)

    def output_nchw(self, nchw: Sequence[int]) -> Tuple[int, int, int, int]:
        """N×O×Ho×Wo for an input N×C×H×W."""
        n, _, h, w = nchw
        k, s, p = self.kernel, self.stride, self.padding
        if self.deconv:
            return (n, self.out_channels, (h - 1) * s - 2 * p + k + self.output_padding,
                    (w - 1) * s - 2 * p + k + self.output_padding)
        return n, self.out_channels, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1

    def _out_shape(self, _cfg, x, *_):
        return shape_of(self.output_nchw(nchw_of(x, self.src_nhwc)), self.dst_nhwc)

    def train_forward(self, x: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
        """The layer's output (training), differentiable."""
        if self.has_bias:
            return self.forward_op(self.train_cfg, x, weight, bias)
        return self.forward_op(self.train_cfg, x, weight)

    def infer(self, x: Tensor, weight: Tensor, bias: Optional[Tensor] = None, bn: Optional[nn.BatchNorm2d] = None,
              relu: bool = False, residual: Optional[Tensor] = None) -> Tensor:
        """``act(bn(conv(x) + bias) + residual)`` in one operator (inference; not differentiable).

        ``bn`` (inference mode) is folded into the kernel.
        """
        if bn is not None:
            affine = AFFINE_BIAS_BN if self.has_bias else AFFINE_BN
        else:
            affine = AFFINE_BIAS if self.has_bias else AFFINE_NONE
        cfg = self.infer_cfgs[int(relu) * 8 + int(residual is not None) * 4 + affine]
        args = (cfg, x, weight)
        if self.has_bias:
            args += (bias,)
        if bn is not None:
            args += (bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance)
        if residual is not None:
            args += (residual,)
        return self.infer_op(*args)


class MaxPoolOps(nn.Cell):
    """oneDNN max-pooling of an NHWC activation (kernel, stride, symmetric padding): inference, and training
    (:meth:`train`).

    Inputs:
        - **x** (Tensor) - N×H×W×C float32.

    Outputs:
        Tensor of shape N×Ho×Wo×C, ``Ho = (H + 2·padding − kernel) // stride + 1``.
    """

    def __init__(self, library: str, kernel: int, stride: int, padding: int) -> None:
        super().__init__()
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.cfg = make_cfg(stride=stride, pad=padding, kernel=kernel)
        tag = f"pool k{kernel} s{stride} p{padding}"
        self.op = custom_op(library, "pose_pool_forward", self._out, tag=tag)
        backward = custom_op(library, "pose_pool_backward", lambda cfg, dy, workspace, x: x, tag=tag)

        def bprop(cfg, x, out, dout):
            return ops.zeros_like(cfg), backward(cfg, dout[0], out[1], x)

        def train_shapes(cfg, x):
            out = self._out(cfg, x)
            return out, out
        # oneDNN's workspace of a max-pool with fewer than 256 taps: one byte per output (the argmax)
        self.train_op = custom_op(library, "pose_pool_forward", train_shapes, (ms.float32, ms.uint8), bprop=bprop,
                                tag=tag)

    def _out(self, _cfg, x):
        size = [(v + 2 * self.padding - self.kernel) // self.stride + 1 for v in x[1:3]]
        return (x[0], size[0], size[1], x[3])

    def construct(self, x: Tensor) -> Tensor:
        return self.op(self.cfg, x)

    def train(self, x: Tensor) -> Tensor:
        """The max-pool in training (differentiable): oneDNN's forward pass keeps the argmax for the backward."""
        return self.train_op(self.cfg, x)[0]


class BatchNormOps(nn.Cell):
    """Training-mode BatchNorm of N×H×W×C activations with ReLU and a residual addition fused (no parameters).

    ``act(bn(x) + residual)`` in one operator whose bprop is one operator too; the channel sums accumulate in
    double (batchnorm.cc), so γ's and β's gradients stay accurate where the upstream gradient is nearly constant
    over a channel. The running statistics follow ``nn.BatchNorm2d``: ``momentum·old + (1 − momentum)·batch``,
    the batch variance unbiased in the running variance and biased in the normalisation.

    Args:
        library: the compiled kernels.
        eps: added to the variance.
        momentum: weight of the old running statistics (MindSpore's convention: 0.9 is PyTorch's 0.1).
    """

    def __init__(self, library: str, eps: float = 1e-5, momentum: float = 0.9) -> None:
        super().__init__()
        tag = f"bn eps{eps} m{momentum}"
        # settings indexed by relu·2 + residual
        self.cfgs = tuple(make_cfg(relu=relu, residual=residual, eps=eps, momentum=momentum)
                          for relu in (False, True) for residual in (False, True))
        # the forward pass's outputs: y, the batch statistics (3×C, see batchnorm.cc), the new running mean and variance
        backward = custom_op(library, "pose_bn_backward", lambda cfg, dy, x, y, g, stats: (x, g, g),
                           (ms.float32,) * 3, tag=tag)
        backward_res = custom_op(library, "pose_bn_backward", lambda cfg, dy, x, y, g, stats: (x, g, g, x),
                               (ms.float32,) * 4, tag=tag)

        def bprop(cfg, x, gamma, beta, mean, var, out, dout):
            dx, dgamma, dbeta = backward(cfg, dout[0], x, out[0], gamma, out[1])
            return ops.zeros_like(cfg), dx, dgamma, dbeta, ops.zeros_like(mean), ops.zeros_like(var)

        def bprop_res(cfg, x, gamma, beta, mean, var, residual, out, dout):
            dx, dgamma, dbeta, dres = backward_res(cfg, dout[0], x, out[0], gamma, out[1])
            return ops.zeros_like(cfg), dx, dgamma, dbeta, ops.zeros_like(mean), ops.zeros_like(var), dres

        def shapes(_cfg, x, g, *_):
            return x, (3,) + tuple(g), g, g
        outputs = (ms.float32,) * 4
        self.forward_op = custom_op(library, "pose_bn_forward", shapes, outputs, bprop=bprop, tag=tag)
        self.forward_res_op = custom_op(library, "pose_bn_forward", shapes, outputs, bprop=bprop_res, tag=tag)

    def train(self, x: Tensor, gamma: Tensor, beta: Tensor, moving_mean: Tensor, moving_variance: Tensor,
              relu: bool = False, residual: Optional[Tensor] = None) -> Tensor:
        """``act(bn(x) + residual)`` (N×H×W×C); updates the running statistics ``moving_mean``/``moving_variance``."""
        cfg = self.cfgs[int(relu) * 2 + int(residual is not None)]
        if residual is None:
            out = self.forward_op(cfg, x, gamma, beta, moving_mean, moving_variance)
        else:
            out = self.forward_res_op(cfg, x, gamma, beta, moving_mean, moving_variance, residual)
        y = ops.depend(out[0], ops.assign(moving_mean, out[2]))
        return ops.depend(y, ops.assign(moving_variance, out[3]))
