"""Single images and their person boxes (``infer.py``; the frames of ``track.py`` when given as a folder).

Symbols: N person boxes of one image. Boxes are ``[x, y, w, h]`` in image pixels. Poses come from
:class:`src.inference.estimator.PoseEstimator`, which crops, flips and decodes as ``eval.py`` does, so
a box gives the same keypoints here as there.
"""
import logging
import os
from typing import Dict, List, NamedTuple, Optional, Sequence

import numpy as np

from src.data.detections import BoxSource
from src.errors import BoxesError, UserError, shown_path

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


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
    source = BoxSource(boxes, "boxes", image_thre)
    if source.listed is not None:
        if len(images) != 1:
            raise BoxesError(f"boxes given on the command line apply to a single image, but img_path has "
                             f"{len(images)}; use a detection file (JSON list of {{file_name or image_id, bbox, "
                             f"score}}) for a folder")
        return {images[0]: PersonBoxes(*source.listed, ids[images[0]])}
    if source.index is None:
        return {path: None for path in images}
    found: Dict[str, Optional[PersonBoxes]] = {}
    for path in images:
        dets = source.index.of_image(path, ids[path])
        if dets:
            found[path] = PersonBoxes(*source.index.boxes(dets, image_thre), source.index.image_id(dets, ids[path]))
    return found
