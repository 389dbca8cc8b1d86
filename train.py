"""Train SimplePoseNet on COCO keypoints (or the synthetic dataset), or on PoseTrack (``DATASET.DATASET``).

    python train.py [--config_path FILE] [--key value ...]

Builds, in order: context, distributed init, training records, resume point and step plan,
network (fresh, resumed, or started from ``TRAIN.INIT_FROM``), schedule, optimizer, training Cell,
dataset, callbacks; then ``Model.train``.
Checkpoints are written by rank 0 (every rank with ``TRAIN.SAVE_ALL_RANKS``) as
``simplepose-<epoch>_<step>.ckpt`` at epoch ends and every ``TRAIN.SAVE_STEPS`` steps; a run
resumed from any of them continues exactly where it stopped (:mod:`src.training.steps`).
SIGTERM, Ctrl-C or a dead data worker stop every rank after the same step, with that step's
checkpoint (:mod:`src.training.stop`). Exit codes: 0 done, 2 bad input or a checkpoint that cannot
be written, 3 diverged, 4 a data worker died, 143 stopped by SIGTERM or Ctrl-C.
"""
import logging
import os
import sys
from typing import Optional, Sequence

import mindspore as ms
from mindspore import nn
from mindspore.train import Model

from src.training.callbacks import DivergenceGuard, EpochEndHook, LossCsvLogger, StepRecord, TrainingDiverged, TrainLogger
from src.training.checkpoint import (CheckpointSaver, find_resume_checkpoint, prepare_folder, restore_training_state,
                                     resume_step)
from src.dataset import DataSettings, PersonSamples, keypoint_pipeline
from src.dataset_types import DATASET_TYPES, dataset_type, read_records
from src.training.lr_generator import get_lr
from src.model import get_pose_net
from src.network.weights import read_checkpoint
from src.errors import PrecisionError, UserError
from src.utils.cli import run_cli, setup_logging
from src.model_utils.config import get_config
from src.model_utils.device_adapter import get_device_id, init_context
from src.model_utils.modelarts import train_pre_process
from src.model_utils.moxing_adapter import moxing_wrapper
from src.network.weights import channel_sources, load_initial_weights
from src.data.sampler import steps_per_epoch
from src.training.steps import make_plan
from src.training.stop import GracefulStop, StopRequest
from src.training.train_step import build_train_network

logger = logging.getLogger("train")

def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(get_config(argv))


