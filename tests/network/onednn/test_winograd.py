"""winograd.cc, Winograd F(2×2, 3×3), and where the network uses it: one layer's fused inference (BatchNorm folded,
bias, residual, ReLU) and its training (forward pass and gradients) against oneDNN's direct kernels and a float64
NumPy reference, in GRAPH and PyNative mode, on N×H×W×C and N×C×H×W, odd sizes and channel counts; training's
weights transformed each step with a cache that does not grow; a whole network against itself with Winograd turned
off; CpuPath's decisions."""
import ctypes
from typing import Optional

import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn

from src.model import PoseResNet
from src.network import onednn
from src.network.cpu_path import WINOGRAD_ENV, WINOGRAD_MIN_TILES_ENV, WINOGRAD_TRAINING_ENV, CpuPath, Layout
from src.network.fast_ops import Conv2d
from tests.helpers import needs_onednn, rel_err

pytestmark = [needs_onednn(), pytest.mark.numerics]

#: Relative to the output's largest magnitude. Measured on AVX2 (Zen 3): over these layers Winograd 3.2e-7 from the
#: float64 reference at most (oneDNN's direct kernel 7.2e-7), 8.4e-7 from the direct kernel; a whole ResNet-18's
#: heatmaps 2.0e-6 from the network with Winograd off (1.7e-6 from MindSpore's stock operators). F(2×2, 3×3)'s
#: transforms multiply by 1, ½ and −1 only, so float32 loses no more than in the direct sum.
LAYER_RTOL, NETWORK_RTOL = 2e-6, 1e-5
#: Training (forward pass, dx, dw, db) of one layer, relative to each array's largest magnitude. Measured on AVX2
#: (Zen 3) over these layers: Winograd's y, dx and dw 2.5e-7, 2.7e-7 and 2.5e-7 from the float64 reference at most
#: (the direct kernels' 4.0e-7, 5.9e-7 and 3.6e-7), 6.1e-7 from the direct kernels'; db 3.3e-8 (summed in double; the
#: direct kernel's 2.8e-7).
TRAIN_RTOL = 2e-6


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


def reference_training(x: np.ndarray, w: np.ndarray, bias, dy: np.ndarray):
    """float64 y = conv3×3(x, w, padding 1) + bias and the gradients of ⟨y, dy⟩: dx, dw (O×C×3×3), db; activations
    N×H×W×C."""
    n, h, wd, _ = x.shape
    x64, w64, dy64 = x.astype(np.float64), w.astype(np.float64), dy.astype(np.float64)
    xp = np.pad(x64, ((0, 0), (1, 1), (1, 1), (0, 0)))
    dyp = np.pad(dy64, ((0, 0), (1, 1), (1, 1), (0, 0)))
    y = np.zeros((n, h, wd, w.shape[0])) + (0 if bias is None else bias)
    dx = np.zeros(x.shape)
    dw = np.zeros(w.shape)
    for i in range(3):
        for j in range(3):
            y += xp[:, i:i + h, j:j + wd, :] @ w64[:, :, i, j].T
            dx += dyp[:, i:i + h, j:j + wd, :] @ w64[:, :, 2 - i, 2 - j]
            dw[:, :, i, j] = np.einsum("nhwc,nhwo->oc", xp[:, i:i + h, j:j + wd, :], dy64)
    return y, dx, dw, dy64.sum(axis=(0, 1, 2))


class Trained(nn.Cell):
    """⟨layer(x), dy⟩ of one convolution on the oneDNN path in training, N×H×W×C or N×C×H×W."""

    def __init__(self, layer: Conv2d) -> None:
        super().__init__()
        self.layer = layer

    def construct(self, x: Tensor, dy: Tensor) -> Tensor:
        return (self.layer(x) * dy).sum()


def trained_layer(in_channels: int, out_channels: int, has_bias: bool, winograd: bool, layout: str, monkeypatch):
    monkeypatch.setenv(WINOGRAD_TRAINING_ENV, "1" if winograd else "0")
    monkeypatch.setenv(WINOGRAD_MIN_TILES_ENV, "0")  # these layers have fewer tiles than Winograd takes in training
    layer = Conv2d(in_channels, out_channels, 3, 1, 1, has_bias=has_bias, path=CpuPath.ONEDNN, layout=Layout(layout))
    assert layer.formulation.train_winograd is winograd
    assert layer.formulation.winograd  # inference takes Winograd either way
    layer.set_train(True)
    return layer


def train_gradients(layer: Conv2d, x: np.ndarray, dy: np.ndarray, layout: str):
    """y, dx, and the gradients of the weights (and the bias) of ⟨layer(x), dy⟩, all N×H×W×C / O×C×3×3."""
    to_layer = (lambda a: a) if layout == "nhwc" else (lambda a: np.ascontiguousarray(a.transpose(0, 3, 1, 2)))
    to_nhwc = (lambda a: a) if layout == "nhwc" else (lambda a: a.transpose(0, 2, 3, 1))
    fn = ms.value_and_grad(Trained(layer), grad_position=0, weights=layer.trainable_params())
    _, (dx, dws) = fn(Tensor(to_layer(x)), Tensor(to_layer(dy)))
    y = layer(Tensor(to_layer(x))).asnumpy()
    return to_nhwc(y), to_nhwc(dx.asnumpy()), [dw.asnumpy() for dw in dws]


# (N, C, O, H, W): odd sizes, channel counts off the 8-wide vectors both ways
TRAIN_SHAPES = [(2, 16, 17, 9, 7), (2, 13, 24, 6, 11), (1, 32, 48, 5, 4)]


