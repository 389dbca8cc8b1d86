"""COCO keypoint evaluation: rescoring, per-image OKS-NMS, pycocotools' COCOeval.

Symbols: N person boxes over the data set, J joints. ``preds`` is N×J×3
``[x, y, maxval]`` in image pixels; ``all_boxes`` is N×6
``[cx, cy, sx, sy, area, score]`` (see :meth:`src.inference.decoder.PoseDecoder.decode`). The files
written are those of :mod:`src.evaluate.results`.
"""
import logging
import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Optional, Tuple

import numpy as np

from src.constants import COCO_SIGMAS
from src.errors import EvaluationError, import_optional, shown_path
from src.evaluate.results import RESULTS_FILE, STATS_FILE, evaluation_entries, write_results, write_stats
from src.utils.nms import oks_nms_per_image

logger = logging.getLogger(__name__)

#: Names of COCOeval's ten keypoint statistics, in order (spelled as the reference does).
STATS_NAMES: Tuple[str, ...] = ('AP', 'Ap .5', 'AP .75', 'AP (M)', 'AP (L)',
                                'AR', 'AR .5', 'AR .75', 'AR (M)', 'AR (L)')


def _import_cocotools() -> Tuple[Any, Any]:
    purpose, install = "COCO keypoint evaluation", "pip install pycocotools"
    coco = import_optional("pycocotools.coco", purpose, install)
    cocoeval = import_optional("pycocotools.cocoeval", purpose, install)
    return coco.COCO, cocoeval.COCOeval


def rescore(maxvals: np.ndarray, box_scores: np.ndarray, in_vis_thre: float) -> np.ndarray:
    """Person score = box score × mean of the joint maxima above ``in_vis_thre``.

    Args:
        maxvals: N×J joint maxima (or N×J×1).
        box_scores: N detector scores.
        in_vis_thre: Joints with a maximum above this count.

    Returns:
        N float64 scores; 0 for a person with no joint above the threshold.
    """
    maxvals = np.asarray(maxvals, dtype=np.float64).reshape(len(box_scores), -1)
    counted = maxvals > in_vis_thre
    count = counted.sum(axis=1)
    mean = np.where(counted, maxvals, 0.0).sum(axis=1) / np.maximum(count, 1)
    return np.where(count > 0, mean, 0.0) * np.asarray(box_scores, dtype=np.float64)


def default_ann_file(cfg: Any) -> str:
    """``DATASET.ROOT/annotations/person_keypoints_<DATASET.TEST_SET>.json``."""
    return os.path.join(cfg.DATASET.ROOT, 'annotations', f'person_keypoints_{cfg.DATASET.TEST_SET}.json')


def _coco_keypoint_stats(ann_file: str, res_file: str, image_ids: np.ndarray) -> np.ndarray:
    """Runs COCOeval on a results file of ``image_ids``; pycocotools prints its summary."""
    COCO, COCOeval = _import_cocotools()
    coco_gt = COCO(ann_file)
    unknown = sorted(set(image_ids.tolist()) - set(coco_gt.getImgIds()))
    if unknown:
        raise EvaluationError(f"{len(unknown)} predicted image ids (e.g. {unknown[:5]}) are not in {ann_file}; "
                         f"evaluate against the annotations of the images that were predicted")
    coco_dt = coco_gt.loadRes(res_file)
    coco_eval = COCOeval(coco_gt, coco_dt, 'keypoints')
    coco_eval.params.useSegm = None
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    return np.asarray(coco_eval.stats)


@dataclass(frozen=True)
class EvalSettings:
    """What the keypoint evaluation needs of the configuration.

    Attributes:
        in_vis_thre: Joint score counted in a person's score (``TEST.IN_VIS_THRE``).
        oks_thre: OKS-NMS threshold (``TEST.OKS_THRE``).
        ann_file: Ground-truth keypoint annotations; empty for a set without them (``'test'`` in
            ``DATASET.TEST_SET``), whose results are written but not scored.
    """
    in_vis_thre: float
    oks_thre: float
    ann_file: str

    @classmethod
    def from_config(cls, cfg: Any, ann_file: Optional[str] = None) -> "EvalSettings":
        """The settings of ``cfg``; ``ann_file`` by default ``DATASET.ROOT/annotations/person_keypoints_<TEST_SET>.json``."""
        if 'test' in cfg.DATASET.TEST_SET:
            return cls(float(cfg.TEST.IN_VIS_THRE), float(cfg.TEST.OKS_THRE), "")
        return cls(float(cfg.TEST.IN_VIS_THRE), float(cfg.TEST.OKS_THRE), ann_file or default_ann_file(cfg))


