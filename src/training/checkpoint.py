"""Training checkpoints: writing, finding the newest whole one, and resuming.

Files are ``simplepose-<epoch>_<step>.ckpt``: ``step`` of ``epoch`` (both from 1) is the last step
they include, so an epoch's end is ``simplepose-<epoch>_<steps per epoch>.ckpt``. They hold the
network, the optimizer state (Adam moments, beta powers, ``global_step``), the loss scale of
float16 training, and three run entries: ``epoch_num`` (the epoch), ``step_num`` (the global
step) and ``steps_per_epoch``. Each is written whole or not at all and carries a checksum
(:func:`src.network.weights.write_checkpoint`); the oldest beyond ``TRAIN.KEEP_CKPT_MAX`` are removed
only once the new one has been read back whole. ``--resume auto`` takes the newest file that checks,
naming and setting aside (``.damaged``) any newer one that does not.
"""
import logging
import os
import re
import resource
import shutil
from typing import Any, Dict, List, Optional

import mindspore as ms
from mindspore import nn
from mindspore.train import Callback

from src.errors import CheckpointDamagedError, CheckpointMismatchError, CheckpointWriteError, UserError, shown_path
from src.network.weights import (checkpoint_bytes, checkpoint_problem, format_bytes, mismatch_report,
                                 read_checkpoint, space_note, write_checkpoint)
from src.training.steps import TrainPlan
from src.training.train_step import LOSS_RECORD

logger = logging.getLogger(__name__)

CKPT_PREFIX = "simplepose"
_CKPT_NAME = re.compile(r"^" + CKPT_PREFIX + r"(?:_\d+)?-(\d+)_(\d+)\.ckpt$")
#: Checkpoint entries that describe the run, not the network or the optimizer.
_RUN_ENTRIES = ("epoch_num", "step_num", "steps_per_epoch", "learning_rate")
#: Training state a checkpoint may lack (one written without loss scaling): it keeps its initial value.
_OPTIONAL_ENTRIES = ("loss_scale", "loss_scale_counter", LOSS_RECORD)


def checkpoint_name(epoch: int, step: int) -> str:
    """``simplepose-<epoch>_<step>.ckpt`` (``step`` of ``epoch``, both from 1)."""
    return f"{CKPT_PREFIX}-{epoch}_{step}.ckpt"


class CheckpointSaver(Callback):
    """Writes the training Cell at the end of every ``save_epoch``-th epoch, after every
    ``save_steps``-th step of an epoch (0: never), and at the last step of the run; keeps the
    newest ``keep_max`` checkpoints of the folder.

    It saves at the last step of ``cb_params.steps`` (see :class:`src.training.callbacks.StepRecord`); in
    dataset sink mode the sink size divides the epoch and ``save_steps``, so the steps due fall
    at the end of a sink. Place it last among the callbacks.
    """

    def __init__(self, train_net: nn.Cell, directory: str, plan: TrainPlan, save_epoch: int = 1,
                 save_steps: int = 0, keep_max: int = 5):
        super().__init__()
        self.train_net = train_net
        self.directory = directory
        self.plan = plan
        self.save_epoch = max(1, save_epoch)
        self.save_steps = save_steps
        self.keep_max = max(1, keep_max)
        self.last_saved, self.last_path = -1, ""

    def due(self, epoch: int, step: int, global_step: int) -> bool:
        """Whether step ``step`` of ``epoch`` (global step ``global_step``) is saved."""
        return ((step == self.plan.steps_per_epoch and epoch % self.save_epoch == 0)
                or (self.save_steps > 0 and step % self.save_steps == 0)
                or global_step == self.plan.last_step)

    def on_train_step_end(self, run_context):
        steps = run_context.original_args().get("steps", [])
        if steps and self.due(steps[-1].epoch, steps[-1].step, steps[-1].global_step):
            self.save(steps[-1].epoch, steps[-1].step, steps[-1].global_step)

    def save_step(self, step) -> str:
        """The checkpoint of ``step`` (a :class:`src.training.callbacks.Step`), written unless it already is."""
        if self.last_saved == step.global_step:
            return self.last_path
        return self.save(step.epoch, step.step, step.global_step)

    def entries(self, epoch: int, global_step: int) -> List[Dict[str, Any]]:
        """The checkpoint of the training Cell now: its parameters (not the loss record), then the run entries."""
        params = [{"name": p.name, "data": p} for p in self.train_net.get_parameters() if p.name != LOSS_RECORD]
        run = {"epoch_num": epoch, "step_num": global_step, "steps_per_epoch": self.plan.steps_per_epoch}
        return params + [{"name": name, "data": ms.Tensor(value)} for name, value in run.items()]

    def size(self) -> int:
        """About the bytes of one checkpoint."""
        return checkpoint_bytes(self.entries(1, 1))

    def save(self, epoch: int, step: int, global_step: int) -> str:
        """Writes ``simplepose-<epoch>_<step>.ckpt``, then removes the oldest beyond ``keep_max``.

        Raises:
            CheckpointWriteError: it cannot be written (nothing is removed then).
        """
        path = os.path.join(self.directory, checkpoint_name(epoch, step))
        try:
            write_checkpoint(self.entries(epoch, global_step), path)
        except CheckpointWriteError as err:
            older = [p for p in list_checkpoints(self.directory) if p != path]
            resume = f"; --resume auto continues from {older[-1]}" if older else ""
            raise CheckpointWriteError(f"{err}{resume}") from err
        self.last_saved, self.last_path = global_step, path
        for old in list_checkpoints(self.directory)[:-self.keep_max]:
            if old != path:
                os.remove(old)
        return path


