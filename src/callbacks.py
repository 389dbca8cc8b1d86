"""Training callbacks: log lines, progress, the divergence guard, and the loss CSV."""
import csv
import logging
import math
import os
import sys
import time
from typing import Callable, Optional

import numpy as np
from mindspore.train import Callback

logger = logging.getLogger(__name__)


def loss_value(net_outputs) -> float:
    """The scalar loss of a train step (loss-scale cells return (loss, overflow, scale))."""
    if isinstance(net_outputs, (tuple, list)):
        net_outputs = net_outputs[0]
    return float(np.asarray(net_outputs.asnumpy() if hasattr(net_outputs, "asnumpy") else net_outputs))


def _step_in_epoch(cb_params) -> int:
    return (cb_params.cur_step_num - 1) % cb_params.batch_num + 1


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class DivergenceGuard(Callback):
    """Stops training at the first non-finite loss, before anything is saved.

    Place it before the checkpoint callback so that a diverged network is never written.
    """

    def __init__(self, ckpt_dir: str = ""):
        super().__init__()
        self.ckpt_dir = ckpt_dir

    def on_train_step_end(self, run_context):
        cb_params = run_context.original_args()
        loss = loss_value(cb_params.net_outputs)
        if not math.isfinite(loss):
            where = f"epoch {cb_params.cur_epoch_num} step {_step_in_epoch(cb_params)}"
            kept = f"; the last good checkpoints in {self.ckpt_dir} are kept" if self.ckpt_dir else ""
            run_context.request_stop()
            raise TrainingDiverged(
                f"training diverged: the loss is {loss} at {where}{kept}. Lower TRAIN.LR or check the data.")


class TrainLogger(Callback):
    """The original's log lines plus a progress line with throughput.

    Logs ``epoch: E step: S, loss is L`` every ``print_step`` steps, and at the end of
    each epoch ``epoch time: T ms, per step time: t ms`` with the epoch's mean loss and
    images per second. When stdout is a terminal a progress line is redrawn in place;
    otherwise progress goes to the log every ``print_step`` steps.
    """

    def __init__(self, batch_size: int, print_step: int = 100, end_epoch: Optional[int] = None,
                 group_size: int = 1, lr_fn: Optional[Callable[[int], float]] = None):
        super().__init__()
        self.batch_size = batch_size
        self.print_step = max(1, print_step)
        self.end_epoch = end_epoch
        self.group_size = group_size
        self.lr_fn = lr_fn
        self.tty = sys.stdout.isatty()
        self.epoch_start = 0.0
        self.losses = []
        self.epoch_means = []

    def on_train_epoch_begin(self, run_context):
        self.epoch_start = time.time()
        self.losses = []

    def on_train_step_end(self, run_context):
        cb_params = run_context.original_args()
        loss = loss_value(cb_params.net_outputs)
        self.losses.append(loss)
        step = _step_in_epoch(cb_params)
        steps = cb_params.batch_num
        if step % self.print_step == 0 or step == steps:
            logger.info("epoch: %d step: %d, loss is %.7g", cb_params.cur_epoch_num, step, loss)
        if self.tty or step % self.print_step == 0:
            elapsed = max(time.time() - self.epoch_start, 1e-9)
            done = step * self.batch_size * self.group_size
            total = f"/{self.end_epoch}" if self.end_epoch else ""
            line = (f"[epoch {cb_params.cur_epoch_num}{total}] {step}/{steps} steps "
                    f"({100.0 * step / steps:.0f}%) {done / elapsed:.1f} img/s")
            if self.tty:
                sys.stdout.write("\r" + line + "\033[K")
                sys.stdout.flush()
            else:
                logger.info(line)

    def on_train_epoch_end(self, run_context):
        cb_params = run_context.original_args()
        if self.tty:
            sys.stdout.write("\r\033[K")
        elapsed = time.time() - self.epoch_start
        steps = cb_params.batch_num
        mean = float(np.mean(self.losses)) if self.losses else float("nan")
        self.epoch_means.append(mean)
        images = steps * self.batch_size * self.group_size
        logger.info("epoch time: %.3f ms, per step time: %.3f ms, mean loss %.7g, %.1f img/s",
                    elapsed * 1000.0, elapsed * 1000.0 / max(steps, 1), mean, images / max(elapsed, 1e-9))


class LossCsvLogger(Callback):
    """Writes ``epoch,step,global_step,loss,lr`` per training step to a CSV file.

    Rows of an earlier run up to ``first_global_step`` are kept, so a resumed run
    continues the file of the run it resumes. Place it before the checkpoint
    callback: an epoch's rows are flushed before its checkpoint is written.
    """

    FIELDS = ("epoch", "step", "global_step", "loss", "lr")

    def __init__(self, path: str, lr_per_step: Optional[np.ndarray] = None, first_global_step: int = 0):
        super().__init__()
        self.path = path
        self.lr_per_step = lr_per_step
        self.first_global_step = first_global_step
        self._file = None
        self._writer = None
        self._base_step = 0

    def _rows_before_start(self):
        """Complete rows of an earlier run up to the step this run starts from.

        A killed run may have logged steps past its last checkpoint (and a cut last
        line); a resumed run does those steps again, so they are dropped.
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
        self._base_step = run_context.original_args().cur_step_num
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        earlier = self._rows_before_start()
        self._file = open(self.path, "w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)
        self._writer.writerow(self.FIELDS)
        self._writer.writerows(earlier)

    def on_train_step_end(self, run_context):
        cb_params = run_context.original_args()
        # MindSpore's cur_step_num restarts at 1 in a resumed run: count from where it resumed.
        global_step = self.first_global_step + cb_params.cur_step_num - self._base_step
        lr = ""
        if self.lr_per_step is not None and 0 < global_step <= len(self.lr_per_step):
            lr = f"{float(self.lr_per_step[global_step - 1]):.8g}"
        self._writer.writerow([cb_params.cur_epoch_num, _step_in_epoch(cb_params), global_step,
                               f"{loss_value(cb_params.net_outputs):.8g}", lr])
        self._file.flush()   # before a checkpoint callback saves at this step

    def on_train_end(self, run_context):
        if self._file:
            self._file.close()
            self._file = None


class EpochEndHook(Callback):
    """Calls ``fn()`` at the end of every training epoch (e.g. the dataset's skipped-image report)."""

    def __init__(self, fn: Callable[[], object]):
        super().__init__()
        self.fn = fn

    def on_train_epoch_end(self, run_context):
        self.fn()
