"""The CPU fast path (src/fast_ops.py): its convolutions and deconvolutions equal MindSpore's stock operators
in values and gradients, layer by layer and as a whole network, and follow PyTorch's deconvolution formula."""
import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn

from src.fast_ops import Conv2d, Conv2dTranspose, conv_bn
from src.model import get_pose_net
from src.model_utils.config import get_config
from tests.reference import loop_conv_transpose

RTOL = 1e-4


def small_cfg(*overrides: str):
    """ResNet-18 with 16-channel deconvolutions, no ImageNet weights, on CPU."""
    return get_config(["--device_target", "CPU", "--MODEL.INIT_WEIGHTS", "False",
                       "--POSE_RESNET.NUM_LAYERS", "18", "--POSE_RESNET.NUM_DECONV_FILTERS", "[16,16,16]",
                       *overrides])


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-12))


def grads(net: nn.Cell, x: Tensor, sens: Tensor):
    """(net(x), d<net(x), sens>/dx, [d<net(x), sens>/dw for each trainable parameter w])."""
    def loss(inp):
        return (net(inp) * sens).sum()
    fn = ms.value_and_grad(loss, grad_position=0, weights=net.trainable_params())
    _, (dx, dws) = fn(x)
    return net(x).asnumpy(), dx.asnumpy(), [dw.asnumpy() for dw in dws]


# ---- PyTorch semantics -------------------------------------------------------------------------

@pytest.mark.parametrize("kernel,padding,output_padding", [(2, 0, 0), (3, 1, 1), (4, 1, 0)])
@pytest.mark.parametrize("fast", [False, True])
def test_deconvolution_matches_pytorch_formula(kernel, padding, output_padding, fast):
    ms.set_context(mode=ms.PYNATIVE_MODE)
    rng = np.random.default_rng(kernel)
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    w = rng.standard_normal((3, 4, kernel, kernel)).astype(np.float32)
    layer = Conv2dTranspose(3, 4, kernel, padding, output_padding, weight_init=Tensor(w), fast=fast)
    out = layer(Tensor(x)).asnumpy()
    assert out.shape == (2, 4, 8, 10)
    np.testing.assert_allclose(out, loop_conv_transpose(x, w, 2, padding, output_padding), rtol=1e-5, atol=1e-5)


# ---- the fast path equals the stock operators -------------------------------------------------

LAYERS = {
    "conv k3 s1": (lambda fast: Conv2d(5, 6, 3, 1, 1, fast=fast), (2, 5, 9, 7)),
    "conv k3 s2": (lambda fast: Conv2d(5, 6, 3, 2, 1, fast=fast), (2, 5, 9, 8)),
    "conv k7 s2": (lambda fast: Conv2d(3, 8, 7, 2, 3, fast=fast), (2, 3, 16, 12)),
    "conv k1 s2": (lambda fast: Conv2d(5, 6, 1, 2, 0, fast=fast), (2, 5, 9, 8)),
    "conv k3 bias": (lambda fast: Conv2d(5, 6, 3, 1, 1, has_bias=True, fast=fast), (2, 5, 6, 5)),
}
for _k, _p, _op in [(2, 0, 0), (3, 1, 1), (4, 1, 0)]:
    for _form in ("phase", "scatter"):
        LAYERS[f"deconv k{_k} {_form}"] = (
            lambda fast, k=_k, p=_p, op=_op, form=_form: Conv2dTranspose(6, 5, k, p, op, has_bias=True, fast=fast,
                                                                         formulation=form),
            (2, 6, 4, 3))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_fast_layer_equals_stock(mode, name, random_weights):
    make, shape = LAYERS[name]
    stock, fast = make(False), make(True)
    assert fast.fast and not stock.fast
    random_weights.randomize([stock, fast])
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal(shape).astype(np.float32))
    sens = Tensor(rng.standard_normal(stock(x).shape).astype(np.float32))
    y_stock, dx_stock, dw_stock = grads(stock, x, sens)
    y_fast, dx_fast, dw_fast = grads(fast, x, sens)
    assert y_fast.shape == y_stock.shape
    assert rel_err(y_stock, y_fast) < RTOL
    assert rel_err(dx_stock, dx_fast) < RTOL
    assert len(dw_stock) == len(dw_fast)
    for a, b in zip(dw_stock, dw_fast):
        assert rel_err(a, b) < RTOL


class ConvBN(nn.Cell):
    def __init__(self, conv):
        super().__init__()
        self.conv = conv
        self.bn = nn.BatchNorm2d(conv.out_channels, momentum=0.9)

    def construct(self, x):
        return conv_bn(self.conv, self.bn, x)


@pytest.mark.parametrize("make", [lambda: Conv2d(4, 6, 3, 1, 1, fast=True),
                                  lambda: Conv2dTranspose(4, 6, 4, 1, 0, fast=True)], ids=["conv", "deconv"])
def test_inference_batchnorm_folding(mode, make, random_weights):
    """In inference the fast path folds BatchNorm into the kernel (here the kernel is smaller than
    the output): the result equals BatchNorm applied to the convolution."""
    net = ConvBN(make())
    random_weights.randomize([net], seed=4)
    net.set_train(False)
    x = Tensor(np.random.default_rng(4).standard_normal((2, 4, 8, 8)).astype(np.float32))
    assert rel_err(net.bn(net.conv(x)).asnumpy(), net(x).asnumpy()) < RTOL


def test_whole_network_fast_equals_stock(mode, random_weights):
    """ResNet-18 on 64×64: eval-mode heatmaps (BatchNorm folded on the fast path) and train-mode
    gradients of every parameter."""
    cfg = small_cfg("--POSE_RESNET.NUM_DECONV_KERNELS", "[4,3,2]", "--POSE_RESNET.FINAL_CONV_KERNEL", "3")
    stock = get_pose_net(cfg, is_train=False, fast_cpu=False)
    fast = get_pose_net(cfg, is_train=False, fast_cpu=True)
    random_weights.randomize([stock, fast])
    rng = np.random.default_rng(2)
    x = Tensor(rng.standard_normal((2, 3, 64, 64)).astype(np.float32))
    stock.set_train(False)
    fast.set_train(False)
    assert rel_err(stock(x).asnumpy(), fast(x).asnumpy()) < RTOL
    stock.set_train(True)
    fast.set_train(True)
    sens = Tensor(rng.standard_normal((2, 17, 16, 16)).astype(np.float32))
    y_stock, dx_stock, dw_stock = grads(stock, x, sens)
    y_fast, dx_fast, dw_fast = grads(fast, x, sens)
    assert rel_err(y_stock, y_fast) < RTOL
    assert rel_err(dx_stock, dx_fast) < RTOL
    names = [p.name for p in stock.trainable_params()]
    errors = {name: rel_err(a, b) for name, a, b in zip(names, dw_stock, dw_fast)}
    assert max(errors.values()) < RTOL, sorted(errors.items(), key=lambda kv: -kv[1])[:5]
