"""The training step (src/training/train_step.py), and the float16 step of Ascend/GPU training run on the CPU."""
import mindspore as ms
import numpy as np
import pytest
from mindspore import nn
from mindspore.amp import DynamicLossScaleManager, DynamicLossScaler

from src.model import get_pose_net
from src.model_utils.config import get_config
from src.network_define import JointsMSELoss, WithLossCell
from src.training.train_step import TrainStep, build_train_network
from tests.helpers import TINY_CONFIG


def tiny(*extra):
    return get_config(["--config_path", TINY_CONFIG, *extra])


def batch(seed=0, n=4):
    """A batch shaped like the tiny configuration's: images, smooth small targets, weights."""
    rng = np.random.default_rng(seed)
    image = rng.standard_normal((n, 3, 64, 32)).astype(np.float32)
    target = (rng.random((n, 17, 16, 8)) * 0.2).astype(np.float32)
    weight = (rng.random((n, 17, 1)) > 0.2).astype(np.float32)
    return ms.Tensor(image), ms.Tensor(target), ms.Tensor(weight)


def params_of(cell):
    return {p.name: p.asnumpy().copy() for p in cell.get_parameters()}


@pytest.mark.numerics
def test_float32_step_matches_mindspore_train_one_step_cell(mode):
    cfg = tiny()
    ms.set_seed(0)
    net = get_pose_net(cfg, is_train=True)
    ms.set_seed(0)
    twin = get_pose_net(cfg, is_train=True)
    mine = TrainStep(WithLossCell(net, JointsMSELoss(True)), nn.Adam(net.trainable_params(), 1e-3), record_size=3)
    stock = nn.TrainOneStepCell(WithLossCell(twin, JointsMSELoss(True)), nn.Adam(twin.trainable_params(), 1e-3))
    mine.set_train()
    stock.set_train()
    data = batch()
    losses = [(float(mine(*data).asnumpy()), float(stock(*data).asnumpy())) for _ in range(4)]
    # Two cells around the same network and optimizer: equal bit for bit on AVX2 (Zen 3), natively and under
    # ONEDNN_MAX_CPU_ISA=SSE41; the tolerances leave room for a fusion that sums in another order.
    np.testing.assert_allclose(*zip(*losses), rtol=1e-6)
    ours, theirs = params_of(net), params_of(twin)
    for name, value in theirs.items():
        np.testing.assert_allclose(ours[name], value, rtol=1e-5, atol=1e-7, err_msg=name)
    assert int(mine.optimizer.global_step.asnumpy()[0]) == 4
    # step g's loss sits at (g - 1) mod 3: steps 4, 2, 3
    np.testing.assert_allclose(mine.loss_record.asnumpy(), [losses[3][0], losses[1][0], losses[2][0]], rtol=1e-6)


@pytest.fixture(scope="module")
def float16_step():
    """The step GPU/Ascend training builds (O2, dynamic loss scaling), built and run on the CPU."""
    ms.set_context(mode=ms.GRAPH_MODE)
    cfg = tiny("--device_target", "GPU")   # only build_train_network reads it; MindSpore runs on the CPU
    ms.set_seed(0)
    net = get_pose_net(cfg, is_train=True)   # the stock operators, as on a GPU
    optimizer = nn.Adam(net.trainable_params(), learning_rate=1e-3)
    step = build_train_network(cfg.device_target, net, optimizer, record_size=4)
    step.set_train()
    return net, step


def test_float16_step_starts_its_scale_where_amp_o2_did(float16_step):
    _, step = float16_step
    manager = DynamicLossScaleManager()   # what Model(..., amp_level="O2") used
    assert float(step.loss_scale.asnumpy()) == manager.get_loss_scale()
    assert step.scaler.scale_factor == manager.scale_factor and step.scaler.scale_window == manager.scale_window


def test_float16_step_trains_with_float32_output_parameters_and_batchnorm(float16_step):
    net, step = float16_step
    data = batch(1)
    amp_net = step.loss_net.backbone_network
    assert amp_net(data[0]).dtype == ms.float32
    losses = [float(step(*data).asnumpy()) for _ in range(8)]
    assert all(np.isfinite(losses)) and np.mean(losses[-2:]) < 0.8 * np.mean(losses[:2]), losses
    assert {p.dtype for p in step.get_parameters() if p.name != "loss_scale_counter"} == {ms.float32, ms.int32}
    assert {p.dtype for p in net.get_parameters()} == {ms.float32}
    norms = [cell for _, cell in amp_net.cells_and_names() if isinstance(cell, nn.BatchNorm2d)]
    convs = [cell for _, cell in amp_net.cells_and_names() if isinstance(cell, nn.Conv2d)]
    assert norms and all(cell.mixed_precision_type.name == "FP32" for cell in norms)
    assert convs and all(cell.mixed_precision_type.name == "FP16" for cell in convs)


def test_an_overflow_skips_the_update_and_lowers_the_scale(float16_step):
    net, step = float16_step
    image, target, weight = batch(2)
    before = params_of(net)
    scale = float(step.loss_scale.asnumpy())
    done = int(step.optimizer.global_step.asnumpy()[0])
    loss = float(step(image, target * np.float32(np.inf), weight).asnumpy())
    assert not np.isfinite(loss)
    after = params_of(net)
    for name, value in before.items():
        if "moving_" not in name:   # BatchNorm's running statistics follow the forward pass
            np.testing.assert_array_equal(after[name], value, err_msg=name)
    assert float(step.loss_scale.asnumpy()) == scale / 2
    assert int(step.optimizer.global_step.asnumpy()[0]) == done + 1   # a skipped step still counts
    assert np.isfinite(float(step(image, target, weight).asnumpy()))
    assert any(not np.array_equal(params_of(net)[n], v) for n, v in before.items() if "moving_" not in n)


def test_the_scale_grows_after_a_window_of_finite_steps():
    cfg = tiny()
    ms.set_seed(0)
    net = get_pose_net(cfg, is_train=True, fast_cpu=False)
    step = TrainStep(WithLossCell(net, JointsMSELoss(True)), nn.Adam(net.trainable_params(), 1e-3),
                     DynamicLossScaler(2 ** 4, 2, 3))
    step.set_train()
    data = batch(3)
    scales = []
    for _ in range(7):
        step(*data)
        scales.append(float(step.loss_scale.asnumpy()))
    assert scales == [16, 16, 32, 32, 32, 64, 64]
