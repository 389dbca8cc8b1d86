"""Keypoint results files: COCO's results format and the statistics beside it, written and read here only.

``keypoints_results.json`` is a JSON list with one entry per person: ``image_id``, ``category_id``
(1), ``keypoints`` (``[x0, y0, s0, x1, ...]``, J×3 flattened, image pixels) and ``score``; the
evaluation keeps the crop's ``center`` and ``scale`` in each entry as the reference does, ``infer.py``
the image's ``file_name`` (COCO ignores both). ``keypoints_stats.json`` holds COCOeval's ten
statistics by name. An evaluation of a model file writes both to ``<model file without
extension>/results/`` (:func:`results_dir`). Files are written atomically: a killed run leaves the
previous file or none.

Symbols: K people, J joints.
"""
import os
from typing import Any, Dict, List, Mapping, Sequence

import numpy as np

from src.constants import PERSON_CATEGORY
from src.errors import EvaluationError
from src.utils.jsonio import read_json, write_json

RESULTS_FILE = "keypoints_results.json"
STATS_FILE = "keypoints_stats.json"


def results_dir(model_file: str) -> str:
    """Where the evaluation of ``model_file`` (a checkpoint or an exported model) writes its results:
    ``<model_file without extension>/results``."""
    return os.path.join(os.path.splitext(model_file)[0], "results")


def evaluation_entries(preds: np.ndarray, scores: np.ndarray, boxes: np.ndarray,
                       image_ids: np.ndarray) -> List[Dict[str, Any]]:
    """Entries of the evaluation's people.

    Args:
        preds: K×J×3 ``[x, y, maxval]``, flattened to ``keypoints``.
        scores: K person scores.
        boxes: K×6 ``[cx, cy, sx, sy, area, score]``; centre and scale are kept in each entry.
        image_ids: K image ids.
    """
    flat = preds.reshape(len(preds), -1).astype(np.float64).tolist()
    return [{'image_id': image_id, 'category_id': PERSON_CATEGORY, 'keypoints': keypoints, 'score': score,
             'center': center, 'scale': scale}
            for image_id, keypoints, score, center, scale in zip(
                np.asarray(image_ids).tolist(), flat, np.asarray(scores).tolist(),
                boxes[:, 0:2].tolist(), boxes[:, 2:4].tolist())]


def image_entries(preds: np.ndarray, scores: np.ndarray, image_id: int, file_name: str) -> List[Dict[str, Any]]:
    """Entries of one image's people (``infer.py``): K×J×3 ``preds``, K scores, with the image's file name."""
    return [{"image_id": int(image_id), "category_id": PERSON_CATEGORY, "file_name": file_name,
             "keypoints": [float(v) for v in person.reshape(-1)], "score": float(score)}
            for person, score in zip(preds, scores)]


def write_results(path: str, entries: Sequence[Mapping[str, Any]]) -> None:
    """Writes a results file (one line of JSON) atomically."""
    write_json(path, list(entries), fast=True)


def read_results(path: str) -> List[Dict[str, Any]]:
    """The entries of a results file.

    Raises:
        FileNotFoundError: no file at ``path``.
        EvaluationError: not JSON, or not a list of entries with ``image_id`` and ``keypoints``.
    """
    entries = read_json(path, "keypoint results file", EvaluationError)
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "image_id" in e and "keypoints" in e
                                                for e in entries):
        raise EvaluationError(f"keypoint results file {path}: expected a JSON list of "
                              "{image_id, keypoints, score} entries (COCO's results format)")
    return entries


def write_stats(path: str, name_value: Mapping[str, float]) -> None:
    """Writes the statistics by name (indented JSON) atomically."""
    write_json(path, dict(name_value), indent=2)

