"""Evaluate a SimplePoseNet checkpoint with COCO keypoint AP.

    python eval.py --eval_model_file CKPT [--coco_bbox_file DETECTIONS] [--key value ...]

Person boxes come from ``TEST.COCO_BBOX_FILE`` (or the ground truth with
``TEST.USE_GT_BBOX``). Results go to ``<checkpoint without extension>/results/``;
the last line printed is ``AP: <float>``.
"""
import logging
import os
import sys
from typing import Optional, Sequence

from src.checkpoint import require_model_file
from src.dataset import keypoint_dataset
from src.evaluate.coco_eval import evaluate
from src.evaluate.runner import run_inference
from src.model import get_pose_net
from src.model_utils.cli import run_cli, setup_logging
from src.model_utils.config import get_config
from src.model_utils.device_adapter import get_device_id, init_context
from src.model_utils.modelarts import eval_post_process, eval_pre_process
from src.model_utils.moxing_adapter import moxing_wrapper

logger = logging.getLogger("eval")


def results_dir(model_file: str) -> str:
    """``<checkpoint path without extension>/results``."""
    return os.path.join(os.path.splitext(model_file)[0], "results")


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(get_config(argv))


@moxing_wrapper(pre_process=eval_pre_process, post_process=eval_post_process)
def run(cfg) -> int:
    """Evaluates with ``cfg`` (with ``enable_modelarts``, between ModelArts' copies in and out)."""
    setup_logging()
    model_file = require_model_file(cfg, "evaluate")
    init_context(cfg, device_id=get_device_id())
    logger.info("use flip test: %s", cfg.TEST.FLIP_TEST)
    logger.info("loading model ckpt from %s", model_file)
    net = get_pose_net(cfg, is_train=False, ckpt_path=model_file)
    net.set_train(False)

    if not cfg.TEST.USE_GT_BBOX:
        logger.info("loading bbox file from %s", cfg.TEST.COCO_BBOX_FILE)
    dataset, generator = keypoint_dataset(cfg, train_mode=False, num_parallel_workers=cfg.TEST.DATALOADER_WORKERS)
    found = run_inference(cfg, net, dataset, len(generator))
    logger.info("%s %s %d", found.preds.shape, found.boxes.shape, len(found.image_ids))

    out_dir = results_dir(model_file)
    _, ap = evaluate(cfg, found.preds, out_dir, found.boxes, found.image_ids)
    logger.info("coco eval results saved to %s", out_dir)
    print(f"AP: {ap}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