def list_checkpoints(directory: str) -> List[str]:
    """``simplepose-*.ckpt`` files of ``directory``, oldest step first (``.tmp`` ignored)."""
    if not os.path.isdir(directory):
        return []
    found = []
    for name in os.listdir(directory):
        match = _CKPT_NAME.match(name)
        if match:
            path = os.path.join(directory, name)
            found.append((int(match.group(1)), int(match.group(2)), os.path.getmtime(path), path))
    return [entry[-1] for entry in sorted(found)]


def prepare_folder(directory: str, needed: int) -> None:
    """Checks before training that checkpoints can be written to ``directory``; removes what killed writes left.

    Args:
        directory: The checkpoint folder (created).
        needed: About the bytes of one checkpoint: the free space and the file size limit must allow one.

    Raises:
        CheckpointWriteError: the folder cannot be created or written, or there is no room for a checkpoint.
    """
    try:
        os.makedirs(directory, exist_ok=True)
        probe = os.path.join(directory, f".{CKPT_PREFIX}-write-test")
        with open(probe, "wb") as f:
            f.write(b"x")
            os.fsync(f.fileno())
        os.remove(probe)
    except OSError as err:
        raise CheckpointWriteError(f"the checkpoint folder {shown_path(directory)} is not writable: "
                                   f"{err.strerror or err}; choose another ckpt_save_dir") from err
    if shutil.disk_usage(directory).free < needed:
        raise CheckpointWriteError(f"no room for a checkpoint: {space_note(directory, needed)}; free some space "
                                   "or choose another ckpt_save_dir")
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY and limit < needed:
        raise CheckpointWriteError(f"the file size limit (ulimit -f) is {format_bytes(limit)}, a checkpoint needs "
                                   f"about {format_bytes(needed)}; raise it (ulimit -f unlimited)")
    left = [os.path.join(directory, name) for name in os.listdir(directory)
            if name.startswith(CKPT_PREFIX) and name.endswith((".new.ckpt", ".tmp"))]
    for path in left:
        os.remove(path)
    if left:
        logger.info("removed %d unfinished checkpoint file(s) of a killed run in %s", len(left), directory)


def newest_whole_checkpoint(directory: str, set_aside: bool = False) -> Optional[str]:
    """The newest checkpoint of ``directory`` that is whole, or None when there is none at all.

    Each newer one that is damaged is named in one line and, with ``set_aside`` (the rank that writes this
    folder), renamed ``<name>.damaged`` so that it is neither resumed from nor counted for KEEP_CKPT_MAX.

    Raises:
        CheckpointDamagedError: there are checkpoints, and every one is damaged.
    """
    candidates = list_checkpoints(directory)
    for path in reversed(candidates):
        try:
            problem = checkpoint_problem(path, parse=True)
        except FileNotFoundError:          # set aside meanwhile by the rank that writes this folder
            continue
        if not problem:
            return path
        note = ""
        if set_aside:
            os.replace(path, path + ".damaged")
            note = f"; renamed {os.path.basename(path)}.damaged"
        logger.warning("resume auto: skipping %s: %s%s", path, problem, note)
    if candidates:
        raise CheckpointDamagedError(f"resume auto: none of the {len(candidates)} checkpoints in {directory} is whole; "
                                     "pass --resume PATH, or move them away to start afresh")
    return None


