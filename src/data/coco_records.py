"""Person records from COCO files: one per annotated person, or one per detected person box.

A record is a person to crop: its image file, box, joints and score. The readers here check the
files' structure and name the file and entry that is wrong (:class:`src.errors.DatasetFormatError`),
or the file that is missing with the way to get it (:class:`src.errors.DatasetNotFoundError`).

Symbols: N records, J joints. Joints are ``[x, y, 0]`` in image pixels (N×J×3) with a
visibility of 0/1 repeated per coordinate (N×J×3), as in the reference.
"""
import logging
import os
from collections import defaultdict
from typing import Any, Dict, List, NamedTuple, Optional

import numpy as np

from src.constants import PERSON_CATEGORY
from src.data.annotations import images_by_id, read_annotations
from src.data.detections import read_detections
from src.errors import BoxesError, DatasetFormatError, DatasetNotFoundError, shown_path

logger = logging.getLogger(__name__)

HOW_TO_GET_DATA = ("Download COCO 2017 (train2017, val2017, annotations) from https://cocodataset.org, or "
                   "write a synthetic set with `python -m src.synthetic --output DIR`; then set DATASET.ROOT "
                   "(or --dataset_path) to that folder.")


class PersonRecords(NamedTuple):
    """The people of a data set.

    Attributes:
        image_files: N image paths.
        boxes: N×4 ``[x, y, w, h]`` in image pixels.
        joints: N×J×3 ``[x, y, 0]`` (zeros for detections).
        joints_vis: N×J×3 visibility (ones for detections).
        scores: N box scores (1 for annotations).
        image_ids: N COCO image ids.
    """

    image_files: List[str]
    boxes: np.ndarray
    joints: np.ndarray
    joints_vis: np.ndarray
    scores: np.ndarray
    image_ids: np.ndarray


def load_annotations(path: str) -> Dict[str, Any]:
    """The annotation file ``path``; its errors say how to get the data."""
    return read_annotations(path, hint=HOW_TO_GET_DATA, not_found=DatasetNotFoundError)


def require_dir(path: str, what: str) -> None:
    """Raises :class:`DatasetNotFoundError` (with how to get the data) when ``path`` is not a folder."""
    if not os.path.isdir(path):
        raise DatasetNotFoundError(f"{what} not found: {shown_path(path)}. {HOW_TO_GET_DATA}")


def ground_truth_records(image_path: str, ann_file: str, num_joints: int) -> PersonRecords:
    """One record per person annotation with labelled keypoints (crowds and unlabelled people skipped).

    Boxes are clipped to the image as the reference does, and dropped when empty.
    """
    require_dir(image_path, "image folder")
    data = load_annotations(ann_file)
    images = images_by_id(data, ann_file)
    per_image = defaultdict(list)
    for obj in data.get("annotations", []):
        per_image[obj.get("image_id")].append(obj)

    files, boxes, kpts, ids = [], [], [], []
    for image_id, img in images.items():
        width, height = img.get("width"), img.get("height")
        for obj in per_image.get(image_id, ()):
            try:
                if obj.get("category_id", PERSON_CATEGORY) != PERSON_CATEGORY or obj.get("iscrowd", 0):
                    continue
                kp = np.asarray(obj["keypoints"], dtype=np.float64).reshape(num_joints, 3)
                if obj.get("num_keypoints", int((kp[:, 2] > 0).sum())) == 0:
                    continue
                x, y, w, h = (float(v) for v in obj["bbox"])
                area = float(obj["area"])
                x1, y1 = max(0.0, x), max(0.0, y)
                x2 = min(width - 1.0, x1 + max(0.0, w - 1.0))
                y2 = min(height - 1.0, y1 + max(0.0, h - 1.0))
            except (KeyError, TypeError, ValueError) as err:
                raise DatasetFormatError(
                    f"{ann_file}: annotation {obj.get('id')} of image {image_id} lacks a valid "
                    f"'keypoints' ({num_joints}×3 numbers), 'bbox' or 'area', or the image its "
                    f"'width'/'height' ({err})") from err
            if area > 0 and x2 >= x1 and y2 >= y1:
                files.append(os.path.join(image_path, img["file_name"]))
                boxes.append([x1, y1, x2 - x1, y2 - y1])
                kpts.append(kp)
                ids.append(image_id)

    kpts = np.asarray(kpts, dtype=np.float32).reshape(-1, num_joints, 3)
    vis = np.repeat(np.minimum(1.0, kpts[:, :, 2:3]), 3, axis=2)
    joints = kpts.copy()
    joints[:, :, 2] = 0
    return PersonRecords(files, np.asarray(boxes, np.float64).reshape(-1, 4), joints, vis,
                         np.ones(len(files), np.float32), np.asarray(ids, np.int64))


