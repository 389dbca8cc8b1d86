"""The loss (src/network_define.py): the joints MSE against the reference's per-joint loop, and WithLossCell
taking the dataset's columns; together they fit the dataset."""
import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn

from src.network_define import JointsMSELoss, WithLossCell
from tests.reference import loop_joints_mse


def batch(seed=0, n=3, joints=5, h=8, w=6):
    rng = np.random.default_rng(seed)
    output = rng.standard_normal((n, joints, h, w)).astype(np.float32)
    target = rng.uniform(0, 1, (n, joints, h, w)).astype(np.float32)
    weight = rng.integers(0, 2, (n, joints, 1)).astype(np.float32)
    return output, target, weight


@pytest.mark.numerics
@pytest.mark.parametrize("use_target_weight", [True, False])
def test_loss_equals_per_joint_loop(mode, use_target_weight):
    output, target, weight = batch()
    loss = JointsMSELoss(use_target_weight)(Tensor(output), Tensor(target), Tensor(weight))
    assert loss.shape == ()
    # MindSpore's float32 reduction against the float64 loop: 5.1e-8 relative on AVX2 (Zen 3), natively and under
    # ONEDNN_MAX_CPU_ISA=SSE41
    assert float(loss.asnumpy()) == pytest.approx(loop_joints_mse(output, target, weight, use_target_weight),
                                                  rel=1e-5)


def test_loss_hand_values(mode):
    output = np.zeros((1, 2, 2, 2), np.float32)
    target = np.ones((1, 2, 2, 2), np.float32)
    weight = np.array([[[1.0], [0.0]]], np.float32)
    loss = JointsMSELoss(True)
    assert float(loss(Tensor(output), Tensor(target), Tensor(weight)).asnumpy()) == pytest.approx(0.25)
    assert float(JointsMSELoss(False)(Tensor(output), Tensor(target), Tensor(weight)).asnumpy()) == \
        pytest.approx(0.5)
    assert float(loss(Tensor(target), Tensor(target), Tensor(weight)).asnumpy()) == 0.0


class TinyNet(nn.Cell):
    def __init__(self):
        super().__init__()
        self.head = nn.Conv2d(3, 5, 1, has_bias=True)

    def construct(self, x):
        return self.head(x)


def test_with_loss_cell_takes_dataset_columns(mode):
    net = TinyNet()
    with_loss = WithLossCell(net, JointsMSELoss(True))
    assert [p.name for p in with_loss.get_parameters()] == ["head.weight", "head.bias"]  # no prefix
    rng = np.random.default_rng(1)
    image = Tensor(rng.standard_normal((2, 3, 8, 6)).astype(np.float32))
    _, target, weight = batch(n=2)
    target, weight = Tensor(target), Tensor(weight)
    expected = JointsMSELoss(True)(net(image), target, weight).asnumpy()
    extras = (Tensor(np.ones((2, 2), np.float32)), Tensor(np.ones((2, 2), np.float32)),
              Tensor(np.ones(2, np.float32)), Tensor(np.arange(2, dtype=np.int32)))
    np.testing.assert_allclose(with_loss(image, target, weight).asnumpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(with_loss(image, target, weight, *extras).asnumpy(), expected, rtol=1e-6)


def test_one_training_step_lowers_the_loss(mode):
    ms.set_seed(0)
    net = TinyNet()
    train = nn.TrainOneStepCell(WithLossCell(net, JointsMSELoss(True)), nn.SGD(net.trainable_params(), 0.5))
    rng = np.random.default_rng(2)
    image = Tensor(rng.standard_normal((2, 3, 8, 6)).astype(np.float32))
    _, target, _ = batch(n=2)
    weight = Tensor(np.ones((2, 5, 1), np.float32))
    losses = [float(train(image, Tensor(target), weight).asnumpy()) for _ in range(5)]
    assert losses[-1] < losses[0]


def test_the_loss_cell_fits_the_dataset(trained_tiny):
    """The network, WithLossCell, the loss and the training step as train.py puts them together, on the dataset's
    crops (conftest.train_tiny, the session's trained network)."""
    losses = trained_tiny.losses
    assert all(np.isfinite(losses))
    # measured: the last ten steps' loss about 0.4 of the first ten's
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:10]), losses
