"""Keypoints of people in single images (``infer.py``): boxes, crops, the evaluation's decoding.

Symbols: N person boxes of one image, J joints, H×W network input.
Boxes are ``[x, y, w, h]`` in image pixels. Crops, normalisation, flip test and decoding are
those of ``eval.py`` (:func:`src.dataset.crop_person`, :func:`src.dataset.normalize_ops`,
:func:`src.inference.runner.predict_heatmaps`, :func:`src.predict.postprocess_outputs`,
:func:`src.evaluate.coco_eval.rescore`), so a box gives the same keypoints here as there.
"""
import json
import logging
import os
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

from src.dataset import crop_person, normalize_ops
from src.errors import BoxesError, UserError, shown_path
from src.evaluate.coco_eval import rescore
from src.inference.runner import predict_heatmaps
from src.predict import postprocess_outputs
from src.utils.transform import box_to_center_scale
from src.visualize import draw_skeleton

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
PERSON_CATEGORY = 1
BOX_COLOUR = (160, 160, 160)  # BGR


class PersonBoxes(NamedTuple):
    """Person boxes of one image: ``boxes`` N×4 ``[x, y, w, h]``, ``scores`` N, COCO ``image_id``."""
    boxes: np.ndarray
    scores: np.ndarray
    image_id: int


def list_images(img_path: str) -> List[str]:
    """``img_path`` itself, or the image files of the folder ``img_path`` (sorted).

    Raises:
        FileNotFoundError: nothing at ``img_path``.
        UserError: a folder without images.
    """
    if os.path.isfile(img_path):
        return [img_path]
    if not os.path.isdir(img_path):
        raise FileNotFoundError(f"image not found: '{shown_path(img_path)}' (img_path); pass an image file or a folder")
    files = sorted(os.path.join(img_path, name) for name in os.listdir(img_path)
                   if name.lower().endswith(IMAGE_EXTENSIONS))
    if not files:
        raise UserError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in the folder '{img_path}' (img_path)")
    return files


