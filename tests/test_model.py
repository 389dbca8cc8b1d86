"""src/model.py and src/fast_ops.py: checkpoint layout, shapes, PyTorch semantics, the CPU fast path
against MindSpore's stock operators (values and gradients), weight initialisation and loading."""
import os

import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn

from src.fast_ops import Conv2d, Conv2dTranspose, conv_bn
from src.model import (RESNET_SPEC, BasicBlock, Bottleneck, CheckpointMismatchError, PoseResNet,
                       get_pose_net)
from src.model_utils.config import get_config

#: The original checkpoint's parameter list (name, shape, trainable flag), kept with the tests.
REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "simple_pose_r50_params.txt")
RTOL = 1e-4


def small_cfg(*overrides: str):
    """ResNet-18 with 16-channel deconvolutions, no ImageNet weights, on CPU."""
    return get_config(["--device_target", "CPU", "--MODEL.INIT_WEIGHTS", "False",
                       "--POSE_RESNET.NUM_LAYERS", "18", "--POSE_RESNET.NUM_DECONV_FILTERS", "[16,16,16]",
                       *overrides])


def randomize(nets, seed=0):
    """Gives the parameters of ``nets`` (same layout) identical random values with He scales and
    BatchNorm statistics that are not the identity."""
    rng = np.random.default_rng(seed)
    for params in zip(*(net.get_parameters() for net in nets)):
        name, shape = params[0].name, params[0].shape
        value = rng.standard_normal(shape).astype(np.float32)
        if name.endswith(("moving_variance", "gamma")):
            value = np.abs(value) * 0.5 + 0.5
        elif len(shape) == 4:
            value *= np.sqrt(2.0 / np.prod(shape[1:]))
        else:
            value *= 0.1
        for param in params:
            param.set_data(Tensor(value))


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-12))


def grads(net: nn.Cell, x: Tensor, sens: Tensor):
    """(net(x), d<net(x), sens>/dx, [d<net(x), sens>/dw for each trainable parameter w])."""
    def loss(inp):
        return (net(inp) * sens).sum()
    fn = ms.value_and_grad(loss, grad_position=0, weights=net.trainable_params())
    _, (dx, dws) = fn(x)
    return net(x).asnumpy(), dx.asnumpy(), [dw.asnumpy() for dw in dws]


# ---- checkpoint layout ---------------------------------------------------------------------

def read_reference():
    with open(REFERENCE) as f:
        rows = [line.split() for line in f if line.strip()]
    return [(name, tuple(int(d) for d in shape.split("x")), flag == "1") for name, shape, flag in rows]


@pytest.mark.parametrize("fast", [True, False])
def test_resnet50_parameters_equal_the_reference_layout(fast):
    net = get_pose_net(get_config(["--device_target", "CPU", "--MODEL.INIT_WEIGHTS", "False"]),
                       is_train=False, fast_cpu=fast)
    got = [(p.name, tuple(p.shape), bool(p.requires_grad)) for p in net.get_parameters()]
    assert got == read_reference()


def test_batchnorm_follows_pytorch_momentum(mode):
    """A training step moves the running mean 10% toward the batch mean (PyTorch's momentum 0.1,
    MindSpore's 0.9), in every BatchNorm of the network."""
    net = PoseResNet(18, 17, (16, 16, 16), (4, 4, 4))
    norms = [cell for _, cell in net.cells_and_names() if isinstance(cell, nn.BatchNorm2d)]
    assert len(norms) == 1 + 2 * 8 + 3 + 3  # stem, 8 basic blocks, 3 projections, 3 deconvolutions
    for bn in norms:
        assert bn.eps == pytest.approx(1e-5)
    bn = net.bn1
    bn.set_train(True)
    x = np.random.default_rng(0).standard_normal((4, 64, 5, 3)).astype(np.float32) + 2.0
    bn(Tensor(x))
    np.testing.assert_allclose(bn.moving_mean.asnumpy(), 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-4)
    for other in norms:
        assert other.momentum == pytest.approx(bn.momentum)


