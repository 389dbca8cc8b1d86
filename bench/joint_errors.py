"""Per-joint errors of an evaluation's predictions, in heatmap pixels of each person's crop.

    python -m bench.joint_errors --results RUN/results/keypoints_results.json
                                 [--config_path demo_config.yaml] [--ann FILE] [--min_oks 0.1]

Each predicted person is matched to the labelled person of the same image with which it has the
highest OKS (COCO's definition: the truth's visible joints and area). A joint's error is its offset
from the truth divided by the size of a heatmap pixel of the truth's crop (the crop eval.py would
take from the truth's box, not clipped to the image, at ``MODEL.IMAGE_SIZE`` and
``POSE_RESNET.HEATMAP_SIZE``), so the figures compare directly with ``bench/heatmap_ceiling.py``.
Matches below ``--min_oks`` (false alarms) are left out of the joint figures. Prints the share of
predictions with OKS above 0.5, then per joint: the number of labelled joints, the median distance,
the medians of the signed x and y offsets (a systematic shift shows there) and the 90th percentile
of the distance (gross misplacements).
"""
import argparse
import os
import sys
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from src.data.annotations import read_annotations
from src.evaluate.results import read_results
from src.constants import COCO_KEYPOINT_NAMES, PIXEL_STD
from src.evaluate.coco_eval import default_ann_file
from src.errors import UserError
from src.utils.cli import run_cli
from src.model_utils.config import get_config
from src.utils.nms import oks_iou
from src.utils.transform import box_to_center_scale


def coco_oks(pred: np.ndarray, truth: np.ndarray, area: float) -> float:
    """OKS of J×2 ``pred`` against J×3 ``truth`` as COCOeval computes it.

    COCOeval uses the truth's area and visible joints: :func:`oks_iou` with both areas the truth's
    and every predicted joint counted.
    """
    counted = np.column_stack([pred, np.ones(len(pred))])
    return float(oks_iou(truth, counted[None], area, [area], in_vis_thre=0)[0])


def joint_errors(results: List[Dict], annotations: Dict, image_size: Sequence[int],
                 heatmap_size: Sequence[int], min_oks: float) -> Tuple[np.ndarray, List[np.ndarray]]:
    """Best OKS of each prediction (P), and per joint the N×2 ``(x, y)`` offsets in heatmap pixels.

    Args:
        results: COCO keypoint results (``image_id``, ``keypoints`` of J×3 numbers), image pixels.
        annotations: a COCO keypoint annotation file's content.
        image_size, heatmap_size: ``[W, H]`` of the network input and output.
        min_oks: best matches below this are left out of the offsets.
    """
    truths = defaultdict(list)
    for ann in annotations["annotations"]:
        keypoints = np.asarray(ann.get("keypoints", []), dtype=np.float64).reshape(-1, 3)
        if not ann.get("iscrowd", 0) and len(keypoints) and (keypoints[:, 2] > 0).any():
            truths[ann["image_id"]].append((keypoints, float(ann["area"]), ann["bbox"]))
    aspect = image_size[0] / image_size[1]
    best_oks, offsets = [], [[] for _ in COCO_KEYPOINT_NAMES]
    for result in results:
        pred = np.asarray(result["keypoints"], dtype=np.float64).reshape(-1, 3)[:, :2]
        scored = [(coco_oks(pred, kp, area), kp, bbox) for kp, area, bbox in truths[result["image_id"]]]
        if not scored:
            best_oks.append(0.0)
            continue
        oks, truth, bbox = max(scored, key=lambda item: item[0])
        best_oks.append(oks)
        if oks < min_oks:
            continue
        _, scale = box_to_center_scale(np.asarray([bbox], dtype=np.float64), aspect)
        pixel = scale[0] * PIXEL_STD / np.asarray(heatmap_size, dtype=np.float64)  # image px per heatmap px
        for j in np.flatnonzero(truth[:, 2] > 0):
            offsets[j].append((pred[j] - truth[j, :2]) / pixel)
    return np.asarray(best_oks), [np.asarray(o).reshape(-1, 2) for o in offsets]


def main(argv: Optional[Sequence[str]]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", required=True, help="keypoints_results.json written by eval.py")
    parser.add_argument("--ann", default="", help="keypoint annotations (default: the configured val set)")
    parser.add_argument("--min_oks", type=float, default=0.1, help="matches below this are left out")
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    cfg = get_config(rest)
    ann_file = args.ann or default_ann_file(cfg)
    for path in (args.results, ann_file):
        if not os.path.isfile(path):
            raise UserError(f"file not found: {path}")
    results = read_results(args.results)
    annotations = read_annotations(ann_file)
    best_oks, offsets = joint_errors(results, annotations, cfg.MODEL.IMAGE_SIZE,
                                     cfg.POSE_RESNET.HEATMAP_SIZE, args.min_oks)
    every = np.concatenate(offsets)
    if len(every) == 0:
        raise UserError(f"no prediction in {args.results} matches a labelled person of {ann_file} with OKS "
                        f">= {args.min_oks}: are they of the same dataset?")
    print(f"{len(best_oks)} predictions, {np.mean(best_oks > 0.5):.1%} with OKS > 0.5; "
          f"{len(every)} joints, median distance {np.median(np.hypot(*every.T)):.2f} heatmap px")
    print(f"{'joint':14s} {'n':>5s} {'median':>7s} {'med dx':>7s} {'med dy':>7s} {'p90':>6s}")
    for name, off in zip(COCO_KEYPOINT_NAMES, offsets):
        if len(off) == 0:
            print(f"{name:14s} {0:5d}")  # never labelled in the matched people
            continue
        dist = np.hypot(*off.T)
        print(f"{name:14s} {len(off):5d} {np.median(dist):7.2f} {np.median(off[:, 0]):+7.2f} "
              f"{np.median(off[:, 1]):+7.2f} {np.percentile(dist, 90):6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
