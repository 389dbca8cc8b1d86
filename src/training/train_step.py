"""One training step as a Cell: gradients, data-parallel reduction, optional dynamic loss scaling, the update.

Built on MindSpore 2.x's functional API (``ops.value_and_grad``, ``mindspore.amp.DynamicLossScaler``,
``mindspore.amp.all_finite``), which runs on Ascend, GPU and CPU alike, so the step that float16
training runs on an accelerator also runs, and is tested, on a CPU. (``nn.TrainOneStepWithLossScaleCell``
cannot run on a CPU in MindSpore 2.10: its overflow check needs ``NPUGetFloatStatusV2``.)
"""
import mindspore as ms
from mindspore import Parameter, Tensor, nn, ops
from mindspore.amp import DynamicLossScaler, all_finite
from mindspore.context import ParallelMode

from src.network_define import JointsMSELoss, WithLossCell

#: Name of the loss record in the training Cell (left out of checkpoints).
LOSS_RECORD = "loss_record"


def data_parallel_degree() -> int:
    """Ranks that average gradients (1 outside data-parallel training)."""
    mode = ms.get_auto_parallel_context("parallel_mode")
    if mode not in (ParallelMode.DATA_PARALLEL, ParallelMode.HYBRID_PARALLEL):
        return 1
    return int(ms.get_auto_parallel_context("device_num")) or 1


class TrainStep(nn.Cell):
    """Forward, backward and update of ``loss_net``, recording the loss of every step on the device.

    Every call:

    1. computes the loss and the gradients of ``optimizer.parameters`` (of the loss times the
       loss scale, with a ``scaler``);
    2. in data-parallel training, averages the gradients and the loss over the ranks, so every
       rank sees the same loss (a NaN on one rank is a NaN on all, and all stop together);
    3. with a ``scaler``: unscales the gradients; when they are not all finite it skips the
       update and lowers the scale, otherwise it updates; the scaler counts towards raising it;
    4. advances ``optimizer.global_step`` by one in either case, so it counts data steps (the
       learning-rate schedule, resume and the logs follow it);
    5. writes the loss into ``loss_record[(global_step before the step) mod record_size]``.

    In dataset sink mode ``record_size`` steps run on the device between two callbacks; the
    record gives the callbacks the loss of each of them.

    Args:
        loss_net: maps the dataset columns to a float32 scalar loss.
        optimizer: updates ``optimizer.parameters`` and counts ``global_step``.
        scaler: dynamic loss scaling (float16 training), or None.
        record_size: length of the loss record (the steps per sink).

    Inputs:
        The dataset columns (``image, target, weight, ...``).

    Outputs:
        Scalar float32 Tensor, the loss (the mean over ranks in data-parallel training).
    """

    def __init__(self, loss_net: nn.Cell, optimizer: nn.Optimizer, scaler: DynamicLossScaler = None,
                 record_size: int = 1) -> None:
        super().__init__(auto_prefix=False)
        self.loss_net = loss_net
        self.optimizer = optimizer
        self.weights = optimizer.parameters
        self.scaler = scaler
        self.scaled = scaler is not None
        if self.scaled:
            # Attributes of the Cell, so the scale and its counter are saved in checkpoints and resumed.
            scaler.scale_value.name, scaler.counter.name = "loss_scale", "loss_scale_counter"
            self.loss_scale, self.loss_scale_counter = scaler.scale_value, scaler.counter
        self.record_size = int(record_size)
        self.loss_record = Parameter(Tensor([0.0] * self.record_size, ms.float32), name=LOSS_RECORD,
                                     requires_grad=False)
        self.degree = data_parallel_degree()
        self.reduce_grads = nn.DistributedGradReducer(self.weights, True, self.degree) if self.degree > 1 \
            else ops.identity
        self.all_reduce = ops.AllReduce() if self.degree > 1 else ops.identity
        self.grad_fn = ops.value_and_grad(self.scaled_loss, None, self.weights)

    def scaled_loss(self, *inputs):
        loss = self.loss_net(*inputs)
        return self.scaler.scale(loss) if self.scaled else loss

    def construct(self, *inputs):
        index = self.optimizer.global_step % self.record_size
        loss, grads = self.grad_fn(*inputs)
        grads = self.reduce_grads(grads)
        loss = self.all_reduce(loss) / self.degree
        if self.scaled:
            loss = self.scaler.unscale(loss)
            grads = self.scaler.unscale(grads)
            finite = all_finite(grads)
            if finite:
                loss = ops.depend(loss, self.optimizer(grads))
            else:
                loss = ops.depend(loss, ops.assign_add(self.optimizer.global_step,
                                                       ops.ones_like(self.optimizer.global_step)))
            loss = ops.depend(loss, self.scaler.adjust(finite))
        else:
            loss = ops.depend(loss, self.optimizer(grads))
        return ops.depend(loss, ops.scatter_update(self.loss_record, index, loss.reshape((1,))))


#: Dynamic loss scaling of float16 training, as the original port's ``Model(..., amp_level="O2")``
#: started it (MindSpore's ``DynamicLossScaleManager()`` defaults): scale, factor, window.
LOSS_SCALE = (2 ** 24, 2, 2000)


def build_train_network(device_target: str, net: nn.Cell, optimizer: nn.Optimizer,
                        record_size: int = 1) -> TrainStep:
    """The training Cell: float32 on the CPU; float16 (O2) with dynamic loss scaling on Ascend/GPU.

    O2 runs the network in float16 except BatchNorm (MindSpore's black list), whose parameters and
    arithmetic stay float32; the network it returns casts the heatmaps back to float32, so the
    loss is computed in float32. ``record_size``: steps per sink (see :class:`TrainStep`).
    """
    if device_target == "CPU":
        return TrainStep(WithLossCell(net, JointsMSELoss(use_target_weight=True)), optimizer,
                         record_size=record_size)
    amp_net = ms.amp.auto_mixed_precision(net, "O2")
    with_loss = WithLossCell(amp_net, JointsMSELoss(use_target_weight=True))
    return TrainStep(with_loss, optimizer, DynamicLossScaler(*LOSS_SCALE), record_size)
