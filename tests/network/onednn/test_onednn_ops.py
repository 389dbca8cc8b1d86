"""src/network/onednn/ops.py and kernels.cc: the oneDNN operators against MindSpore's stock operators, in GRAPH
and PyNative mode: layer outputs to 1e-5 and gradients to 1e-4 (relative to the largest entry), the fused
inference of a whole network to 1e-5, and inference weights refolded when they change."""
import numpy as np
import pytest
import mindspore as ms
from mindspore import Tensor, nn

from src.network.fast_ops import ONEDNN, Conv2d, Conv2dTranspose, cpu_path
from src.model import PoseResNet
from src.network import onednn

pytestmark = pytest.mark.skipif(onednn.library_path() is None,
                                reason=f"oneDNN operators unavailable: {onednn.library_status()[1]}")

FORWARD_RTOL, GRAD_RTOL = 1e-5, 1e-4


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def grads(net: nn.Cell, x: Tensor, sens: Tensor):
    """(net(x), d<net(x), sens>/dx, [d<net(x), sens>/dw for each trainable parameter w])."""
    def loss(inp):
        return (net(inp) * sens).sum()
    fn = ms.value_and_grad(loss, grad_position=0, weights=net.trainable_params())
    _, (dx, dws) = fn(x)
    return net(x).asnumpy(), dx.asnumpy(), [dw.asnumpy() for dw in dws]


# channel counts large enough for oneDNN's blocked kernels, odd sizes for the edges
LAYERS = {
    "conv k3 s1": (lambda fast: Conv2d(16, 32, 3, 1, 1, fast=fast), (2, 16, 9, 7)),
    "conv k3 s2": (lambda fast: Conv2d(16, 32, 3, 2, 1, fast=fast), (2, 16, 9, 8)),
    "conv k7 s2 (stem)": (lambda fast: Conv2d(3, 64, 7, 2, 3, fast=fast), (2, 3, 20, 14)),
    "conv k1 s1": (lambda fast: Conv2d(32, 64, 1, fast=fast), (2, 32, 5, 6)),
    "conv k1 s2": (lambda fast: Conv2d(32, 64, 1, 2, 0, fast=fast), (2, 32, 9, 8)),
    "conv k3 bias": (lambda fast: Conv2d(16, 17, 3, 1, 1, has_bias=True, fast=fast), (2, 16, 6, 5)),
    "deconv k4": (lambda fast: Conv2dTranspose(32, 16, 4, 1, 0, fast=fast), (2, 32, 4, 3)),
    "deconv k3 bias": (lambda fast: Conv2dTranspose(32, 16, 3, 1, 1, has_bias=True, fast=fast), (2, 32, 4, 3)),
    "deconv k2 bias": (lambda fast: Conv2dTranspose(32, 16, 2, 0, 0, has_bias=True, fast=fast), (2, 32, 4, 3)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_equals_stock(mode, name, random_weights):
    make, shape = LAYERS[name]
    stock, fast = make(False), make(ONEDNN)
    assert fast.onednn and not stock.fast
    random_weights.randomize([stock, fast])
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal(shape).astype(np.float32))
    sens = Tensor(rng.standard_normal(stock(x).shape).astype(np.float32))
    y_stock, dx_stock, dw_stock = grads(stock, x, sens)
    y_fast, dx_fast, dw_fast = grads(fast, x, sens)
    assert y_fast.shape == y_stock.shape
    assert rel_err(y_fast, y_stock) < FORWARD_RTOL
    assert rel_err(dx_fast, dx_stock) < GRAD_RTOL
    assert len(dw_fast) == len(dw_stock)
    for a, b in zip(dw_fast, dw_stock):
        assert rel_err(a, b) < GRAD_RTOL


def test_whole_network_inference_equals_stock(mode, random_weights):
    """ResNet-18 with every kind of layer: BatchNorm folded, residual and ReLU fused, NHWC inside."""
    stock = PoseResNet(18, 17, (32, 32, 32), (4, 3, 2), deconv_with_bias=True, final_kernel=3, fast=False)
    fast = PoseResNet(18, 17, (32, 32, 32), (4, 3, 2), deconv_with_bias=True, final_kernel=3, fast=ONEDNN)
    assert fast.conv1.dnn.nhwc_inside and fast.maxpool.nhwc
    random_weights.randomize([stock, fast], seed=3)
    stock.set_train(False)
    fast.set_train(False)
    x = Tensor(np.random.default_rng(3).standard_normal((2, 3, 64, 96)).astype(np.float32))
    expected = stock(x).asnumpy()
    out = fast(x).asnumpy()
    assert out.shape == expected.shape == (2, 17, 16, 24)
    assert rel_err(out, expected) < FORWARD_RTOL


def test_inference_weights_are_refolded_when_they_change(mode, random_weights):
    stock = PoseResNet(18, 17, (16, 16, 16), (4, 4, 4), fast=False)
    fast = PoseResNet(18, 17, (16, 16, 16), (4, 4, 4), fast=ONEDNN)
    for net in (stock, fast):
        net.set_train(False)
    x = Tensor(np.random.default_rng(4).standard_normal((1, 3, 64, 64)).astype(np.float32))
    random_weights.randomize([stock, fast], seed=4)
    first = fast(x).asnumpy()
    assert rel_err(first, stock(x).asnumpy()) < FORWARD_RTOL
    random_weights.randomize([stock, fast], seed=5)  # new kernels and BatchNorm statistics, same buffers
    second = fast(x).asnumpy()
    assert rel_err(second, first) > 1e-2
    assert rel_err(second, stock(x).asnumpy()) < FORWARD_RTOL


def test_true_means_the_onednn_path_here():
    assert cpu_path(True) == ONEDNN
    assert cpu_path("True") == ONEDNN and cpu_path("onednn") == ONEDNN
