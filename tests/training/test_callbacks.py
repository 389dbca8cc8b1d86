"""The training callbacks (src/training/callbacks.py, and src/training/checkpoint.py's saver) as MindSpore calls them in dataset
sink mode: every step logged, written to the CSV and checked for divergence, checkpoints where due.

On the CPU MindSpore calls step callbacks after every step even in sink mode, so a CPU run cannot
show what Ascend and GPU do: call them once per sink. Here the sinks are played by hand.
"""
import csv
import math
import os
from types import SimpleNamespace

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from src.training.callbacks import (DivergenceGuard, EpochEndHook, LossCsvLogger, Step, StepRecord, TrainingDiverged,
                           TrainLogger)
from src.training.checkpoint import CheckpointSaver, list_checkpoints
from src.training.lr_generator import get_lr
from src.training.steps import TrainPlan, make_plan


@pytest.mark.parametrize("loss", [float("nan"), float("inf")])
def test_divergence_guard_names_epoch_and_step(loss):
    guard = DivergenceGuard("ckpt_dir")
    steps = [Step(24, 3, 4, 0.5, 1e-3), Step(25, 3, 5, loss, 1e-3), Step(26, 3, 6, 0.5, 1e-3)]
    context = SimpleNamespace(original_args=lambda: {"steps": steps}, request_stop=lambda: None)
    with pytest.raises(TrainingDiverged, match=r"epoch 3 step 5.*ckpt_dir"):
        guard.on_train_step_end(context)


class FakeDevice:
    """Plays the device side of sink mode: the optimizer's global_step and TrainStep's loss record."""

    def __init__(self, plan: TrainPlan, losses):
        self.plan = plan
        self.global_step = ms.Parameter(ms.Tensor([plan.first_step], ms.int32), name="global_step")
        self.loss_record = ms.Parameter(ms.Tensor(np.zeros(plan.chunk, np.float32)), name="loss_record")
        self.losses = losses   # loss of global step g at losses[g - 1]

    def run_sink(self):
        done = int(self.global_step.asnumpy()[0])
        record = self.loss_record.asnumpy().copy()
        for g in range(done + 1, done + self.plan.chunk + 1):
            record[(g - 1) % self.plan.chunk] = self.losses[g - 1]
        self.loss_record.set_data(ms.Tensor(record))
        self.global_step.set_data(ms.Tensor([done + self.plan.chunk], ms.int32))


class Params(dict):
    """cb_params as MindSpore's callbacks see them: a dict with attribute access."""

    def __getattr__(self, name):
        return self[name]

    def __setattr__(self, name, value):
        self[name] = value


def run_sinks(plan, callbacks, device):
    """Calls the callbacks as Model.train does in sink mode: once per sink of plan.chunk steps."""
    params = Params()
    context = SimpleNamespace(original_args=lambda: params, request_stop=lambda: None)
    for cb in callbacks:
        cb.on_train_begin(context)
    for _ in range(plan.initial_model_epoch, plan.model_epochs):
        device.run_sink()
        for cb in callbacks:
            cb.on_train_step_end(context)
    for cb in callbacks:
        cb.on_train_end(context)


