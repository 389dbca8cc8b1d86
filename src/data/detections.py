"""Person detection files: COCO's detection-results format, read and written here only.

A detection file is a JSON list of ``{"image_id": int, "category_id": 1, "bbox": [x, y, w, h],
"score": float}`` (the reference's ``COCO_val2017_detections_AP_H_56_person.json``, what
``python -m src.synthetic`` writes). For single images and videos a detection may name its image by
``file_name`` instead of ``image_id``; ``category_id`` defaults to 1 (person) and ``score`` to 1.
Detections of other categories are dropped when read.

Symbols: N detections of an image. Boxes are ``[x, y, w, h]`` in image pixels.
"""
import json
import logging
import os
from collections import defaultdict
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from src.constants import PERSON_CATEGORY
from src.errors import BoxesError, DatasetNotFoundError, shown_path
from src.utils.jsonio import read_json, write_json

logger = logging.getLogger(__name__)


def find_detection_file(name: str, root: str) -> str:
    """The detection file ``name`` (``TEST.COCO_BBOX_FILE``): as given, else relative to the data set ``root``,
    else by its base name in ``root/person_detection_results/``.

    Raises:
        DatasetNotFoundError: none of them is a file (naming each place tried and what to set).
    """
    candidates = [name]
    if not os.path.isabs(name):
        candidates += [os.path.join(root, name), os.path.join(root, "person_detection_results", os.path.basename(name))]
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


def read_detections(path: str, what: str = "boxes file") -> List[Dict[str, Any]]:
    """The person detections of the detection file ``path``, each checked to have a box and an image.

    Raises:
        FileNotFoundError: no file at ``path``.
        BoxesError: not JSON, not a list, or a detection without ``bbox`` or without both
            ``image_id`` and ``file_name`` (naming the file and showing the detection).
    """
    dets = read_json(path, what, BoxesError)
    if not isinstance(dets, list):
        raise BoxesError(f"{what} {path}: expected a JSON list of detections "
                         "{image_id or file_name, bbox [x,y,w,h], score, category_id}")
    for det in dets:
        if not isinstance(det, dict) or "bbox" not in det or not ("image_id" in det or "file_name" in det):
            raise BoxesError(f"{what} {path}: a detection lacks 'bbox' or both 'image_id' and "
                             f"'file_name': {str(det)[:120]}")
        if not isinstance(det["bbox"], list) or len(det["bbox"]) != 4:
            raise BoxesError(f"{what} {path}: a detection's 'bbox' is not 4 numbers [x,y,w,h]: {str(det)[:120]}")
    return [d for d in dets if d.get("category_id", PERSON_CATEGORY) == PERSON_CATEGORY]


def write_detections(path: str, dets: Sequence[Dict[str, Any]]) -> None:
    """Writes a detection file (compact JSON, atomically)."""
    write_json(path, list(dets), compact=True)


def as_boxes(rows: Any, source: str) -> Tuple[np.ndarray, np.ndarray]:
    """``[[x, y, w, h(, score)], ...]`` → (N×4 boxes, N scores; 1 where none is given).

    Raises:
        BoxesError: not a non-empty list of 4 or 5 numbers each, or a box without area (naming ``source``).
    """
    if not isinstance(rows, list) or not rows:
        raise BoxesError(f"boxes {source}: expected a non-empty list [[x,y,w,h],...] or a detection file")
    if all(isinstance(v, (int, float)) for v in rows):
        rows = [rows]   # one box written without the outer brackets
    try:
        array = [[float(v) for v in row] for row in rows]
    except (TypeError, ValueError) as err:
        raise BoxesError(f"boxes {source}: every box must be [x,y,w,h] or [x,y,w,h,score] numbers ({err})") from err
    if any(len(row) not in (4, 5) for row in array):
        raise BoxesError(f"boxes {source}: every box must have 4 numbers [x,y,w,h] (or 5 with a score)")
    boxes = np.array([row[:4] for row in array], dtype=np.float64)
    if (boxes[:, 2:] <= 0).any():
        raise BoxesError(f"boxes {source}: widths and heights must be positive")
    scores = np.array([row[4] if len(row) == 5 else 1.0 for row in array], dtype=np.float64)
    return boxes, scores


