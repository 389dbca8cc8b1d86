"""The evaluation of the exported model's results: COCO keypoint AP (or the data set type's, ``DATASET.DATASET``).

    python postprocess.py [--INFER.PRE_RESULT_PATH DIR] [--INFER.POST_RESULT_PATH DIR] [--key value ...]

Reads the heatmaps the inference app wrote (``INFER.POST_RESULT_PATH/<name>_0.bin``)
and the batch metadata preprocess.py wrote (``INFER.PRE_RESULT_PATH/meta``), drops the
padding rows of the last batch, and decodes and evaluates them through the same
code as ``eval.py`` (:class:`src.inference.decoder.PoseDecoder` and the data set type's evaluation,
:mod:`src.dataset_types`). The flip test is
used when preprocess.py wrote the mirrored batches. Results go to
``<TEST.MODEL_FILE without extension>/results/`` when ``TEST.MODEL_FILE`` is set (as
eval.py), else to ``results/`` next to ``INFER.POST_RESULT_PATH``; the last line
printed is ``AP: <float>``.
"""
import logging
import os
import sys
from typing import Any, Optional, Sequence

import numpy as np

from src.dataset_types import dataset_type
from src.deploy import bin_files
from src.evaluate import results
from src.model_utils.config import get_config
from src.inference.decoder import PoseDecoder
from src.utils.cli import run_cli, setup_logging

logger = logging.getLogger("postprocess")


def results_dir(cfg: Any) -> str:
    """Folder of ``keypoints_results.json`` and ``keypoints_stats.json``."""
    if cfg.TEST.MODEL_FILE:
        return results.results_dir(cfg.TEST.MODEL_FILE)
    post_dir = os.path.abspath(cfg.INFER.POST_RESULT_PATH)
    return os.path.join(os.path.dirname(post_dir), "results")


def main(argv: Optional[Sequence[str]] = None) -> int:
    cfg = get_config(argv)
    setup_logging()
    pre_dir, post_dir = cfg.INFER.PRE_RESULT_PATH, cfg.INFER.POST_RESULT_PATH
    info = bin_files.read_info(pre_dir)
    batch_size, flip = info["batch_size"], info["flip_test"]
    if flip != bool(cfg.TEST.FLIP_TEST):
        logger.warning("TEST.FLIP_TEST is %s but preprocess.py ran with %s: following the preprocessed data",
                       cfg.TEST.FLIP_TEST, flip)
    width, height = cfg.POSE_RESNET.HEATMAP_SIZE
    shape = (batch_size, int(cfg.MODEL.NUM_JOINTS), int(height), int(width))

    decoder = PoseDecoder.from_config(cfg)
    preds, boxes, ids = [], [], []
    for index in range(info["num_batches"]):
        meta = bin_files.read_meta(pre_dir, batch_size, index)
        real = slice(0, meta.count)
        output = bin_files.read_result(bin_files.result_path(post_dir, batch_size, index), shape)[real]
        flipped = None
        if flip:
            flipped = bin_files.read_result(bin_files.result_path(post_dir, batch_size, index, True),
                                              shape)[real]
        batch_preds, batch_boxes = decoder.decode(output, meta.center[real], meta.scale[real], meta.score[real],
                                                  flipped)
        preds.append(batch_preds)
        boxes.append(batch_boxes)
        ids.append(meta.image_id[real])
    if not preds:
        raise bin_files.InferFilesError(f"{pre_dir} holds no batches; run preprocess.py on a data set with "
                                          f"person boxes")
    preds, boxes, ids = np.concatenate(preds), np.concatenate(boxes), np.concatenate(ids)
    if len(preds) != info["num_samples"]:
        raise bin_files.InferFilesError(f"the batch metadata count {len(preds)} boxes but preprocess.py "
                                          f"wrote {info['num_samples']}; run preprocess.py again")
    logger.info("%d boxes from %d batches of %d read from %s", len(preds), info["num_batches"], batch_size,
                post_dir)

    dataset_type(cfg).evaluate(cfg, preds, results_dir(cfg), boxes, ids)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