def detection_records(image_path: str, ann_file: str, bbox_file: str, num_joints: int,
                      min_score: float = 0.0) -> PersonRecords:
    """One record per person detection (category 1) with ``score >= min_score``.

    Args:
        image_path: Folder of the images.
        ann_file: COCO annotation file; only its ``images`` (ids → file names) are used.
        bbox_file: Detection results, a JSON list of ``{image_id, category_id, bbox, score}``.
        num_joints: J.
        min_score: ``TEST.IMAGE_THRE``.
    """
    require_dir(image_path, "image folder")
    images = images_by_id(load_annotations(ann_file), ann_file)
    if not os.path.isfile(bbox_file):
        raise DatasetNotFoundError(f"detection file not found: {shown_path(bbox_file)}. {HOW_TO_GET_DATA}")
    files, boxes, scores, ids = [], [], [], []
    unknown = 0
    for det in read_detections(bbox_file, "detection file"):
        if "image_id" not in det:
            raise BoxesError(f"detection file {bbox_file}: a detection names no 'image_id' (the evaluation finds "
                             f"images by id): {str(det)[:120]}")
        try:
            box, score = [float(v) for v in det["bbox"][:4]], float(det.get("score", 1.0))
        except (TypeError, ValueError) as err:
            raise BoxesError(f"detection file {bbox_file}: a 'bbox' or 'score' is not numbers ({err}): "
                             f"{str(det)[:120]}") from err
        if score < min_score:
            continue
        image_id = det["image_id"]
        if image_id not in images:
            unknown += 1
            continue
        files.append(os.path.join(image_path, images[image_id]["file_name"]))
        boxes.append(box)
        scores.append(score)
        ids.append(image_id)
    if unknown:
        logger.warning("%d boxes in %s refer to images not in %s; skipped", unknown, bbox_file, ann_file)
    n = len(files)
    return PersonRecords(files, np.asarray(boxes, np.float64).reshape(-1, 4),
                         np.zeros((n, num_joints, 3), np.float32), np.ones((n, num_joints, 3), np.float32),
                         np.asarray(scores, np.float32), np.asarray(ids, np.int64))


def resolve_bbox_file(cfg: Any, bbox_file: Optional[str] = None) -> str:
    """The detection file: as given (or ``TEST.COCO_BBOX_FILE``), else found under ``DATASET.ROOT``."""
    name = bbox_file or cfg.TEST.COCO_BBOX_FILE
    candidates = [name]
    if not os.path.isabs(name):
        candidates += [os.path.join(cfg.DATASET.ROOT, name),
                       os.path.join(cfg.DATASET.ROOT, "person_detection_results", os.path.basename(name))]
    for path in candidates:
        if os.path.isfile(path):
            logger.info("loading bbox file from %s", path)
            return path
    raise DatasetNotFoundError(
        f"person detection file not found (tried {', '.join(map(shown_path, candidates))}). Set "
        "TEST.COCO_BBOX_FILE (--coco_bbox_file) to the detection results (the reference's "
        "COCO_val2017_detections_AP_H_56_person.json; `python -m src.synthetic` writes one under "
        "DIR/person_detection_results/), or "
        "evaluate on ground-truth boxes with --TEST.USE_GT_BBOX True")
