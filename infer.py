"""Keypoints of the people in single images, with pictures of their skeletons.

    python infer.py --eval_model_file CKPT --img_path IMAGE_OR_DIR [--boxes BOXES | --detector MODEL.onnx]
                    [--output DIR] [--device_target CPU] [--key value ...]

``--boxes`` is a COCO detection-results file (boxes matched to images by ``file_name``, else by
``image_id`` = the numeric file name; scores under ``TEST.IMAGE_THRE`` dropped), or
``"[[x,y,w,h],...]"`` for a single image. Without it, ``--detector`` (an ONNX person detector, the
one ``track.py`` runs: ``src/tracking/detector.py``, settings ``TRACK.DETECTOR*``) finds each image's
people; without either, each whole image is one person box. Crops, flip test (``TEST.FLIP_TEST``)
and decoding are those of ``eval.py``. Writes ``<output>/keypoints_results.json`` (COCO results
format) and ``<output>/<name>_pose.jpg``. ``--output`` is an alias of the configuration key
``infer_output``, ``--detector`` of ``TRACK.DETECTOR``.
"""
import logging
import os
import sys
from typing import Any, List, Optional, Sequence

import cv2
import numpy as np

from src.dataset_types import dataset_type
from src.errors import UserError
from src.evaluate.results import RESULTS_FILE, image_entries, write_results
from src.inference.estimator import PoseEstimator
from src.inference.images import boxes_for_images, image_id_of, list_images
from src.inference.loading import load_network
from src.model_utils.config import get_config
from src.network.weights import require_model_file
from src.tracking.detector import DetectorSettings, PersonDetector
from src.utils.cli import run_cli, setup_logging
from src.utils.drawing import draw_people
from src.utils.image import read_image

logger = logging.getLogger("infer")

_ALIASES = {"--output": "--infer_output", "--detector": "--TRACK.DETECTOR"}


def _aliases(argv: Sequence[str]) -> List[str]:
    return [_ALIASES.get(word, word) for word in argv]


def person_detector(cfg: Any) -> Optional[PersonDetector]:
    """The ONNX person detector of ``TRACK.DETECTOR`` where no ``boxes`` are given, else None."""
    if not cfg.TRACK.DETECTOR:
        return None
    if cfg.boxes.strip():
        logger.warning("TRACK.DETECTOR %s is not used: the boxes come from --boxes", cfg.TRACK.DETECTOR)
        return None
    return PersonDetector(DetectorSettings.from_config(cfg))


def unseen_people_line(unseen: int, people: int, vis_thre: float) -> str:
    """The warning that ``unseen`` of ``people`` boxes got no joint above ``vis_thre``, and what to do."""
    return (f"{unseen} of {people} people have no joint scoring above TEST.IN_VIS_THRE {vis_thre:g}, so no "
            f"skeleton is drawn for them: the network does not recognise them (the demo network, trained on "
            f"synthetic figures, sees only such figures); use a network trained on real people, e.g. the "
            f"reference's COCO weights converted with python -m src.convert (docs/tools.md)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(get_config(_aliases(sys.argv[1:] if argv is None else argv)))


def run(cfg) -> int:
    """Predicts, writes the results file and the pictures; returns 0."""
    setup_logging()
    keypoints = dataset_type(cfg).keypoints
    model_file = require_model_file(cfg, "run")
    if not cfg.img_path:
        raise UserError("no image: pass --img_path IMAGE_OR_FOLDER")
    images = list_images(cfg.img_path)
    boxes = boxes_for_images(images, cfg.boxes, float(cfg.TEST.IMAGE_THRE))
    detector = person_detector(cfg)
    net = load_network(cfg, model_file)
    estimator = PoseEstimator.from_config(cfg, net)
    vis_thre = estimator.settings.in_vis_thre
    out_dir = cfg.infer_output
    os.makedirs(out_dir, exist_ok=True)

    results, unseen = [], 0
    for index, path in enumerate(images):
        if path not in boxes:
            logger.info("%s: no person box in %s; skipped", path, cfg.boxes)
            continue
        image = read_image(path)
        found = boxes[path]
        if found is not None:
            box, score, image_id = found
        elif detector is not None:
            box, score = detector(image)
            image_id = image_id_of(path, index)
            if not len(box):
                logger.info("%s: the detector found no person; skipped", path)
                continue
        else:   # the whole image is one person box
            height, width = image.shape[:2]
            box, score = np.array([[0.0, 0.0, width, height]]), np.ones(1)
            image_id = image_id_of(path, index)
        picture_path = os.path.join(out_dir, os.path.splitext(os.path.basename(path))[0] + "_pose.jpg")
        people = estimator.estimate(image, box, score)
        results += image_entries(people.poses, people.scores, image_id, os.path.basename(path))
        unseen += int(np.sum(people.poses[:, :, 2].max(axis=1) <= vis_thre))
        if not cv2.imwrite(picture_path, draw_people(image, box, people.poses, vis_thre, keypoints)):
            raise OSError(f"cannot write {picture_path}")
        logger.info("%s: %d people -> %s", path, len(box), picture_path)

    res_file = os.path.join(out_dir, RESULTS_FILE)
    write_results(res_file, results)
    logger.info("%d people in %d images; keypoints written to %s", len(results), len(images), res_file)
    if unseen:
        logger.warning(unseen_people_line(unseen, len(results), vis_thre))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