@pytest.mark.parametrize("layout", ["nhwc", "nchw"])
@pytest.mark.parametrize("has_bias", [False, True])
@pytest.mark.parametrize("shape", TRAIN_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_training_gradients_equal_direct_and_float64(mode, shape, has_bias, layout, monkeypatch):
    """The training forward pass, backward-data and backward-weights by Winograd against the direct kernels and
    the float64 reference."""
    n, c, o, h, w = shape
    layers = [trained_layer(c, o, has_bias, winograd, layout, monkeypatch) for winograd in (True, False)]
    rng = np.random.default_rng(sum(shape))
    weight = (rng.standard_normal((o, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
    bias = (rng.standard_normal(o) * 0.1).astype(np.float32)
    for layer in layers:
        layer.weight.set_data(Tensor(weight))
        if has_bias:
            layer.bias.set_data(Tensor(bias))
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    dy = rng.standard_normal((n, h, w, o)).astype(np.float32)
    y_ref, dx_ref, dw_ref, db_ref = reference_training(x, weight, bias if has_bias else None, dy)
    expected = [y_ref, dx_ref, dw_ref] + ([db_ref] if has_bias else [])
    wino, direct = ([y, dx] + dws for y, dx, dws in (train_gradients(layer, x, dy, layout) for layer in layers))
    for name, got, other, want in zip(("y", "dx", "dw", "db"), wino, direct, expected):
        assert got.shape == want.shape, name
        assert rel_err(got, want) < TRAIN_RTOL, name
        assert rel_err(got, other) < TRAIN_RTOL, name
        assert rel_err(other, want) < TRAIN_RTOL, name


def test_training_hands_layers_with_few_tiles_to_the_direct_kernel(mode, monkeypatch):
    """Below POSE_WINOGRAD_MIN_TILES 2×2 tiles (256 where it is not set) training's forward pass and backward-data
    are the direct kernel's, bit for bit; at or above it, Winograd's (other roundings); backward-weights is
    Winograd's either way."""
    rng = np.random.default_rng(4)
    weight = (rng.standard_normal((24, 16, 3, 3)) / 12).astype(np.float32)
    x = rng.standard_normal((2, 10, 9, 16)).astype(np.float32)  # 2·5·5 = 50 tiles
    dy = rng.standard_normal((2, 10, 9, 24)).astype(np.float32)

    def run(winograd: bool, min_tiles: Optional[str]):
        layer = trained_layer(16, 24, False, winograd, "nhwc", monkeypatch)
        if min_tiles is None:
            monkeypatch.delenv(WINOGRAD_MIN_TILES_ENV)
        else:
            monkeypatch.setenv(WINOGRAD_MIN_TILES_ENV, min_tiles)
        layer.weight.set_data(Tensor(weight))
        return train_gradients(layer, x, dy, "nhwc")

    direct = run(False, None)
    for min_tiles in ("51", None):
        y, dx, dws = run(True, min_tiles)
        assert np.array_equal(y, direct[0]) and np.array_equal(dx, direct[1]), min_tiles
        assert not np.array_equal(dws[0], direct[2][0]), min_tiles
    y, dx, _ = run(True, "50")
    assert not np.array_equal(y, direct[0]) and not np.array_equal(dx, direct[1])
    assert rel_err(y, direct[0]) < TRAIN_RTOL and rel_err(dx, direct[1]) < TRAIN_RTOL


def test_training_transforms_the_weights_each_step_without_growing_the_cache(mode, monkeypatch):
    """Training steps change the weights: each step's forward pass and gradients follow them, and the operators'
    cache keeps one entry per layer however many steps run (its key holds no pointer to the weights)."""
    monkeypatch.delenv(WINOGRAD_TRAINING_ENV, raising=False)
    layer = trained_layer(8, 8, False, True, "nhwc", monkeypatch)
    library = ctypes.CDLL(onednn.library_path())
    rng = np.random.default_rng(9)
    x = rng.standard_normal((1, 6, 6, 8)).astype(np.float32)
    dy = rng.standard_normal((1, 6, 6, 8)).astype(np.float32)
    entries = []
    for step in range(4):
        weight = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
        layer.weight.set_data(Tensor(weight))
        y, dx, _ = train_gradients(layer, x, dy, "nhwc")
        y_ref, dx_ref, _, _ = reference_training(x, weight, None, dy)
        assert rel_err(y, y_ref) < TRAIN_RTOL and rel_err(dx, dx_ref) < TRAIN_RTOL, step
        entries.append(library.pose_onednn_cached())
    assert entries[1:] == entries[1:2] * 3, entries


def test_training_winograd_follows_the_switches(monkeypatch):
    monkeypatch.delenv(WINOGRAD_ENV, raising=False)
    monkeypatch.delenv(WINOGRAD_TRAINING_ENV, raising=False)
    assert CpuPath.ONEDNN.training_winograd(3, 1, 1)
    assert not CpuPath.ONEDNN.training_winograd(3, 2, 1)
    assert not CpuPath.ONEDNN.training_winograd(1, 1, 0)
    assert not CpuPath.IM2COL.training_winograd(3, 1, 1)
    monkeypatch.setenv(WINOGRAD_TRAINING_ENV, "0")
    assert not CpuPath.ONEDNN.training_winograd(3, 1, 1)
    assert CpuPath.ONEDNN.inference_winograd(3, 1, 1)
    monkeypatch.setenv(WINOGRAD_TRAINING_ENV, "1")
    monkeypatch.setenv(WINOGRAD_ENV, "0")
    assert not CpuPath.ONEDNN.training_winograd(3, 1, 1)