@moxing_wrapper(pre_process=train_pre_process)
def run(cfg) -> int:
    """Trains with ``cfg`` (with ``enable_modelarts``, between ModelArts' copies in and out)."""
    if cfg.MODEL.PRECISION != "fp32":
        raise PrecisionError(f"MODEL.PRECISION {cfg.MODEL.PRECISION} is an inference precision: training runs in fp32 "
                        f"(drop --MODEL.PRECISION, or set it to fp32)")
    rank, group_size = init_context(cfg, device_id=get_device_id(), distributed=cfg.run_distribute)
    setup_logging(rank)
    logger.info("loading parse...")
    if cfg.run_distribute:
        logger.info("Now we use %d devices! This is No.%d", group_size, rank)
    train = cfg.TRAIN
    logger.info("batch size :%d", train.BATCH_SIZE)
    ms.set_seed(train.SEED)   # identical initial weights on every rank

    samples = PersonSamples(DataSettings.from_config(cfg, train=True, rank=rank, group_size=group_size),
                            read_records(cfg, train=True))
    steps = steps_per_epoch(len(samples), train.BATCH_SIZE, group_size)
    if steps == 0:
        raise UserError(f"the training set has fewer samples per rank than TRAIN.BATCH_SIZE "
                        f"({train.BATCH_SIZE}); lower the batch size")

    save_dir = cfg.ckpt_save_dir
    if train.SAVE_ALL_RANKS and cfg.run_distribute:
        save_dir = os.path.join(save_dir, f"rank_{rank}")
    writes_files = rank == 0 or train.SAVE_ALL_RANKS
    resume_path = find_resume_checkpoint(cfg, save_dir, set_aside=writes_files)
    saved = read_checkpoint(resume_path, "checkpoint to resume from") if resume_path else None
    first_step = resume_step(resume_path, saved, steps) if resume_path else train.BEGIN_EPOCH * steps
    plan = make_plan(steps, first_step, train.END_EPOCH, bool(train.SINK_MODE), train.SINK_SIZE, train.SAVE_STEPS)
    if first_step >= plan.last_step:
        logger.info("nothing to train: step %d reached TRAIN.END_EPOCH %d (%d steps per epoch)",
                    first_step, train.END_EPOCH, steps)
        return 0

    net = get_pose_net(cfg, is_train=resume_path is None and not train.INIT_FROM)
    if train.INIT_FROM and resume_path is None:
        init_network(net, cfg)
    elif train.INIT_FROM:
        logger.info("resuming: TRAIN.INIT_FROM (%s) is not read", train.INIT_FROM)
    lr = get_lr(0, train.END_EPOCH, steps, train.LR, train.LR_FACTOR, train.LR_STEP)
    optimizer = nn.Adam(net.trainable_params(), learning_rate=ms.Tensor(lr))
    train_net = build_train_network(cfg.device_target, net, optimizer, plan.chunk)
    if resume_path:
        restore_training_state(train_net, optimizer, resume_path, steps, saved)
    else:
        optimizer.global_step.set_data(ms.Tensor([first_step], ms.int32))
    dataset = keypoint_pipeline(samples, first_step=first_step, chunk_steps=plan.chunk)

    callbacks = [StepRecord(plan, optimizer.global_step, train_net.loss_record, lr),
                 DivergenceGuard(save_dir if writes_files else ""),
                 TrainLogger(plan, train.BATCH_SIZE, train.PRINT_STEP, group_size),
                 EpochEndHook(plan, samples.report_skipped_images)]
    saver = None
    if writes_files:
        saver = CheckpointSaver(train_net, save_dir, plan, train.SAVE_EPOCH, train.SAVE_STEPS, train.KEEP_CKPT_MAX)
        prepare_folder(save_dir, saver.size())
        callbacks.append(LossCsvLogger(os.path.join(save_dir, "loss_log.csv"), first_step))
        callbacks.append(saver)
    # SIGTERM, Ctrl-C, a dead data worker or a lost msrun: every rank stops after the same step, with its checkpoint.
    request = StopRequest(train.STOP_TIMEOUT, watch_parent=os.environ.get("MS_ROLE") == "MS_WORKER")
    stop = GracefulStop(request, plan, saver, group_size, rescue=group_size == 1 or not train.SAVE_ALL_RANKS)
    callbacks.append(stop)

    logger.info("start training, epoch size = %d", train.END_EPOCH)
    if train.SINK_MODE:
        logger.info("dataset sink mode: %d steps per sink, %d per epoch%s", plan.chunk, steps,
                    " (the CPU runs them one by one)" if cfg.device_target == "CPU" else "")
    try:
        Model(train_net).train(plan.model_epochs, dataset, callbacks=callbacks,
                               dataset_sink_mode=bool(train.SINK_MODE), initial_epoch=plan.initial_model_epoch)
    except TrainingDiverged as err:
        logger.error("%s", err)
        return 3
    if stop.stopped:
        return request.exit_code
    logger.info("training finished; checkpoints are in %s", os.path.abspath(save_dir))
    return 0


def init_network(net, cfg) -> None:
    """Loads ``TRAIN.INIT_FROM`` into ``net``, its output channels matched by joint name from the joints of
    ``TRAIN.INIT_DATASET`` to those of ``DATASET.DATASET``."""
    trained_on, target = DATASET_TYPES[cfg.TRAIN.INIT_DATASET].keypoints, dataset_type(cfg).keypoints
    channels = channel_sources(trained_on.keypoint_names, target.keypoint_names)
    load_initial_weights(net, cfg.TRAIN.INIT_FROM, channels)
    fresh = [target.keypoint_names[j] for j in range(len(channels)) if channels[j] < 0]
    logger.info("network initialised from %s (%s joints to %s%s)", cfg.TRAIN.INIT_FROM, trained_on.name, target.name,
                f"; {', '.join(fresh)} start afresh" if fresh else "")


if __name__ == "__main__":
    sys.exit(run_cli(main))
