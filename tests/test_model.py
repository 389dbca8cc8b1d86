"""The network (src/model.py): the original checkpoint's layout, PyTorch's BatchNorm and max-pool semantics,
shapes at every depth and kernel, weight initialisation and loading. The CPU fast path: test_fast_ops.py."""
import os

import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn

from src.errors import CheckpointMismatchError
from src.model import RESNET_SPEC, BasicBlock, Bottleneck, PoseResNet, get_pose_net
from src.model_utils.config import get_config
from src.network.cpu_path import CpuPath
from tests.helpers import ROOT
from tests.reference import loop_max_pool

#: The original checkpoint's parameter list (name, shape, trainable flag), kept with the tests.
REFERENCE = os.path.join(ROOT, "tests", "data", "simple_pose_r50_params.txt")


def small_cfg(*overrides: str):
    """ResNet-18 with 16-channel deconvolutions, no ImageNet weights, on CPU."""
    return get_config(["--device_target", "CPU", "--MODEL.INIT_WEIGHTS", "False",
                       "--POSE_RESNET.NUM_LAYERS", "18", "--POSE_RESNET.NUM_DECONV_FILTERS", "[16,16,16]",
                       *overrides])


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


@pytest.mark.numerics
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
    # MindSpore's kernel against NumPy's mean: 2.6e-7 relative at most on AVX2 (Zen 3), natively and under
    # ONEDNN_MAX_CPU_ISA=SSE41
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
    block = BasicBlock(8, 16, stride=2, path=True)
    out = block(Tensor(np.ones((1, 8, 10, 6), np.float32)))
    assert out.shape == (1, 16, 5, 3)


def test_bad_arguments_are_rejected():
    """The configuration refuses bad keys by name (test_config_rules.py); the class checks its own arguments."""
    with pytest.raises(ValueError, match="num_layers must be in .18, 34, 50, 101, 152. .* got 20 and 1"):
        PoseResNet(20, 17, (16,), (4,))
    with pytest.raises(ValueError, match="final_kernel 1 or 3, got 18 and 5"):
        PoseResNet(18, 17, (16,), (4,), final_kernel=5)
    with pytest.raises(ValueError, match=r"one deconvolution kernel in \[2, 3, 4\] .* got \[5\]"):
        PoseResNet(18, 17, (16,), (5,))
    with pytest.raises(ValueError, match=r"deconv_filters \[16, 16\] expected, got \[4\]"):
        PoseResNet(18, 17, (16, 16), (4,))


def test_fast_path_selection():
    assert get_pose_net(small_cfg(), is_train=False).cpu_path is not CpuPath.STOCK
    assert get_pose_net(small_cfg("--MODEL.FAST_CPU", "False"), is_train=False).cpu_path is CpuPath.STOCK
    assert get_pose_net(small_cfg("--device_target", "GPU"), is_train=False).cpu_path is CpuPath.STOCK
    net = get_pose_net(small_cfg(), is_train=False, fast_cpu=False)
    assert net.conv1.formulation is None and net.deconv_layers.deconv_0.deconv.formulation is None
    assert get_pose_net(small_cfg("--device_target", "Ascend"), is_train=False, fast_cpu=True).conv1.formulation


# ---- PyTorch semantics (the deconvolutions: test_fast_ops.py) ------------------------------------

@pytest.mark.parametrize("size", [(8, 6), (9, 7)])
def test_max_pool_matches_pytorch_semantics(mode, size):
    net = PoseResNet(18, 17, (16,), (4,))
    x = np.random.default_rng(0).standard_normal((2, 3) + size).astype(np.float32) - 0.5  # negatives too
    np.testing.assert_array_equal(net.maxpool(Tensor(x)).asnumpy(), loop_max_pool(x))


# ---- loading weights ----------------------------------------------------------------------------

def test_imagenet_backbone_loads_and_extras_are_ignored(tmp_path, random_weights):
    path = tmp_path / "resnet18.ckpt"
    values = random_weights.imagenet_checkpoint(path)
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


def test_imagenet_backbone_errors(tmp_path, random_weights):
    missing_file = str(tmp_path / "nowhere.ckpt")
    with pytest.raises(FileNotFoundError, match="nowhere.ckpt"):
        get_pose_net(small_cfg("--MODEL.INIT_WEIGHTS", "True", "--MODEL.PRETRAINED", missing_file), is_train=True)
    path = tmp_path / "partial.ckpt"
    random_weights.imagenet_checkpoint(path, drop=("layer2.0.conv1.weight", "bn1.moving_mean"), reshape=("layer4.1.bn2.gamma",))
    with pytest.raises(CheckpointMismatchError) as err:
        get_pose_net(small_cfg("--MODEL.INIT_WEIGHTS", "True", "--MODEL.PRETRAINED", str(path)), is_train=True)
    message = str(err.value)
    for name in ("layer2.0.conv1.weight", "bn1.moving_mean", "layer4.1.bn2.gamma", "partial.ckpt"):
        assert name in message
    assert isinstance(err.value, ValueError)
    path50 = tmp_path / "resnet50.ckpt"  # a ResNet-50 backbone for a ResNet-18 network
    random_weights.imagenet_checkpoint(path50, depth=50)
    with pytest.raises(CheckpointMismatchError) as err:
        get_pose_net(small_cfg("--MODEL.INIT_WEIGHTS", "True", "--MODEL.PRETRAINED", str(path50)), is_train=True)
    message = str(err.value)   # counts, a few names and the depth, not every parameter
    assert "another shape" in message and "set POSE_RESNET.NUM_LAYERS 50" in message
    assert len(message) < 600 and message.count(".weight") <= 4


def test_network_checkpoint_round_trip(tmp_path, random_weights):
    cfg = small_cfg()
    net = get_pose_net(cfg, is_train=False)
    random_weights.randomize([net], seed=7)
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
