"""Training loss: the reference's joints MSE, as one masked mean, and the network-with-loss Cell.

Symbols: N batch, J joints, H×W heatmap size.
"""
from mindspore import Tensor, nn, ops


class JointsMSELoss(nn.Cell):
    """Half the mean squared error between predicted and target heatmaps, optionally weighted per joint.

    ``loss = 0.5 · mean((pred·w − gt·w)²)`` over all N·J·H·W elements, ``w`` the joint's target weight
    (1 without ``use_target_weight``). As every joint has the same number of pixels, this equals the
    reference's per-joint ``0.5 · MSE`` averaged over the J joints.

    Args:
        use_target_weight: multiply prediction and target by the per-joint weight.

    Inputs:
        - **output** (Tensor) - N×J×H×W predicted heatmaps.
        - **target** (Tensor) - N×J×H×W target heatmaps.
        - **target_weight** (Tensor) - N×J×1 per-joint weights (visibility).

    Outputs:
        Scalar Tensor.
    """

    def __init__(self, use_target_weight: bool) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight

    def construct(self, output: Tensor, target: Tensor, target_weight: Tensor) -> Tensor:
        n, j = output.shape[0], output.shape[1]
        pred = output.reshape(n, j, -1)
        gt = target.reshape(n, j, -1)
        if self.use_target_weight:
            pred = pred * target_weight
            gt = gt * target_weight
        return 0.5 * ops.mean(ops.square(pred - gt))


class WithLossCell(nn.Cell):
    """The network followed by the loss, fed with the dataset's columns in order.

    Parameter names stay those of ``backbone`` (``auto_prefix=False``), so checkpoints written from
    the training Cell load into the bare network.

    Args:
        backbone: maps N×3×H×W images to N×J×h×w heatmaps.
        loss_fn: ``loss_fn(heatmaps, target, weight)``, e.g. :class:`JointsMSELoss`.

    Inputs:
        - **image** (Tensor) - N×3×H×W.
        - **target** (Tensor) - N×J×h×w.
        - **weight** (Tensor) - N×J×1.
        - **extra** - further dataset columns (scale, center, score, id), ignored.

    Outputs:
        Scalar Tensor, the loss.
    """

    def __init__(self, backbone: nn.Cell, loss_fn: nn.Cell) -> None:
        super().__init__(auto_prefix=False)
        self._backbone = backbone
        self._loss_fn = loss_fn

    def construct(self, image: Tensor, target: Tensor, weight: Tensor, *extra) -> Tensor:
        return self._loss_fn(self._backbone(image), target, weight)

    @property
    def backbone_network(self) -> nn.Cell:
        return self._backbone