def read_rows(path):
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def test_sink_mode_callbacks_see_every_step(tmp_path, caplog):
    steps, end_epoch = 12, 3
    plan = make_plan(steps, 0, end_epoch, sink=True, sink_size=4, save_steps=8)
    assert plan.chunk == 4
    lr = get_lr(0, end_epoch, steps, 0.1, 0.5, [1, 2])
    losses = 1.0 / np.arange(1, plan.last_step + 1)
    device = FakeDevice(plan, losses)
    saver_net = nn.Dense(2, 2)
    epoch_ends = []
    callbacks = [StepRecord(plan, device.global_step, device.loss_record, lr), DivergenceGuard(),
                 TrainLogger(plan, batch_size=2, print_step=5),
                 EpochEndHook(plan, lambda: epoch_ends.append(int(device.global_step.asnumpy()[0]))),
                 LossCsvLogger(str(tmp_path / "loss_log.csv")),
                 CheckpointSaver(saver_net, str(tmp_path), plan, save_epoch=1, save_steps=8, keep_max=10)]
    with caplog.at_level("INFO", logger="src.training.callbacks"):
        run_sinks(plan, callbacks, device)

    rows = read_rows(tmp_path / "loss_log.csv")
    assert [r["global_step"] for r in rows] == list(range(1, 37))
    assert [(r["epoch"], r["step"]) for r in rows] == [(e, s) for e in (1, 2, 3) for s in range(1, 13)]
    np.testing.assert_allclose([r["loss"] for r in rows], losses, rtol=1e-6)
    np.testing.assert_allclose([r["lr"] for r in rows], lr, rtol=1e-6)
    assert epoch_ends == [12, 24, 36]
    names = [os.path.basename(p) for p in list_checkpoints(str(tmp_path))]
    assert names == ["simplepose-1_8.ckpt", "simplepose-1_12.ckpt", "simplepose-2_8.ckpt", "simplepose-2_12.ckpt",
                     "simplepose-3_8.ckpt", "simplepose-3_12.ckpt"]
    saved = ms.load_checkpoint(str(tmp_path / "simplepose-2_8.ckpt"))
    assert [int(saved[k].asnumpy()) for k in ("epoch_num", "step_num", "steps_per_epoch")] == [2, 20, 12]
    messages = [record.getMessage() for record in caplog.records]
    logged = [line for line in messages if "loss is" in line]
    # every 5th step and each epoch's last, though the callbacks ran once per 4 steps
    assert [line.split(",")[0] for line in logged] == [
        f"epoch: {e} step: {s}" for e in (1, 2, 3) for s in (5, 10, 12)]
    assert f"loss is {losses[9]:.7g}" in logged[1]
    means = [line for line in messages if "mean loss" in line]
    assert len(means) == 3 and f"mean loss {np.mean(losses[12:24]):.7g}" in means[1]


def test_sink_mode_resumed_mid_epoch_continues_the_csv(tmp_path):
    steps = 12
    lr = get_lr(0, 2, steps, 0.1, 0.5, [1])
    losses = np.linspace(1, 2, 24)
    first = make_plan(steps, 0, 2, sink=True, sink_size=4, save_steps=8)
    device = FakeDevice(first, losses)
    csv_path = str(tmp_path / "loss_log.csv")
    # A first run reaches step 8 of epoch 2 (global 20), logs two more steps, and is killed.
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(LossCsvLogger.FIELDS)
        for g in range(1, 23):
            writer.writerow([(g - 1) // 12 + 1, (g - 1) % 12 + 1, g, losses[g - 1], lr[g - 1]])
    resumed = make_plan(steps, 20, 2, sink=True, sink_size=4, save_steps=8)
    assert resumed.initial_model_epoch == 5 and resumed.model_epochs == 6
    device = FakeDevice(resumed, losses)
    run_sinks(resumed, [StepRecord(resumed, device.global_step, device.loss_record, lr),
                        LossCsvLogger(csv_path, first_global_step=20)], device)
    rows = read_rows(csv_path)
    assert [r["global_step"] for r in rows] == list(range(1, 25))
    np.testing.assert_allclose([r["loss"] for r in rows], losses, rtol=1e-6)


def test_divergence_inside_a_sink_names_its_step(tmp_path):
    steps = 12
    plan = make_plan(steps, 0, 2, sink=True, sink_size=6)
    losses = np.full(24, 0.5)
    losses[15] = math.nan   # global step 16: epoch 2, step 4 (inside the third sink)
    device = FakeDevice(plan, losses)
    saver = CheckpointSaver(nn.Dense(2, 2), str(tmp_path), plan)
    callbacks = [StepRecord(plan, device.global_step, device.loss_record, np.zeros(24)),
                 DivergenceGuard(str(tmp_path)), saver]
    with pytest.raises(TrainingDiverged, match=r"nan at epoch 2 step 4.*last good checkpoints"):
        run_sinks(plan, callbacks, device)
    assert [os.path.basename(p) for p in list_checkpoints(str(tmp_path))] == ["simplepose-1_12.ckpt"]