def find_resume_checkpoint(cfg, directory: Optional[str] = None, set_aside: bool = False) -> Optional[str]:
    """The checkpoint training resumes from, or None for a fresh start.

    ``resume: auto`` takes the newest whole checkpoint of ``directory`` (default ``ckpt_save_dir``; the
    folder this rank writes to; see :func:`newest_whole_checkpoint`); none there is a fresh start.
    ``resume: PATH`` takes that file; ``MODEL.RESUME: True`` takes ``MODEL.PRETRAINED`` as the original
    did (both are checked when read).
    """
    choice = str(cfg.get("resume", "") or "")
    if choice.lower() == "auto":
        directory = directory or cfg.ckpt_save_dir
        path = newest_whole_checkpoint(directory, set_aside)
        if path is None:
            logger.info("resume auto: no checkpoint in %s, starting fresh", shown_path(directory))
            return None
        logger.info("resume auto: newest checkpoint is %s", path)
        return path
    path = choice or (cfg.MODEL.PRETRAINED if cfg.MODEL.RESUME else "")
    if not path:
        return None
    if not os.path.isfile(path):
        key = "resume" if choice else "MODEL.PRETRAINED (with MODEL.RESUME True)"
        raise FileNotFoundError(f"checkpoint to resume from not found: {shown_path(path)} (set by {key})")
    return path


def _scalar(params: Dict, name: str) -> Optional[int]:
    return int(params[name].asnumpy().reshape(-1)[0]) if name in params else None


def checkpoint_epoch(path: str, params: dict) -> int:
    """Epoch of a checkpoint: its ``epoch_num`` entry, else its file name."""
    if "epoch_num" in params:
        return _scalar(params, "epoch_num")
    match = _CKPT_NAME.match(os.path.basename(path))
    if not match:
        raise UserError(f"cannot tell the epoch of {path}: it has no epoch_num entry and its name is not "
                        f"{CKPT_PREFIX}-<epoch>_<step>.ckpt")
    return int(match.group(1))


def resume_step(path: str, params: Dict, steps_per_epoch: int) -> int:
    """Global steps done at checkpoint ``path`` (``params``: its contents), in epochs of ``steps_per_epoch``.

    The optimizer's ``global_step`` counts them. A checkpoint of an earlier version of this
    project (no ``steps_per_epoch`` entry) was written at the end of epoch ``epoch_num``. When
    the epoch length changed since (batch size, dataset or number of ranks), a run continues at
    the start of the epoch the checkpoint is in.
    """
    saved_epoch_length = _scalar(params, "steps_per_epoch")
    done = _scalar(params, "global_step")
    if saved_epoch_length is None or done is None:
        return checkpoint_epoch(path, params) * steps_per_epoch
    if saved_epoch_length == steps_per_epoch:
        return done
    epochs, rest = divmod(done, saved_epoch_length)
    if rest:
        logger.warning("%s was written at step %d of epoch %d with %d steps per epoch; this run has %d steps per "
                       "epoch, so epoch %d starts again from its first step", path, rest, epochs + 1,
                       saved_epoch_length, steps_per_epoch, epochs + 1)
    return epochs * steps_per_epoch


def restore_training_state(train_net: nn.Cell, optimizer: nn.Optimizer, path: str, steps_per_epoch: int,
                           params: Optional[Dict] = None) -> int:
    """Loads network, optimizer and loss-scale state from ``path``; returns the global steps done.

    The learning-rate array is not restored (the schedule comes from the configuration);
    ``global_step`` is set to the steps done (:func:`resume_step`), so the schedule and the data
    continue at the next step even if the epoch length changed.
    """
    logger.info("resuming from %s", path)
    params = read_checkpoint(path, "checkpoint to resume from") if params is None else params
    done = resume_step(path, params, steps_per_epoch)
    state = {k: v for k, v in params.items() if k not in _RUN_ENTRIES}
    needed = {p.name: tuple(p.shape) for p in train_net.get_parameters()
              if p.name not in _RUN_ENTRIES + _OPTIONAL_ENTRIES}
    problems = mismatch_report(needed, {name: tuple(value.shape) for name, value in state.items()})
    if problems:
        raise CheckpointMismatchError(f"{path} cannot resume this run: {problems}. Resume needs a training "
                                      f"checkpoint ({CKPT_PREFIX}-<epoch>_<step>.ckpt) of the same network.")
    try:
        ms.load_param_into_net(train_net, state, strict_load=True)
    except (ValueError, RuntimeError) as err:
        raise CheckpointMismatchError(f"{path} does not fit the configured network: {err}") from err
    optimizer.global_step.set_data(ms.Tensor([done], ms.int32))
    epoch, step = divmod(max(done, 1) - 1, steps_per_epoch)
    logger.info("resumed after step %d of epoch %d (global step %d)", step + 1, epoch + 1, done)
    return done
