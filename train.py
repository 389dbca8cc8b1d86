"""Train SimplePoseNet on COCO keypoints (or the synthetic dataset).

    python train.py [--config_path FILE] [--key value ...]

Builds, in order: context, distributed init, dataset, network, loss, schedule,
optimizer, callbacks; then ``Model.train``. Checkpoints are written by rank 0
(every rank with ``TRAIN.SAVE_ALL_RANKS``) as ``simplepose-<epoch>_<step>.ckpt``.
"""
import logging
import os
import sys
from typing import Optional, Sequence

import mindspore as ms
from mindspore import nn
from mindspore.train import CheckpointConfig, Model

from src.callbacks import DivergenceGuard, EpochEndHook, LossCsvLogger, TrainingDiverged, TrainLogger
from src.checkpoint import FixedPrefixCheckpoint, find_resume_checkpoint, restore_training_state
from src.dataset import keypoint_dataset
from src.lr_generator import get_lr
from src.model import get_pose_net
from src.model_utils.cli import UserError, run_cli, setup_logging
from src.model_utils.config import get_config
from src.model_utils.device_adapter import get_device_id, get_device_num, get_rank_id, init_context
from src.model_utils.modelarts import train_pre_process
from src.model_utils.moxing_adapter import moxing_wrapper
from src.network_define import JointsMSELoss, WithLossCell

logger = logging.getLogger("train")


def build_train_network(cfg, net: nn.Cell, optimizer: nn.Optimizer) -> nn.Cell:
    """Loss cell and one-step training cell; float16 O2 with loss scaling on Ascend/GPU."""
    if cfg.device_target == "CPU":
        return nn.TrainOneStepCell(WithLossCell(net, JointsMSELoss(use_target_weight=True)), optimizer)
    ms.amp.auto_mixed_precision(net, "O2")  # BatchNorm stays float32; the loss cell below too
    with_loss = WithLossCell(net, JointsMSELoss(use_target_weight=True))
    scale = nn.DynamicLossScaleUpdateCell(loss_scale_value=2 ** 12, scale_factor=2, scale_window=1000)
    return nn.TrainOneStepWithLossScaleCell(with_loss, optimizer, scale_sense=scale)


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(get_config(argv))


@moxing_wrapper(pre_process=train_pre_process)
def run(cfg) -> int:
    """Trains with ``cfg`` (with ``enable_modelarts``, between ModelArts' copies in and out)."""
    rank, group_size = 0, 1
    if cfg.run_distribute:
        rank, group_size = get_rank_id(), get_device_num()
    setup_logging(rank)
    logger.info("loading parse...")
    init_context(cfg, device_id=get_device_id(), distributed=cfg.run_distribute)
    if cfg.run_distribute:
        from mindspore.communication import get_group_size, get_rank
        rank, group_size = get_rank(), get_group_size()
        setup_logging(rank)
        logger.info("Now we use %d devices! This is No.%d", group_size, rank)
    logger.info("batch size :%d", cfg.TRAIN.BATCH_SIZE)
    ms.set_seed(cfg.TRAIN.SEED)   # identical initial weights on every rank

    dataset, generator = keypoint_dataset(cfg, rank=rank, group_size=group_size, train_mode=True,
                                          num_parallel_workers=cfg.TRAIN.NUM_WORKERS)
    steps_per_epoch = dataset.get_dataset_size()
    if steps_per_epoch == 0:
        raise UserError(f"the training set has fewer samples per rank than TRAIN.BATCH_SIZE "
                        f"({cfg.TRAIN.BATCH_SIZE}); lower the batch size")

    resume_path = find_resume_checkpoint(cfg)
    net = get_pose_net(cfg, is_train=resume_path is None)
    end_epoch = cfg.TRAIN.END_EPOCH
    lr = get_lr(0, end_epoch, steps_per_epoch, cfg.TRAIN.LR, cfg.TRAIN.LR_FACTOR, cfg.TRAIN.LR_STEP)
    optimizer = nn.Adam(net.trainable_params(), learning_rate=ms.Tensor(lr))
    train_net = build_train_network(cfg, net, optimizer)

    begin_epoch = cfg.TRAIN.BEGIN_EPOCH
    if resume_path:
        begin_epoch = restore_training_state(train_net, optimizer, resume_path, steps_per_epoch)
    else:
        optimizer.global_step.set_data(ms.Tensor([begin_epoch * steps_per_epoch], ms.int32))
    if begin_epoch >= end_epoch:
        logger.info("nothing to train: epoch %d reached TRAIN.END_EPOCH %d", begin_epoch, end_epoch)
        return 0

    save_dir = cfg.ckpt_save_dir
    writes_files = rank == 0 or cfg.TRAIN.SAVE_ALL_RANKS
    if cfg.TRAIN.SAVE_ALL_RANKS and cfg.run_distribute:
        save_dir = os.path.join(save_dir, f"rank_{rank}")
    callbacks = [DivergenceGuard(save_dir if writes_files else ""),
                 TrainLogger(cfg.TRAIN.BATCH_SIZE, cfg.TRAIN.PRINT_STEP, end_epoch, group_size)]
    callbacks.append(EpochEndHook(generator.report_skipped_images))
    if writes_files:
        os.makedirs(save_dir, exist_ok=True)
        ckpt_cfg = CheckpointConfig(save_checkpoint_steps=steps_per_epoch * cfg.TRAIN.SAVE_EPOCH,
                                    keep_checkpoint_max=cfg.TRAIN.KEEP_CKPT_MAX,
                                    append_info=["epoch_num", "step_num"])
        callbacks.append(LossCsvLogger(os.path.join(save_dir, "loss_log.csv"), lr, begin_epoch * steps_per_epoch))
        callbacks.append(FixedPrefixCheckpoint(directory=save_dir, config=ckpt_cfg))

    sink = bool(cfg.TRAIN.SINK_MODE) and cfg.device_target != "CPU"
    logger.info("start training, epoch size = %d", end_epoch)
    model = Model(train_net)
    try:
        model.train(end_epoch, dataset, callbacks=callbacks, dataset_sink_mode=sink, initial_epoch=begin_epoch)
    except TrainingDiverged as err:
        logger.error("%s", err)
        return 3
    logger.info("training finished; checkpoints are in %s", os.path.abspath(save_dir))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