def image_id_of(path: str, fallback: int) -> int:
    """COCO's convention: the image id is the numeric file name (``000000000785.jpg`` → 785)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    return int(stem) if stem.isdigit() else fallback


def _as_boxes(rows: Any, source: str) -> Tuple[np.ndarray, np.ndarray]:
    """``[[x, y, w, h(, score)], ...]`` → (N×4 boxes, N scores; 1 where none is given)."""
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


def load_detections(path: str) -> List[Dict[str, Any]]:
    """The person detections of a COCO results file (``image_id`` or ``file_name``, ``bbox``, ``score``)."""
    try:
        with open(path, encoding="utf-8") as f:
            dets = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BoxesError(f"boxes file {path} is not valid JSON ({err})") from err
    if not isinstance(dets, list):
        raise BoxesError(f"boxes file {path}: expected a JSON list of detections "
                         "{image_id or file_name, bbox [x,y,w,h], score, category_id}")
    for det in dets:
        if not isinstance(det, dict) or "bbox" not in det or not ("image_id" in det or "file_name" in det):
            raise BoxesError(f"boxes file {path}: a detection lacks 'bbox' or both 'image_id' and "
                             f"'file_name': {str(det)[:120]}")
    return [d for d in dets if d.get("category_id", PERSON_CATEGORY) == PERSON_CATEGORY]


def boxes_for_images(images: Sequence[str], boxes: str, image_thre: float) -> Dict[str, Optional[PersonBoxes]]:
    """The person boxes of each image, by the ``boxes`` setting.

    Args:
        images: Image paths.
        boxes: Empty (each whole image is one box of score 1, filled in once the image is
            read: None here), a COCO detection-results file (detections of an image are
            those with its ``file_name`` (base name), else with ``image_id`` = its numeric
            file name; scores under ``image_thre`` are dropped), or a JSON list of
            ``[x, y, w, h(, score)]`` for a single image.
        image_thre: ``TEST.IMAGE_THRE``.

    Returns:
        Image path → :class:`PersonBoxes` (or None for "whole image"); images without a
        detection are left out.

    Raises:
        BoxesError: unreadable boxes, or a box list with several images.
    """
    ids = {path: image_id_of(path, i) for i, path in enumerate(images)}
    if not boxes:
        return {path: None for path in images}
    text = boxes.strip()
    if text.startswith("["):
        if len(images) != 1:
            raise BoxesError(f"boxes given on the command line apply to a single image, but img_path has "
                             f"{len(images)}; use a detection file (JSON list of {{file_name or image_id, bbox, "
                             f"score}}) for a folder")
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as err:
            raise BoxesError(f"boxes '{text}' is not a JSON list of [x,y,w,h] boxes ({err.msg})") from err
        array, scores = _as_boxes(rows, f"'{text}'")
        keep = scores >= image_thre
        return {images[0]: PersonBoxes(array[keep], scores[keep], ids[images[0]])}
    if not os.path.isfile(text):
        raise FileNotFoundError(f"boxes file not found: '{shown_path(text)}' (boxes); give a COCO detection file or "
                                f"'[[x,y,w,h],...]'")
    by_name: Dict[str, List[Dict[str, Any]]] = {}
    by_id: Dict[int, List[Dict[str, Any]]] = {}
    for det in load_detections(text):
        if "file_name" in det:
            by_name.setdefault(os.path.basename(str(det["file_name"])), []).append(det)
        else:
            by_id.setdefault(int(det["image_id"]), []).append(det)
    found: Dict[str, Optional[PersonBoxes]] = {}
    for path in images:
        dets = by_name.get(os.path.basename(path)) or by_id.get(ids[path], [])
        if not dets:
            continue
        rows = [list(d["bbox"])[:4] + [d.get("score", 1.0)] for d in dets]
        array, scores = _as_boxes(rows, f"in {text}")
        keep = scores >= image_thre
        image_id = int(dets[0].get("image_id", ids[path]))
        found[path] = PersonBoxes(array[keep], scores[keep], image_id)
    return found


def predict_people(cfg: Any, net: Any, image: np.ndarray, boxes: np.ndarray,
                   scores: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Keypoints of the people boxed in ``image``.

    Args:
        cfg: Configuration (``MODEL.IMAGE_SIZE``, ``TEST.*``).
        net: The network in inference mode.
        image: H×W×3 uint8 BGR image.
        boxes: N×4 ``[x, y, w, h]`` in image pixels.
        scores: N box scores.

    Returns:
        ``(preds N×J×3 [x, y, maxval] in image pixels, person scores N)``, the scores rescored
        as the evaluation does (box score × mean maxval above ``TEST.IN_VIS_THRE``).
    """
    image_size = [int(v) for v in cfg.MODEL.IMAGE_SIZE]
    center, scale = box_to_center_scale(boxes, image_size[0] / image_size[1])
    ops = normalize_ops()
    crops = []
    for c, s in zip(center, scale):
        crop, _ = crop_person(image, c.astype(np.float64), s.astype(np.float64), image_size)
        for op in ops:
            crop = op(crop)
        crops.append(crop)
    batch = np.stack(crops).astype(np.float32)
    step = max(1, int(cfg.TEST.BATCH_SIZE))
    preds = []
    for start in range(0, len(batch), step):
        output, flipped = predict_heatmaps(net, batch[start:start + step], bool(cfg.TEST.FLIP_TEST))
        part, _ = postprocess_outputs(cfg, output, center[start:start + step], scale[start:start + step],
                                      scores[start:start + step], flipped)
        preds.append(part)
    preds = np.concatenate(preds)
    return preds, rescore(preds[:, :, 2], scores, float(cfg.TEST.IN_VIS_THRE))


def results_entries(preds: np.ndarray, scores: np.ndarray, image_id: int, file_name: str) -> List[Dict[str, Any]]:
    """COCO keypoint results (category 1, flat J*3 ``keypoints``) of one image's people."""
    return [{"image_id": int(image_id), "category_id": PERSON_CATEGORY, "file_name": file_name,
             "keypoints": [float(v) for v in person.reshape(-1)], "score": float(score)}
            for person, score in zip(preds, scores)]


def draw_people(image: np.ndarray, boxes: np.ndarray, preds: np.ndarray, vis_thre: float) -> np.ndarray:
    """The image (a copy) with each box in grey and each skeleton (joints over ``vis_thre``) drawn."""
    picture = image.copy()
    thickness = max(1, int(round(max(picture.shape[:2]) / 400)))
    for (x, y, w, h), person in zip(boxes, preds):
        cv2.rectangle(picture, (int(round(x)), int(round(y))), (int(round(x + w)), int(round(y + h))),
                      BOX_COLOUR, thickness)
        draw_skeleton(picture, person, vis_thre)
    return picture