def test_initial_weights():
    ms.set_seed(1)
    net = PoseResNet(18, 17, (256, 256, 256), (4, 4, 4))
    for deconv in ("deconv_0", "deconv_1", "deconv_2"):
        weight = getattr(net.deconv_layers, deconv).deconv.weight.asnumpy()
        assert weight.std() == pytest.approx(0.001, rel=0.05)
    assert net.final_layer.weight.asnumpy().std() == pytest.approx(0.001, rel=0.1)
    assert not net.final_layer.bias.asnumpy().any()
    stem = net.conv1.weight.asnumpy()  # He normal, fan_out = 64·7·7
    assert stem.std() == pytest.approx(np.sqrt(2.0 / (64 * 49)), rel=0.05)
    np.testing.assert_array_equal(net.bn1.gamma.asnumpy(), 1.0)
    np.testing.assert_array_equal(net.bn1.beta.asnumpy(), 0.0)


# ---- structure and shapes ---------------------------------------------------------------------

@pytest.mark.parametrize("depth", sorted(RESNET_SPEC))
def test_every_depth_builds_and_runs(depth):
    """Block type and count per stage, head input channels, and a forward pass (PyNative, tiny)."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    net = get_pose_net(small_cfg("--POSE_RESNET.NUM_LAYERS", str(depth)), is_train=False)
    block, counts = RESNET_SPEC[depth]
    assert [len(getattr(net, f"layer{i}")) for i in range(1, 5)] == list(counts)
    assert all(isinstance(cell, block) for cell in net.layer3.cells())
    expansion = 4 if block is Bottleneck else 1
    assert net.deconv_layers.deconv_0.deconv.weight.shape == (512 * expansion, 16, 4, 4)
    net.set_train(False)
    out = net(Tensor(np.zeros((1, 3, 64, 32), np.float32)))
    assert out.shape == (1, 17, 16, 8)


@pytest.mark.parametrize("deconv_kernel", [2, 3, 4])
@pytest.mark.parametrize("final_kernel", [1, 3])
def test_output_shapes(mode, deconv_kernel, final_kernel):
    k = str(deconv_kernel)
    cfg = small_cfg("--POSE_RESNET.NUM_DECONV_KERNELS", f"[{k},{k},{k}]",
                    "--POSE_RESNET.FINAL_CONV_KERNEL", str(final_kernel),
                    "--POSE_RESNET.DECONV_WITH_BIAS", "True")
    net = get_pose_net(cfg, is_train=True)
    assert net.deconv_layers.deconv_1.deconv.weight.shape == (16, 16, deconv_kernel, deconv_kernel)
    assert net.final_layer.weight.shape == (17, 16, final_kernel, final_kernel)
    net.set_train(False)
    out = net(Tensor(np.zeros((2, 3, 64, 96), np.float32)))
    assert out.shape == (2, 17, 16, 24)


def test_basic_block_shapes(mode):
    block = BasicBlock(8, 16, stride=2, fast=True)
    out = block(Tensor(np.ones((1, 8, 10, 6), np.float32)))
    assert out.shape == (1, 16, 5, 3)


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="NUM_LAYERS"):
        PoseResNet(20, 17, (16,), (4,))
    with pytest.raises(ValueError, match="NUM_DECONV_KERNELS"):
        PoseResNet(18, 17, (16,), (5,))
    with pytest.raises(ValueError, match="FINAL_CONV_KERNEL"):
        PoseResNet(18, 17, (16,), (4,), final_kernel=5)
    with pytest.raises(ValueError, match="NUM_DECONV_LAYERS"):
        get_pose_net(small_cfg("--POSE_RESNET.NUM_DECONV_LAYERS", "2"), is_train=False)


def test_fast_path_selection():
    assert get_pose_net(small_cfg(), is_train=False).conv1.fast
    assert not get_pose_net(small_cfg("--MODEL.FAST_CPU", "False"), is_train=False).conv1.fast
    assert not get_pose_net(small_cfg("--device_target", "GPU"), is_train=False).conv1.fast
    net = get_pose_net(small_cfg(), is_train=False, fast_cpu=False)
    assert not net.conv1.fast and not net.deconv_layers.deconv_0.deconv.fast
    assert get_pose_net(small_cfg("--device_target", "Ascend"), is_train=False, fast_cpu=True).conv1.fast


# ---- PyTorch semantics ------------------------------------------------------------------------

def numpy_conv_transpose(x, w, stride, padding, output_padding):
    """PyTorch's ConvTranspose2d: scatter each input pixel times the kernel, crop ``padding`` at the
    start and ``padding − output_padding`` at the end."""
    n, _, h, wd = x.shape
    o, k = w.shape[1], w.shape[2]
    full = np.zeros((n, o, (h - 1) * stride + k, (wd - 1) * stride + k), np.float64)
    for i in range(h):
        for j in range(wd):
            full[:, :, i * stride:i * stride + k, j * stride:j * stride + k] += \
                np.einsum("nc,cokl->nokl", x[:, :, i, j], w)
    out_h = (h - 1) * stride - 2 * padding + k + output_padding
    out_w = (wd - 1) * stride - 2 * padding + k + output_padding
    return full[:, :, padding:padding + out_h, padding:padding + out_w]


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
    np.testing.assert_allclose(out, numpy_conv_transpose(x, w, 2, padding, output_padding), rtol=1e-5, atol=1e-5)


def numpy_max_pool(x, kernel=3, stride=2, padding=1):
    """PyTorch's MaxPool2d: −inf padding on both sides, windows from the top-left corner."""
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), constant_values=-np.inf)
    out_h = (x.shape[2] + 2 * padding - kernel) // stride + 1
    out_w = (x.shape[3] + 2 * padding - kernel) // stride + 1
    out = np.empty(x.shape[:2] + (out_h, out_w), x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            window = padded[:, :, i * stride:i * stride + kernel, j * stride:j * stride + kernel]
            out[:, :, i, j] = window.max(axis=(2, 3))
    return out


@pytest.mark.parametrize("size", [(8, 6), (9, 7)])
def test_max_pool_matches_pytorch_semantics(mode, size):
    net = PoseResNet(18, 17, (16,), (4,))
    x = np.random.default_rng(0).standard_normal((2, 3) + size).astype(np.float32) - 0.5  # negatives too
    np.testing.assert_array_equal(net.maxpool(Tensor(x)).asnumpy(), numpy_max_pool(x))


# ---- the CPU fast path equals the stock operators ----------------------------------------------

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
def test_fast_layer_equals_stock(mode, name):
    make, shape = LAYERS[name]
    stock, fast = make(False), make(True)
    assert fast.fast and not stock.fast
    randomize([stock, fast])
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
def test_inference_batchnorm_folding(mode, make):
    """In inference the fast path folds BatchNorm into the kernel (here the kernel is smaller than
    the output): the result equals BatchNorm applied to the convolution."""
    net = ConvBN(make())
    randomize([net], seed=4)
    net.set_train(False)
    x = Tensor(np.random.default_rng(4).standard_normal((2, 4, 8, 8)).astype(np.float32))
    assert rel_err(net.bn(net.conv(x)).asnumpy(), net(x).asnumpy()) < RTOL


def test_whole_network_fast_equals_stock(mode):
    """ResNet-18 on 64×64: eval-mode heatmaps (BatchNorm folded on the fast path) and train-mode
    gradients of every parameter."""
    cfg = small_cfg("--POSE_RESNET.NUM_DECONV_KERNELS", "[4,3,2]", "--POSE_RESNET.FINAL_CONV_KERNEL", "3")
    stock = get_pose_net(cfg, is_train=False, fast_cpu=False)
    fast = get_pose_net(cfg, is_train=False, fast_cpu=True)
    randomize([stock, fast])
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


# ---- loading weights ----------------------------------------------------------------------------

def imagenet_checkpoint(path, depth=18, drop=(), reshape=()):
    """A model-zoo style ImageNet checkpoint: the backbone of a ResNet of ``depth``, a classifier
    (``end_point``) and an optimizer entry; ``drop`` leaves names out, ``reshape`` changes shapes."""
    rng = np.random.default_rng(5)
    net = PoseResNet(depth, 17, (16,), (4,))
    entries = []
    for param in net.backbone_parameters():
        if param.name in drop:
            continue
        shape = (3,) if param.name in reshape else param.shape
        entries.append({"name": param.name, "data": Tensor(rng.standard_normal(shape).astype(np.float32))})
    entries.append({"name": "end_point.weight", "data": Tensor(np.ones((1000, 512), np.float32))})
    entries.append({"name": "end_point.bias", "data": Tensor(np.zeros(1000, np.float32))})
    entries.append({"name": "moments.conv1.weight", "data": Tensor(np.zeros((64, 3, 7, 7), np.float32))})
    ms.save_checkpoint(entries, str(path))
    return {e["name"]: e["data"].asnumpy() for e in entries}


def test_imagenet_backbone_loads_and_extras_are_ignored(tmp_path):
    path = tmp_path / "resnet18.ckpt"
    values = imagenet_checkpoint(path)
    ms.set_seed(3)
    net = get_pose_net(small_cfg("--MODEL.INIT_WEIGHTS", "True", "--MODEL.PRETRAINED", str(path)), is_train=True)
    backbone = net.backbone_parameters()
    assert len(backbone) == len(values) - 3
    for param in backbone:
        np.testing.assert_array_equal(param.asnumpy(), values[param.name])
    assert net.final_layer.weight.asnumpy().std() == pytest.approx(0.001, rel=0.5)  # head keeps its init
    # not when evaluating
    net = get_pose_net(small_cfg("--MODEL.INIT_WEIGHTS", "True", "--MODEL.PRETRAINED", str(path)), is_train=False)
    assert not np.array_equal(net.conv1.weight.asnumpy(), values["conv1.weight"])


def test_imagenet_backbone_errors(tmp_path):
    missing_file = str(tmp_path / "nowhere.ckpt")
    with pytest.raises(FileNotFoundError, match="nowhere.ckpt"):
        get_pose_net(small_cfg("--MODEL.INIT_WEIGHTS", "True", "--MODEL.PRETRAINED", missing_file), is_train=True)
    path = tmp_path / "partial.ckpt"
    imagenet_checkpoint(path, drop=("layer2.0.conv1.weight", "bn1.moving_mean"), reshape=("layer4.1.bn2.gamma",))
    with pytest.raises(CheckpointMismatchError) as err:
        get_pose_net(small_cfg("--MODEL.INIT_WEIGHTS", "True", "--MODEL.PRETRAINED", str(path)), is_train=True)
    message = str(err.value)
    for name in ("layer2.0.conv1.weight", "bn1.moving_mean", "layer4.1.bn2.gamma", "partial.ckpt"):
        assert name in message
    assert isinstance(err.value, ValueError)
    path50 = tmp_path / "resnet50.ckpt"  # a ResNet-50 backbone for a ResNet-18 network
    imagenet_checkpoint(path50, depth=50)
    with pytest.raises(CheckpointMismatchError) as err:
        get_pose_net(small_cfg("--MODEL.INIT_WEIGHTS", "True", "--MODEL.PRETRAINED", str(path50)), is_train=True)
    message = str(err.value)   # counts, a few names and the depth, not every parameter
    assert "another shape" in message and "set POSE_RESNET.NUM_LAYERS 50" in message
    assert len(message) < 600 and message.count(".weight") <= 4


def test_network_checkpoint_round_trip(tmp_path):
    cfg = small_cfg()
    net = get_pose_net(cfg, is_train=False)
    randomize([net], seed=7)
    path = str(tmp_path / "net.ckpt")
    ms.save_checkpoint(net, path)
    loaded = get_pose_net(cfg, is_train=False, ckpt_path=path, fast_cpu=False)  # CPU path -> stock
    for a, b in zip(net.get_parameters(), loaded.get_parameters()):
        assert a.name == b.name
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())
    partial = [{"name": p.name, "data": p.data} for p in net.get_parameters() if p.name != "final_layer.bias"]
    ms.save_checkpoint(partial, str(tmp_path / "partial.ckpt"))
    with pytest.raises(CheckpointMismatchError, match="final_layer.bias"):
        get_pose_net(cfg, is_train=False, ckpt_path=str(tmp_path / "partial.ckpt"))
    with pytest.raises(FileNotFoundError, match="absent.ckpt"):
        get_pose_net(cfg, is_train=False, ckpt_path=str(tmp_path / "absent.ckpt"))


@pytest.mark.parametrize("image,heatmap,words", [
    ([48, 64], [12, 16], ["MODEL.IMAGE_SIZE", "[48, 64]", "multiples of 32"]),
    ([192, 256], [64, 48], ["POSE_RESNET.HEATMAP_SIZE", "[48, 64]"]),
])
def test_sizes_the_network_cannot_produce_are_named(image, heatmap, words):
    from src.model import ConfigSizeError, check_sizes
    with pytest.raises(ConfigSizeError) as err:
        check_sizes(image, heatmap, 3)
    for word in words:
        assert word in str(err.value)
    check_sizes([96, 128], [24, 32], 3)
    check_sizes([192, 256], [24, 32], 2)