class DetectionIndex:
    """The detections of a file by image: by base file name, else by image id.

    Args:
        path: The detection file.
        what: What the file is, for the messages (``"boxes file (TRACK.BOXES)"``).
    """

    def __init__(self, path: str, what: str = "boxes file"):
        self.path = path
        self._by_name: Dict[str, List[Dict[str, Any]]] = defaultdict(list)
        self._by_id: Dict[int, List[Dict[str, Any]]] = defaultdict(list)
        for det in read_detections(path, what):
            if "file_name" in det:
                self._by_name[os.path.basename(str(det["file_name"]))].append(det)
            else:
                self._by_id[int(det["image_id"])].append(det)

    def of_image(self, file_name: str, image_id: int) -> List[Dict[str, Any]]:
        """The detections of the image named ``file_name`` (its base name), else of ``image_id``."""
        return self._by_name.get(os.path.basename(file_name)) or self._by_id.get(image_id, [])

    def boxes(self, dets: Sequence[Dict[str, Any]], min_score: float) -> Tuple[np.ndarray, np.ndarray]:
        """``(boxes N×4, scores N)`` of ``dets`` scoring at least ``min_score``.

        Raises:
            BoxesError: a ``bbox`` that is not 4 numbers, or without area (:func:`as_boxes`).
        """
        if not dets:
            return np.zeros((0, 4)), np.zeros(0)
        boxes, scores = as_boxes([list(d["bbox"])[:4] + [d.get("score", 1.0)] for d in dets], f"in {self.path}")
        keep = scores >= min_score
        return boxes[keep], scores[keep]

    def image_id(self, dets: Sequence[Dict[str, Any]], fallback: int) -> int:
        """The COCO image id the detections give, else ``fallback``."""
        return int(dets[0].get("image_id", fallback)) if dets else fallback


def first_image_boxes(text: str, min_score: float) -> Tuple[np.ndarray, np.ndarray]:
    """Boxes written on the command line, ``'[[x,y,w,h(,score)],...]'``, scoring at least ``min_score``.

    Raises:
        BoxesError: not a JSON list of boxes.
    """
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as err:
        raise BoxesError(f"boxes '{text}' is not a JSON list of [x,y,w,h] boxes ({err.msg})") from err
    boxes, scores = as_boxes(rows, f"'{text}'")
    keep = scores >= min_score
    return boxes[keep], scores[keep]


class BoxSource:
    """The person boxes a ``boxes`` setting gives (``infer.py``'s ``--boxes``, ``TRACK.BOXES``).

    The setting is empty (no boxes given), ``'[[x,y,w,h(,score)],...]'`` (the boxes of one image, in
    ``listed``), or a detection file (its :class:`DetectionIndex` in ``index``).

    Args:
        text: The setting.
        key: Its name, for the messages (``"boxes"``, ``"TRACK.BOXES, --boxes"``).
        min_score: Boxes of a list scoring under this are dropped (``TEST.IMAGE_THRE``).

    Raises:
        FileNotFoundError: a file name that is not a file.
        BoxesError: an unreadable list or file.
    """

    def __init__(self, text: str, key: str, min_score: float):
        self.listed: Optional[Tuple[np.ndarray, np.ndarray]] = None
        self.index: Optional[DetectionIndex] = None
        text = text.strip()
        if text.startswith("["):
            self.listed = first_image_boxes(text, min_score)
        elif text:
            if not os.path.isfile(text):
                raise FileNotFoundError(f"boxes file not found: '{shown_path(text)}' ({key}); give a COCO detection "
                                        f"file or '[[x,y,w,h],...]'")
            self.index = DetectionIndex(text, f"boxes file ({key})")

