"""winograd.cc, Winograd F(2×2, 3×3) for inference, and where the network uses it: one layer's fused inference
(BatchNorm folded, bias, residual, ReLU) against oneDNN's direct convolution and a float64 NumPy reference, in GRAPH
and PyNative mode, on N×H×W×C and N×C×H×W, odd sizes and channel counts; a whole network against itself with
Winograd turned off; CpuPath's decision."""
import numpy as np
import pytest
from mindspore import Parameter, Tensor, nn

from src.model import PoseResNet
from src.network import onednn
from src.network.cpu_path import WINOGRAD_ENV, CpuPath, Layout
from src.network.fast_ops import Conv2d
from tests.helpers import needs_onednn, rel_err

pytestmark = [needs_onednn(), pytest.mark.numerics]

#: Relative to the output's largest magnitude. Measured on AVX2 (Zen 3): over these layers Winograd 3.2e-7 from the
#: float64 reference at most (oneDNN's direct kernel 7.2e-7), 8.4e-7 from the direct kernel; a whole ResNet-18's
#: heatmaps 2.0e-6 from the network with Winograd off (1.7e-6 from MindSpore's stock operators). F(2×2, 3×3)'s
#: transforms multiply by 1, ½ and −1 only, so float32 loses no more than in the direct sum.
LAYER_RTOL, NETWORK_RTOL = 2e-6, 1e-5


