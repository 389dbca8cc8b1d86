"""Keypoints of the people in single images, with pictures of their skeletons.

    python infer.py --eval_model_file CKPT --img_path IMAGE_OR_DIR [--boxes BOXES] [--output DIR]
                    [--device_target CPU] [--key value ...]

``--boxes`` is a COCO detection-results file (boxes matched to images by ``file_name``, else by
``image_id`` = the numeric file name; scores under ``TEST.IMAGE_THRE`` dropped), or
``"[[x,y,w,h],...]"`` for a single image; without it each whole image is one person box.
Crops, flip test (``TEST.FLIP_TEST``) and decoding are those of ``eval.py``. Writes
``<output>/keypoints_results.json`` (COCO results format) and ``<output>/<name>_pose.jpg``.
``--output`` is an alias of the configuration key ``infer_output``.
"""
import json
import logging
import os
import sys
from typing import List, Optional, Sequence

import cv2
import numpy as np

from src.network.weights import require_model_file
from src.constants import RESULTS_FILE
from src.inference.images import (boxes_for_images, draw_people, image_id_of, list_images, predict_people,
                             results_entries)
from src.model import get_pose_net
from src.errors import UserError
from src.utils.cli import run_cli, setup_logging
from src.model_utils.config import get_config
from src.model_utils.device_adapter import get_device_id, init_context
from src.utils.image import read_image

logger = logging.getLogger("infer")


def _aliases(argv: Sequence[str]) -> List[str]:
    return ["--infer_output" if word == "--output" else word for word in argv]


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(get_config(_aliases(sys.argv[1:] if argv is None else argv)))


def run(cfg) -> int:
    """Predicts, writes the results file and the pictures; returns 0."""
    setup_logging()
    model_file = require_model_file(cfg, "run")
    if not cfg.img_path:
        raise UserError("no image: pass --img_path IMAGE_OR_FOLDER")
    images = list_images(cfg.img_path)
    boxes = boxes_for_images(images, cfg.boxes, float(cfg.TEST.IMAGE_THRE))
    init_context(cfg, device_id=get_device_id())
    net = get_pose_net(cfg, is_train=False, ckpt_path=model_file)
    net.set_train(False)
    out_dir = cfg.infer_output
    os.makedirs(out_dir, exist_ok=True)

    results = []
    for index, path in enumerate(images):
        if path not in boxes:
            logger.info("%s: no person box in %s; skipped", path, cfg.boxes)
            continue
        image = read_image(path)
        found = boxes[path]
        if found is None:   # the whole image is one person box
            height, width = image.shape[:2]
            box, score = np.array([[0.0, 0.0, width, height]]), np.ones(1)
            image_id = image_id_of(path, index)
        else:
            box, score, image_id = found
        picture_path = os.path.join(out_dir, os.path.splitext(os.path.basename(path))[0] + "_pose.jpg")
        preds = np.zeros((0, int(cfg.MODEL.NUM_JOINTS), 3), np.float32)
        if len(box):
            preds, person_scores = predict_people(cfg, net, image, box, score)
            results += results_entries(preds, person_scores, image_id, os.path.basename(path))
        if not cv2.imwrite(picture_path, draw_people(image, box, preds, float(cfg.TEST.IN_VIS_THRE))):
            raise OSError(f"cannot write {picture_path}")
        logger.info("%s: %d people -> %s", path, len(box), picture_path)

    res_file = os.path.join(out_dir, RESULTS_FILE)
    with open(res_file, "w", encoding="utf-8") as f:
        json.dump(results, f)
    logger.info("%d people in %d images; keypoints written to %s", len(results), len(images), res_file)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
