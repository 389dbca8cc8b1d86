"""Training callbacks: the steps done, log lines and progress, the divergence guard, the loss CSV.

MindSpore calls the step callbacks after every step without dataset sink mode (and on the CPU
in any mode), but only once per sink on Ascend and GPU in sink mode. So the callbacks here never
count calls: :class:`StepRecord` (first in the list) reads the optimizer's ``global_step`` and
the training Cell's loss record (:class:`src.training.train_step.TrainStep`) and puts the steps done since
its last call in ``cb_params.steps``, one :class:`Step` each, which the other callbacks use. Every
step's loss reaches the logs, the CSV and the guard in both modes; in sink mode they arrive at the
end of each sink.
"""
import csv
import logging
import math
import os
import time
from typing import Callable, List, NamedTuple

import numpy as np
from mindspore.train import Callback

from src.errors import TrainingDiverged
from src.training.steps import TrainPlan
from src.utils.files import written_whole
from src.utils.progress import StatusLine

logger = logging.getLogger(__name__)


class Step(NamedTuple):
    """One training step: its global number and place in its epoch (all from 1), loss and learning rate."""

    global_step: int
    epoch: int
    step: int
    loss: float
    lr: float


class StepRecord(Callback):
    """Puts the steps done since its last call in ``cb_params.steps`` (a list of :class:`Step`).

    Args:
        plan: the run's step arithmetic.
        global_step: the optimizer's ``global_step`` Parameter.
        loss_record: the training Cell's ``loss_record`` Parameter (the loss of step ``g`` is at
            ``(g - 1) mod len(loss_record)``).
        lr_per_step: the learning rate of every global step (index ``g - 1``).
    """

    def __init__(self, plan: TrainPlan, global_step, loss_record, lr_per_step: np.ndarray):
        super().__init__()
        self.plan = plan
        self.global_step = global_step
        self.loss_record = loss_record
        self.lr_per_step = lr_per_step
        self.done = plan.first_step

    def on_train_step_end(self, run_context):
        cb_params = run_context.original_args()
        now = int(self.global_step.asnumpy().reshape(-1)[0])
        losses = self.loss_record.asnumpy().reshape(-1)
        if now - self.done > len(losses):
            raise RuntimeError(f"{now - self.done} steps since the last callback exceed the loss record of "
                               f"{len(losses)} steps")
        steps = []
        for g in range(self.done + 1, now + 1):
            epoch, step = self.plan.epoch_and_step(g)
            lr = float(self.lr_per_step[g - 1]) if g <= len(self.lr_per_step) else float("nan")
            steps.append(Step(g, epoch, step, float(losses[(g - 1) % len(losses)]), lr))
        self.done = now
        cb_params.steps = steps


def _steps(run_context) -> List[Step]:
    return run_context.original_args().get("steps", [])


class DivergenceGuard(Callback):
    """Stops training at the first non-finite loss, before anything is saved.

    Place it after :class:`StepRecord` and before the checkpoint callback, so that a diverged
    network is never written. In data-parallel training every rank sees the same (averaged)
    loss, so every rank stops at the same step.
    """

    def __init__(self, ckpt_dir: str = ""):
        super().__init__()
        self.ckpt_dir = ckpt_dir

    def on_train_step_end(self, run_context):
        for step in _steps(run_context):
            if not math.isfinite(step.loss):
                kept = f"; the last good checkpoints in {self.ckpt_dir} are kept" if self.ckpt_dir else ""
                run_context.request_stop()
                raise TrainingDiverged(f"training diverged: the loss is {step.loss} at epoch {step.epoch} step "
                                       f"{step.step}{kept}. Lower TRAIN.LR or check the data.")


