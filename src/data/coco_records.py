"""Person records from COCO files (the ``coco`` data set type's): one per annotated person, or one per detected
person box.

A record is a person to crop: its image file, box, joints and score (:class:`src.data.records.PersonRecords`).
The readers here check the files' structure and name the file and entry that is wrong
(:class:`src.errors.DatasetFormatError`), or the file that is missing with the way to get it
(:class:`src.errors.DatasetNotFoundError`). :func:`read_coco_records` reads what the configuration asks for.

Symbols: N records, J joints. Joints are ``[x, y, 0]`` in image pixels (N×J×3) with a
visibility of 0/1 repeated per coordinate (N×J×3), as in the reference.
"""
import logging
import os
from collections import defaultdict
from typing import Any, Dict

import numpy as np

from src.constants import PERSON_CATEGORY
from src.data.annotations import images_by_id, read_annotations
from src.data.detections import find_detection_file, read_detections
from src.data.records import PersonRecords, RecordSettings, require_usable
from src.errors import BoxesError, DatasetFormatError, DatasetNotFoundError, shown_path

logger = logging.getLogger(__name__)

HOW_TO_GET_DATA = ("Download COCO 2017 (train2017, val2017, annotations) from https://cocodataset.org, or "
                   "write a synthetic set with `python -m src.synthetic --output DIR`; then set DATASET.ROOT "
                   "(or --dataset_path) to that folder.")


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
    logger.info("loading dataset from %s", image_path)
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
    logger.info("loaded %d records from coco dataset.", len(files))
    return PersonRecords(files, np.asarray(boxes, np.float64).reshape(-1, 4), joints, vis,
                         np.ones(len(files), np.float32), np.asarray(ids, np.int64), ann_file)


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
    logger.info("loading dataset from %s", image_path)
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
    logger.info("Total boxes: %d", n)
    return PersonRecords(files, np.asarray(boxes, np.float64).reshape(-1, 4),
                         np.zeros((n, num_joints, 3), np.float32), np.ones((n, num_joints, 3), np.float32),
                         np.asarray(scores, np.float32), np.asarray(ids, np.int64), ann_file)


def read_coco_records(settings: RecordSettings) -> PersonRecords:
    """The records ``settings`` ask for: the labelled people of ``<root>/annotations/person_keypoints_<split>.json``
    with the images of ``<root>/<split>/`` (or ``settings.ann_file`` and ``settings.image_dir``), or the detections
    of ``settings.bbox_file`` on those images (:func:`detection_records`).

    Raises:
        DatasetNotFoundError: a missing folder or file, with how to get the data.
        DatasetFormatError: a malformed file, or no records (:func:`src.data.records.require_usable`).
        ImageReadError: a missing evaluation image.
    """
    if not (settings.image_dir and settings.ann_file):
        require_dir(settings.root, "dataset root (DATASET.ROOT)")
    image_dir = settings.image_dir or os.path.join(settings.root, settings.split)
    ann_file = settings.ann_file or os.path.join(settings.root, "annotations",
                                                 f"person_keypoints_{settings.split}.json")
    if settings.labelled:
        records = ground_truth_records(image_dir, ann_file, settings.num_joints)
    else:
        bbox_file = find_detection_file(settings.bbox_file, settings.root)
        records = detection_records(image_dir, ann_file, bbox_file, settings.num_joints, settings.min_score)
    return require_usable(records, settings, HOW_TO_GET_DATA)
