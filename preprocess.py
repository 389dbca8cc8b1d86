"""Write the evaluation crops as binary batches for the exported model.

    python preprocess.py [--TEST.BATCH_SIZE B] [--coco_bbox_file DETECTIONS] [--key value ...]

Crops every person box of ``DATASET.TEST_SET`` (detections from ``TEST.COCO_BBOX_FILE``,
or the ground truth with ``TEST.USE_GT_BBOX``) exactly as ``eval.py`` does, and writes
them under ``INFER.PRE_RESULT_PATH`` in batches of ``TEST.BATCH_SIZE`` (the batch size
the model was exported with). The layout, including the padding of the last batch, is
described in ``src/deploy/bin_files.py``.
"""
import logging
import sys
from typing import Optional, Sequence

from src.deploy import bin_files
from src.dataset import keypoint_dataset
from src.utils.cli import run_cli, setup_logging
from src.model_utils.config import get_config

logger = logging.getLogger("preprocess")


def main(argv: Optional[Sequence[str]] = None) -> int:
    cfg = get_config(argv)
    setup_logging()
    batch_size = int(cfg.TEST.BATCH_SIZE)   # checked by the configuration: >= 1
    pre_dir = cfg.INFER.PRE_RESULT_PATH
    flip = bool(cfg.TEST.FLIP_TEST)
    dataset, generator = keypoint_dataset(cfg, train_mode=False, num_parallel_workers=cfg.TEST.DATALOADER_WORKERS)

    bin_files.make_dirs(pre_dir)
    bin_files.clear_batches(pre_dir)
    num_batches = num_samples = 0
    for batch in dataset.create_dict_iterator(output_numpy=True, num_epochs=1):
        num_samples += bin_files.write_batch(pre_dir, num_batches, batch_size, batch["image"], batch["center"],
                                               batch["scale"], batch["score"], batch["id"], flip)
        num_batches += 1
    bin_files.write_info(pre_dir, batch_size, cfg.MODEL.IMAGE_SIZE, num_batches, num_samples, flip)
    padding = num_batches * batch_size - num_samples
    logger.info("%d boxes written as %d batches of %d%s (%d padding rows in the last batch) to %s",
                num_samples, num_batches, batch_size, " with their mirrored copies" if flip else "",
                padding, pre_dir)
    if num_samples != len(generator):
        raise RuntimeError(f"wrote {num_samples} boxes but the dataset has {len(generator)}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
