"""Evaluate a SimplePoseNet checkpoint with COCO keypoint AP, or PoseTrack's per-joint AP (``DATASET.DATASET``).

    python eval.py --eval_model_file CKPT [--coco_bbox_file DETECTIONS] [--key value ...]

Person boxes come from ``TEST.COCO_BBOX_FILE`` (or the ground truth with
``TEST.USE_GT_BBOX``). Results go to ``<checkpoint without extension>/results/``;
the last line printed is ``AP: <float>`` (COCO's AP; PoseTrack's total AP in percent, after
the benchmark's AP table).
"""
import functools
import logging
import sys
from typing import Optional, Sequence

from src.dataset import keypoint_dataset
from src.dataset_types import dataset_type
from src.evaluate.results import results_dir
from src.inference.estimator import PoseEstimator
from src.inference.loading import load_network
from src.inference.runner import run_inference
from src.model_utils.config import get_config
from src.model_utils.modelarts import eval_post_process, eval_pre_process
from src.model_utils.moxing_adapter import moxing_wrapper
from src.network.weights import require_model_file
from src.utils.cli import run_cli, setup_logging

logger = logging.getLogger("eval")


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(get_config(argv))


@moxing_wrapper(pre_process=functools.partial(eval_pre_process, results_dir=results_dir),
                post_process=functools.partial(eval_post_process, results_dir=results_dir))
def run(cfg) -> int:
    """Evaluates with ``cfg`` (with ``enable_modelarts``, between ModelArts' copies in and out)."""
    setup_logging()
    kind = dataset_type(cfg)
    model_file = require_model_file(cfg, "evaluate")
    net = load_network(cfg, model_file)
    estimator = PoseEstimator.from_config(cfg, net)
    logger.info("use flip test: %s", estimator.settings.flip_test)

    dataset, samples = keypoint_dataset(cfg, train_mode=False, num_parallel_workers=cfg.TEST.DATALOADER_WORKERS)
    found = run_inference(estimator, dataset, len(samples))
    logger.info("predicted %d people (%d joints each) in %d images", len(found.preds), found.preds.shape[1],
                len(set(found.image_ids.tolist())))

    kind.evaluate(cfg, found.preds, results_dir(model_file), found.boxes, found.image_ids)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