def reference(x: np.ndarray, w: np.ndarray, bias, bn: dict, residual, relu: bool) -> np.ndarray:
    """float64 ``act(bn(conv3×3(x, w, padding 1) + bias) + residual)``, N×H×W×C in and out, w O×C×3×3."""
    n, h, wd, _ = x.shape
    padded = np.pad(x.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    y = np.zeros((n, h, wd, w.shape[0]))
    for i in range(3):
        for j in range(3):
            y += padded[:, i:i + h, j:j + wd, :] @ w[:, :, i, j].astype(np.float64).T
    if bias is not None:
        y += bias
    y = (y - bn["mean"]) * bn["gamma"] / np.sqrt(bn["var"] + bn["eps"]) + bn["beta"]
    if residual is not None:
        y += residual
    return np.maximum(y, 0) if relu else y


class FusedInference(nn.Cell):
    """One convolution's fused inference on the oneDNN path: BatchNorm folded, ReLU, a residual; N×H×W×C."""

    def __init__(self, layer: Conv2d, bn: nn.BatchNorm2d, relu: bool) -> None:
        super().__init__()
        self.layer, self.bn, self.relu = layer, bn, relu

    def construct(self, x: Tensor, residual: Tensor) -> Tensor:
        return self.layer.formulation.infer(x, self.layer.weight, self.layer.bias, self.bn, self.relu, residual)


def fused(in_channels: int, out_channels: int, has_bias: bool, winograd: bool, layout: str, monkeypatch):
    monkeypatch.setenv(WINOGRAD_ENV, "1" if winograd else "0")
    layer = Conv2d(in_channels, out_channels, 3, 1, 1, has_bias=has_bias, path=CpuPath.ONEDNN, layout=Layout(layout))
    assert layer.formulation.src_nhwc is (layout == "nhwc")
    assert layer.formulation.winograd is winograd
    bn = nn.BatchNorm2d(out_channels)
    bn.set_train(False)
    return FusedInference(layer, bn, relu=True)


def randomize(cells, in_channels: int, out_channels: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    values = dict(weight=(rng.standard_normal((out_channels, in_channels, 3, 3)) / np.sqrt(9 * in_channels)),
                  bias=rng.standard_normal(out_channels) * 0.1, gamma=rng.uniform(0.5, 1.5, out_channels),
                  beta=rng.standard_normal(out_channels) * 0.1, mean=rng.standard_normal(out_channels) * 0.1,
                  var=rng.uniform(0.5, 2.0, out_channels))
    values = {k: v.astype(np.float32) for k, v in values.items()}
    for cell in cells:
        layer, bn = cell.layer, cell.bn
        layer.weight.set_data(Tensor(values["weight"]))
        if layer.bias is not None:
            layer.bias.set_data(Tensor(values["bias"]))
        for name, param in (("gamma", bn.gamma), ("beta", bn.beta), ("mean", bn.moving_mean),
                            ("var", bn.moving_variance)):
            param.set_data(Tensor(values[name]))
    return values


# (N, C, O, H, W): odd sizes (a tile hangs over the edge), an output channel count off the 8-wide vectors
SHAPES = [(2, 16, 17, 9, 7), (2, 64, 64, 10, 8), (1, 32, 48, 5, 4)]


@pytest.mark.parametrize("layout", ["nhwc", "nchw"])
@pytest.mark.parametrize("has_bias", [False, True])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_layer_equals_direct_and_float64(mode, shape, has_bias, layout, monkeypatch):
    n, c, o, h, w = shape
    wino = fused(c, o, has_bias, True, layout, monkeypatch)
    direct = fused(c, o, has_bias, False, layout, monkeypatch)
    values = randomize([wino, direct], c, o, seed=sum(shape))
    rng = np.random.default_rng(7)
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    res = rng.standard_normal((n, h, w, o)).astype(np.float32)
    bn = dict(values, eps=wino.bn.eps)
    expected = reference(x, values["weight"], values["bias"] if has_bias else None, bn, res, relu=True)
    x_in = x if layout == "nhwc" else x.transpose(0, 3, 1, 2)
    outputs = [cell(Tensor(np.ascontiguousarray(x_in)), Tensor(res)).asnumpy() for cell in (wino, direct)]
    if layout == "nchw":
        outputs = [y.transpose(0, 2, 3, 1) for y in outputs]
    y_wino, y_direct = outputs
    assert y_wino.shape == expected.shape
    assert rel_err(y_wino, expected) < LAYER_RTOL
    assert rel_err(y_wino, y_direct) < LAYER_RTOL
    assert rel_err(y_direct, expected) < LAYER_RTOL


def test_network_with_winograd_equals_it_without(mode, random_weights, monkeypatch):
    """ResNet-18's inference (NHWC inside), whose 3×3 stride-1 layers take Winograd."""
    nets = {}
    for winograd in (True, False):
        monkeypatch.setenv(WINOGRAD_ENV, "1" if winograd else "0")
        nets[winograd] = PoseResNet(18, 17, (32, 32, 32), (4, 3, 2), fast=CpuPath.ONEDNN)
        nets[winograd].set_train(False)
    layers = [cell for _, cell in nets[True].cells_and_names() if isinstance(cell, Conv2d)]
    assert sum(layer.formulation.winograd for layer in layers) == 4 + 3 + 3 + 3  # layer1's four, the others' three
    assert not any(layer.formulation.winograd for _, layer in nets[False].cells_and_names()
                   if isinstance(layer, Conv2d))
    random_weights.randomize(list(nets.values()), seed=6)
    x = Tensor(np.random.default_rng(6).standard_normal((2, 3, 96, 64)).astype(np.float32))
    assert rel_err(nets[True](x).asnumpy(), nets[False](x).asnumpy()) < NETWORK_RTOL


def test_the_path_decides_which_layers_take_winograd(monkeypatch):
    monkeypatch.delenv(WINOGRAD_ENV, raising=False)
    onednn_path = CpuPath.ONEDNN
    assert onednn_path.inference_winograd(3, 1, 1)
    assert not onednn_path.inference_winograd(3, 2, 1)
    assert not onednn_path.inference_winograd(3, 1, 0)
    assert not onednn_path.inference_winograd(1, 1, 0)
    assert not onednn_path.inference_winograd(7, 2, 3)
    assert not CpuPath.IM2COL.inference_winograd(3, 1, 1)
    assert not CpuPath.STOCK.inference_winograd(3, 1, 1)
    monkeypatch.setenv(WINOGRAD_ENV, "0")
    assert not onednn_path.inference_winograd(3, 1, 1)


def test_winograd_refuses_other_convolutions():
    from src.network.onednn.ops import ConvOps  # pylint: disable=import-outside-toplevel
    with pytest.raises(ValueError, match="stride 1 and padding 1"):
        ConvOps(onednn.library_path(), 16, 3, 2, 1, winograd=True)
    with pytest.raises(ValueError, match="transposed"):
        ConvOps(onednn.library_path(), 16, 3, 1, 1, deconv=True, winograd=True)


def test_training_ignores_winograd(monkeypatch):
    """Training runs the direct convolution's forward and gradient operators whatever the inference takes."""
    monkeypatch.setenv(WINOGRAD_ENV, "1")
    layer = Conv2d(16, 16, 3, 1, 1, path=CpuPath.ONEDNN)
    assert layer.formulation.winograd
    layer.set_train(True)
    x = Tensor(np.random.default_rng(8).standard_normal((1, 16, 6, 5)).astype(np.float32))
    stock = nn.Conv2d(16, 16, 3, pad_mode="pad", padding=1)
    stock.weight = Parameter(layer.weight.value(), name="w")
    assert rel_err(layer(x).asnumpy(), stock(x).asnumpy()) < LAYER_RTOL