class TrainLogger(Callback):
    """The original's log lines plus a progress line with throughput.

    Logs ``epoch: E step: S, loss is L`` for every ``print_step``-th step and the last of each
    epoch, and at the end of each epoch ``epoch time: T ms, per step time: t ms`` with the mean
    loss of the epoch's steps run by this process and images per second. When stdout is a
    terminal a progress line is redrawn in place after each callback; otherwise progress goes to
    the log every ``print_step`` steps.
    """

    def __init__(self, plan: TrainPlan, batch_size: int, print_step: int = 100, group_size: int = 1):
        super().__init__()
        self.plan = plan
        self.batch_size = batch_size
        self.print_step = max(1, print_step)
        self.group_size = group_size
        self.status = StatusLine()
        self.epoch_start = time.time()
        self.losses: List[float] = []

    def on_train_begin(self, run_context):
        self.epoch_start = time.time()

    def on_train_step_end(self, run_context):
        steps = _steps(run_context)
        for step in steps:
            self.losses.append(step.loss)
            if step.step % self.print_step == 0 or step.step == self.plan.steps_per_epoch:
                logger.info("epoch: %d step: %d, loss is %.7g", step.epoch, step.step, step.loss)
        if steps:
            last = steps[-1]
            if self.status.tty or any(s.step % self.print_step == 0 for s in steps):
                self._progress(last)
            if last.step == self.plan.steps_per_epoch:
                self._epoch_end()

    def _progress(self, last: Step) -> None:
        elapsed = max(time.time() - self.epoch_start, 1e-9)
        total = self.plan.steps_per_epoch
        line = (f"[epoch {last.epoch}/{self.plan.end_epoch}] {last.step}/{total} steps "
                f"({100.0 * last.step / total:.0f}%) "
                f"{len(self.losses) * self.batch_size * self.group_size / elapsed:.1f} img/s")
        if self.status.tty:
            self.status.show(line)
        else:
            logger.info(line)

    def _epoch_end(self) -> None:
        self.status.clear()
        elapsed = time.time() - self.epoch_start
        steps = len(self.losses)
        mean = float(np.mean(self.losses)) if self.losses else float("nan")
        images = steps * self.batch_size * self.group_size
        logger.info("epoch time: %.3f ms, per step time: %.3f ms, mean loss %.7g, %.1f img/s",
                    elapsed * 1000.0, elapsed * 1000.0 / max(steps, 1), mean, images / max(elapsed, 1e-9))
        self.losses = []
        self.epoch_start = time.time()


class LossCsvLogger(Callback):
    """Writes ``epoch,step,global_step,loss,lr`` for every training step to a CSV file.

    Rows of an earlier run up to ``first_global_step`` are kept, so a resumed run continues the
    file of the run it resumes without gaps or repeats. Place it before the checkpoint callback:
    a step's row is flushed before its checkpoint is written.
    """

    FIELDS = ("epoch", "step", "global_step", "loss", "lr")

    def __init__(self, path: str, first_global_step: int = 0):
        super().__init__()
        self.path = path
        self.first_global_step = first_global_step
        self._file = None
        self._writer = None

    def _rows_before_start(self):
        """Complete rows of an earlier run up to the step this run starts from.

        A killed run may have logged steps past its last checkpoint (and a cut last line); a
        resumed run does those steps again, so they are dropped.
        """
        if not os.path.exists(self.path):
            return []
        kept = []
        with open(self.path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                try:
                    if int(row["global_step"]) <= self.first_global_step and row.get("lr") is not None:
                        kept.append([row[k] for k in self.FIELDS])
                except (KeyError, TypeError, ValueError):
                    continue
        return kept

    def on_train_begin(self, run_context):
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        earlier = self._rows_before_start()
        with written_whole(self.path) as temp:   # a run killed right here keeps the earlier rows
            with open(temp, "w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(self.FIELDS)
                writer.writerows(earlier)
        self._file = open(self.path, "a", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)

    def on_train_step_end(self, run_context):
        for step in _steps(run_context):
            self._writer.writerow([step.epoch, step.step, step.global_step, f"{step.loss:.8g}", f"{step.lr:.8g}"])
        self._file.flush()   # before a checkpoint callback saves at this step

    def on_train_end(self, run_context):
        if self._file:
            self._file.close()
            self._file = None


class EpochEndHook(Callback):
    """Calls ``fn()`` at the end of every training epoch (e.g. the dataset's skipped-image report)."""

    def __init__(self, plan: TrainPlan, fn: Callable[[], object]):
        super().__init__()
        self.plan = plan
        self.fn = fn

    def on_train_step_end(self, run_context):
        if any(step.step == self.plan.steps_per_epoch for step in _steps(run_context)):
            self.fn()

