"""Training checkpoints: naming, finding the newest, and resuming.

Files are ``simplepose-<epoch>_<step>.ckpt``. They hold the network, the optimizer
state (Adam moments, beta powers, ``global_step``) and the epoch reached
(``epoch_num``). MindSpore writes each file to a ``.tmp`` name and renames it when
complete, so a killed run never leaves a half-written ``.ckpt``.
"""
import logging
import os
import re
from typing import List, Optional

import mindspore as ms
from mindspore import nn
from mindspore.train import ModelCheckpoint

from src.model_utils.cli import UserError

logger = logging.getLogger(__name__)

CKPT_PREFIX = "simplepose"
_CKPT_NAME = re.compile(r"^" + CKPT_PREFIX + r"(?:_\d+)?-(\d+)_(\d+)\.ckpt$")
#: Checkpoint entries that describe the run, not the network or the optimizer.
_RUN_ENTRIES = ("epoch_num", "step_num", "learning_rate")


class FixedPrefixCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that keeps its prefix when older files of the same prefix exist.

    MindSpore would otherwise switch to ``simplepose_1-...`` when a resumed run writes
    into the folder of the run it continues.
    """

    def __init__(self, prefix: str = CKPT_PREFIX, **kwargs):
        super().__init__(prefix=prefix, **kwargs)
        self._prefix = prefix


def list_checkpoints(directory: str) -> List[str]:
    """``simplepose-*.ckpt`` files of ``directory``, oldest epoch first (``.tmp`` ignored)."""
    if not os.path.isdir(directory):
        return []
    found = []
    for name in os.listdir(directory):
        match = _CKPT_NAME.match(name)
        if match:
            path = os.path.join(directory, name)
            found.append((int(match.group(1)), int(match.group(2)), os.path.getmtime(path), path))
    return [entry[-1] for entry in sorted(found)]


def find_resume_checkpoint(cfg) -> Optional[str]:
    """The checkpoint training resumes from, or None for a fresh start.

    ``resume: auto`` takes the newest checkpoint of ``ckpt_save_dir`` (a fresh start
    when there is none); ``resume: PATH`` takes that file; ``MODEL.RESUME: True`` takes
    ``MODEL.PRETRAINED`` as the original did.
    """
    choice = str(cfg.get("resume", "") or "")
    if choice.lower() == "auto":
        candidates = list_checkpoints(cfg.ckpt_save_dir)
        if not candidates:
            logger.info("resume auto: no checkpoint in %s, starting fresh", cfg.ckpt_save_dir)
            return None
        logger.info("resume auto: newest checkpoint is %s", candidates[-1])
        return candidates[-1]
    path = choice or (cfg.MODEL.PRETRAINED if cfg.MODEL.RESUME else "")
    if not path:
        return None
    if not os.path.isfile(path):
        key = "resume" if choice else "MODEL.PRETRAINED (with MODEL.RESUME True)"
        raise FileNotFoundError(f"checkpoint to resume from not found: {path} (set by {key})")
    return path


def checkpoint_epoch(path: str, params: dict) -> int:
    """Epoch reached by a checkpoint: its ``epoch_num`` entry, else its file name."""
    if "epoch_num" in params:
        return int(params["epoch_num"].asnumpy().reshape(-1)[0])
    match = _CKPT_NAME.match(os.path.basename(path))
    if not match:
        raise UserError(f"cannot tell the epoch of {path}: it has no epoch_num entry and its name is not "
                        f"{CKPT_PREFIX}-<epoch>_<step>.ckpt")
    return int(match.group(1))


def restore_training_state(train_net: nn.Cell, optimizer: nn.Optimizer, path: str,
                           steps_per_epoch: int) -> int:
    """Loads network and optimizer state from ``path``; returns the epoch to continue from.

    The learning-rate array is not restored (the schedule comes from the configuration);
    ``global_step`` is set to ``epoch * steps_per_epoch`` so the schedule continues at the
    right step even if the batch size changed.
    """
    logger.info("resuming from %s", path)
    params = ms.load_checkpoint(path)
    epoch = checkpoint_epoch(path, params)
    state = {k: v for k, v in params.items() if k not in _RUN_ENTRIES}
    own = {p.name for p in train_net.get_parameters()} - set(_RUN_ENTRIES)
    missing = sorted(own - set(state))
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise UserError(f"{path} cannot resume this run: it lacks {shown}. Resume needs a training "
                        f"checkpoint ({CKPT_PREFIX}-<epoch>_<step>.ckpt) of the same network.")
    try:
        ms.load_param_into_net(train_net, state, strict_load=True)
    except (ValueError, RuntimeError) as err:
        raise UserError(f"{path} does not fit the configured network: {err}") from err
    saved_step = int(optimizer.global_step.asnumpy().reshape(-1)[0])
    if saved_step != epoch * steps_per_epoch:
        logger.warning("checkpoint step %d differs from epoch %d x %d steps; the schedule follows the epoch",
                       saved_step, epoch, steps_per_epoch)
    optimizer.global_step.set_data(ms.Tensor([epoch * steps_per_epoch], ms.int32))
    logger.info("resumed at epoch %d", epoch)
    return epoch


def require_model_file(cfg, purpose: str) -> str:
    """``TEST.MODEL_FILE``, checked to be set and to exist, for the scripts that load a network."""
    model_file = cfg.TEST.MODEL_FILE
    if not model_file:
        raise UserError(f"no checkpoint to {purpose}: pass --eval_model_file PATH (or set TEST.MODEL_FILE)")
    if not os.path.isfile(model_file):
        raise FileNotFoundError(f"checkpoint not found: {model_file} (TEST.MODEL_FILE)")
    return model_file
