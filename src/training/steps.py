"""Step arithmetic of a training run: epochs, global steps, and the chunks ``Model.train`` runs.

A run is a stream of global steps 1, 2, ... ``end_epoch · P`` (``P`` steps per epoch and rank).
Step ``g`` is step ``(g − 1) mod P + 1`` of epoch ``(g − 1) // P + 1``; the optimizer's
``global_step`` holds the number of steps done, so it is the one counter everything follows:
the learning-rate schedule, the data order, checkpoint names and resume.

``Model.train`` is driven in *chunks* of ``S`` steps: one MindSpore epoch is one chunk. In
dataset sink mode a chunk is one sink (Ascend and GPU run its ``S`` steps on the device and
call the step callbacks once, at its end); otherwise a chunk is a whole epoch (``S = P``).
``S`` divides ``P``, ``TRAIN.SAVE_STEPS`` and the step a run resumes from, so every epoch end,
every step checkpoint and every resume point falls on a chunk boundary.
"""
import math
from dataclasses import dataclass
from typing import Tuple


def largest_divisor(value: int, limit: int) -> int:
    """The largest divisor of ``value`` (> 0) that is at most ``limit`` (>= 1)."""
    best = 1
    for small in range(1, math.isqrt(value) + 1):
        if value % small == 0:
            for divisor in (small, value // small):
                if best < divisor <= limit:
                    best = divisor
    return best


def chunk_steps(steps: int, first_step: int, sink: bool, sink_size: int, save_steps: int) -> int:
    """Steps per ``Model.train`` epoch.

    Without sink mode, one epoch of ``steps``. In sink mode, the largest divisor of ``steps``,
    ``save_steps`` (when > 0) and ``first_step`` (when > 0) that is at most ``sink_size``
    (``sink_size`` 0: a whole epoch per sink, MindSpore's default).
    """
    if not sink:
        return steps
    common = math.gcd(math.gcd(steps, save_steps), first_step)
    return largest_divisor(common, steps if sink_size <= 0 else min(sink_size, steps))


@dataclass(frozen=True)
class TrainPlan:
    """The steps one ``train.py`` process runs, and how ``Model.train`` counts them.

    Attributes:
        steps_per_epoch: ``P``, steps per epoch and rank.
        first_step: global steps done before this process starts (0 for a fresh run).
        end_epoch: the run ends after ``end_epoch · P`` steps.
        chunk: ``S``, steps per ``Model.train`` epoch (see the module docstring).
    """

    steps_per_epoch: int
    first_step: int
    end_epoch: int
    chunk: int

    @property
    def last_step(self) -> int:
        return self.end_epoch * self.steps_per_epoch

    @property
    def model_epochs(self) -> int:
        """``epoch`` of ``Model.train``: the chunk in which the run ends."""
        return math.ceil(self.last_step / self.chunk)

    @property
    def initial_model_epoch(self) -> int:
        """``initial_epoch`` of ``Model.train``: chunks complete before this process starts.

        With ``first_step`` inside a chunk (a run resumed mid-epoch without sink mode) the first
        ``Model.train`` epoch runs only the rest of that chunk.
        """
        return self.first_step // self.chunk

    def epoch_and_step(self, global_step: int) -> Tuple[int, int]:
        """``(epoch, step in epoch)``, both from 1, of global step ``global_step`` (from 1)."""
        epoch, step = divmod(global_step - 1, self.steps_per_epoch)
        return epoch + 1, step + 1


def make_plan(steps: int, first_step: int, end_epoch: int, sink: bool = False, sink_size: int = 0,
              save_steps: int = 0) -> TrainPlan:
    """The :class:`TrainPlan` of a run with ``steps`` steps per epoch (see :func:`chunk_steps`)."""
    return TrainPlan(steps, first_step, end_epoch, chunk_steps(steps, first_step, sink, sink_size, save_steps))