def evaluate(cfg: Any, preds: np.ndarray, output_dir: str, all_boxes: np.ndarray, img_id: np.ndarray,
             ann_file: Optional[str] = None) -> Tuple['OrderedDict[str, float]', float]:
    """:func:`evaluate_keypoints` with the settings of ``cfg`` (the original's name and arguments).

    Args:
        cfg: Configuration; reads ``TEST.IN_VIS_THRE``, ``TEST.OKS_THRE``, ``DATASET.ROOT`` and
            ``DATASET.TEST_SET``.
        ann_file: Ground-truth keypoint annotations; by default
            ``DATASET.ROOT/annotations/person_keypoints_<TEST_SET>.json``.
    """
    return evaluate_keypoints(EvalSettings.from_config(cfg, ann_file), preds, output_dir, all_boxes, img_id)


def evaluate_keypoints(settings: EvalSettings, preds: np.ndarray, output_dir: str, all_boxes: np.ndarray,
                       img_id: np.ndarray) -> Tuple['OrderedDict[str, float]', float]:
    """Rescoring, OKS-NMS per image, results file and COCO keypoint metrics.

    Writes ``output_dir/keypoints_results.json`` (COCO results format) and, when
    the set has annotations, ``output_dir/keypoints_stats.json`` (the ten stats).

    Args:
        settings: Thresholds and the annotation file.
        preds: N×J×3 ``[x, y, maxval]`` in image pixels.
        output_dir: Folder for the results files (created if needed).
        all_boxes: N×6 ``[cx, cy, sx, sy, area, score]``.
        img_id: N COCO image ids.

    Returns:
        ``(name_value, AP)``: the ten stats by name, and the first (AP). A set without annotations
        has ``({'Null': 0}, 0)``.

    Raises:
        ValueError: inconsistent or empty inputs.
        FileNotFoundError: the annotation file does not exist.
        MissingDependencyError: pycocotools is not installed.
    """
    preds = np.asarray(preds)
    all_boxes = np.asarray(all_boxes, dtype=np.float64)
    img_id = np.asarray(img_id).reshape(-1).astype(np.int64)
    if preds.ndim != 3 or preds.shape[2] != 3 or all_boxes.shape != (len(preds), 6) or len(img_id) != len(preds):
        raise ValueError(f"evaluate expects preds N×J×3, all_boxes N×6 and N image ids; got {preds.shape}, "
                         f"{all_boxes.shape} and {img_id.shape}")
    if len(preds) == 0:
        raise EvaluationError("evaluate: no predictions to evaluate (the data set yielded no person boxes)")

    scores = rescore(preds[:, :, 2], all_boxes[:, 5], settings.in_vis_thre)
    # The reference's call: COCO sigmas, every joint counted (no in_vis_thre).
    keep = oks_nms_per_image(preds, scores, all_boxes[:, 4], img_id, settings.oks_thre, sigmas=COCO_SIGMAS)
    logger.info("OKS-NMS kept %d of %d person boxes over %d images",
                len(keep), len(preds), len(np.unique(img_id)))

    os.makedirs(output_dir, exist_ok=True)
    res_file = os.path.join(output_dir, RESULTS_FILE)
    write_results(res_file, evaluation_entries(preds[keep], scores[keep], all_boxes[keep], img_id[keep]))
    logger.info("keypoint results written to %s", res_file)

    if not settings.ann_file:
        return OrderedDict([('Null', 0)]), 0
    if not os.path.isfile(settings.ann_file):
        raise FileNotFoundError(f"annotation file {shown_path(settings.ann_file)} not found; set DATASET.ROOT "
                                f"(--dataset_path) and DATASET.TEST_SET to a COCO-format keypoint data set")
    stats = _coco_keypoint_stats(settings.ann_file, res_file, img_id)
    name_value = OrderedDict((name, float(value)) for name, value in zip(STATS_NAMES, stats))
    stats_file = os.path.join(output_dir, STATS_FILE)
    write_stats(stats_file, name_value)
    logger.info("keypoint stats written to %s", stats_file)
    return name_value, name_value['AP']


def evaluate_and_report(cfg: Any, preds: np.ndarray, output_dir: str, all_boxes: np.ndarray,
                        img_id: np.ndarray) -> float:
    """:func:`evaluate`, then the results folder logged and the ``AP: <value>`` line users grep for."""
    _, ap = evaluate(cfg, preds, output_dir, all_boxes, img_id)
    logger.info("coco eval results saved to %s", output_dir)
    print(f"AP: {ap}")
    return ap
