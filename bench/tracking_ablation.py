"""The paper's tracking ablation on synthetic videos: joint propagation and flow-based similarity on and off.

    python -m bench.tracking_ablation --videos DIR --output OUT --config_path demo_config.yaml
                                      --eval_model_file CKPT [--variants "no flow,both"] [--key value ...]

``DIR`` is written by ``python -m src.synthetic_video`` (with ``--posetrack`` for the benchmark's
metrics). The network is loaded once; every variant tracks every sequence with its detections
(``DIR/detections``) through ``track.py``'s pipeline (:mod:`src.tracking.pipeline`) and writes
``OUT/<variant>/<sequence>/tracks.json``, scored by ``python -m src.tracking.mot_eval``'s ``score``
(people: MOTA, IDF1, ID switches, false positives, misses, keypoint AP) and, where ``DIR/posetrack18``
holds PoseTrack ground truth, also written as PoseTrack predictions (joints over
``TRACK.POSETRACK_JOINT_THRE``, ``OUT/<variant>/posetrack/``) and scored by the benchmark's per-joint
AP and MOTA (:mod:`src.evaluate.posetrack_eval`). Variants (``TRACK.*`` overrides of the
configuration; the others keep it):

- ``no flow``: detector boxes only, OKS of poses where they were seen;
- ``flow similarity``: detector boxes only, OKS after moving the remembered poses along the flow;
- ``propagated boxes``: detector and propagated boxes, OKS without flow;
- ``both`` (the defaults): propagated boxes and flow-based OKS;
- ``both (1 frame kept)``: as ``both`` with ``KEEP_FRAMES 1`` (consecutive frames only).

A box's pose does not depend on the variant, so each (frame, box) goes through the network once
for all variants (:class:`PoseMemo`); the tracking itself runs in full for each. Speed is
``bench/tracking_speed.py``'s concern.
"""
import argparse
import hashlib
import logging
import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from src.constants import COCO_KEYPOINTS, TRACKS_FILE
from src.dataset_types import dataset_type
from src.evaluate.coco_eval import rescore
from src.evaluate.posetrack_eval import score_files
from src.evaluate.posetrack_metrics import grouped
from src.inference.estimator import PoseEstimator, Poses
from src.inference.loading import load_network
from src.model_utils.config import get_config
from src.network.weights import require_model_file
from src.synthetic_video import ANNOTATIONS_DIR, DETECTIONS_DIR, FRAMES_DIR, POSETRACK_DIR
from src.tracking.flow import make_flow
from src.tracking.mot_eval import score
from src.tracking.pipeline import track_frames
from src.tracking.posetrack import write_predictions
from src.tracking.tracker import PoseTracker, TrackSettings
from src.tracking.tracks_file import write_tracks
from src.tracking.video import FrameBoxes, FrameSource
from src.utils.cli import run_cli, setup_logging

VARIANTS: Dict[str, Dict[str, object]] = {
    "no flow": {"propagate_boxes": False, "similarity": "oks"},
    "flow similarity": {"propagate_boxes": False, "similarity": "flow_oks"},
    "propagated boxes": {"propagate_boxes": True, "similarity": "oks"},
    "both": {},
    "both (1 frame kept)": {"keep_frames": 1},
}
GROUPS = ("Head", "Shou", "Elb", "Wri", "Hip", "Knee", "Ankl", "Total")


class PoseMemo:
    """:meth:`PoseEstimator.estimate` remembered per (frame, box): the network runs once per distinct box.

    A box's joints do not depend on the other boxes of its frame or on its score; the person's score
    is the evaluation's rescoring of the remembered joints with the score given now.
    """

    def __init__(self, estimator: PoseEstimator):
        self.estimator = estimator
        self._poses: Dict[Tuple[bytes, bytes], Tuple[np.ndarray, float]] = {}
        self.boxes_estimated = 0

    def estimate(self, image: np.ndarray, boxes: np.ndarray, box_scores: np.ndarray) -> Poses:
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if len(boxes) == 0:
            return Poses(np.zeros((0, self.estimator.settings.num_joints, 3)), np.zeros(0), np.zeros(0))
        frame = hashlib.blake2b(np.ascontiguousarray(image), digest_size=16).digest()
        keys = [(frame, box.tobytes()) for box in boxes]
        new = [i for i, key in enumerate(keys) if key not in self._poses]
        if new:
            found = self.estimator.estimate(image, boxes[new], np.ones(len(new)))
            for i, pose, area in zip(new, found.poses, found.areas):
                self._poses[keys[i]] = (np.asarray(pose), float(area))
            self.boxes_estimated += len(new)
        poses = np.stack([self._poses[key][0] for key in keys])
        areas = np.array([self._poses[key][1] for key in keys])
        return Poses(poses, rescore(poses[:, :, 2], np.asarray(box_scores), self.estimator.settings.in_vis_thre),
                     areas)


def folder_name(variant: str) -> str:
    """The variant's folder under the output: ``both (1 frame kept)`` -> ``both_1_frame_kept``."""
    return "_".join(variant.replace("(", " ").replace(")", " ").split())


def run_variant(variant: str, settings: TrackSettings, memo: PoseMemo, flow_method: str, videos: str,
                names: Sequence[str], output: str, image_thre: float, model_file: str) -> List[str]:
    """Tracks every sequence with ``settings``; returns the tracks files (``output/<variant>/<name>/tracks.json``)."""
    tracks_files = []
    for name in names:
        tracker = PoseTracker(settings, memo.estimate, make_flow(flow_method) if settings.uses_flow else None)
        source = FrameSource(os.path.join(videos, FRAMES_DIR, name))
        boxes = FrameBoxes(os.path.join(videos, DETECTIONS_DIR, name + ".json"), image_thre)
        frames, _ = track_frames(tracker, source, boxes, None, settings.in_vis_thre)
        out_dir = os.path.join(output, folder_name(variant), name)
        os.makedirs(out_dir, exist_ok=True)
        tracks_files.append(os.path.join(out_dir, TRACKS_FILE))
        write_tracks(tracks_files[-1], source.path, model_file, settings, flow_method, frames)
    return tracks_files


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", required=True, help="folder written by python -m src.synthetic_video")
    parser.add_argument("--output", required=True, help="folder for the tracks and their evaluations")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated variant names")
    args, rest = parser.parse_known_args(argv)
    setup_logging(level=logging.WARNING)
    cfg = get_config(rest)
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant {unknown[0]!r}; known: {', '.join(VARIANTS)}")
    if dataset_type(cfg).keypoints != COCO_KEYPOINTS:
        parser.error(f"DATASET.DATASET {cfg.DATASET.DATASET}: the ablation scores COCO keypoints against the "
                     f"videos' COCO labels; give a network with COCO's joints (DATASET.DATASET coco)")
    model_file = require_model_file(cfg, "track with")
    memo = PoseMemo(PoseEstimator.from_config(cfg, load_network(cfg, model_file), pad_batches=True))
    base = TrackSettings.from_config(cfg)
    names = sorted(os.path.splitext(n)[0] for n in os.listdir(os.path.join(args.videos, ANNOTATIONS_DIR)))
    gt_dir = os.path.join(args.videos, POSETRACK_DIR)
    posetrack = os.path.isdir(gt_dir)
    joint_thre = float(cfg.TRACK.POSETRACK_JOINT_THRE)
    people_rows, ap_rows, mota_rows = [], [], []
    result = {}
    for variant in variants:
        tracks_files = run_variant(variant, base._replace(**VARIANTS[variant]), memo, cfg.TRACK.FLOW, args.videos,
                                   names, args.output, float(cfg.TEST.IMAGE_THRE), model_file)
        gt_files = [os.path.join(args.videos, ANNOTATIONS_DIR, name + ".json") for name in names]
        result = score(gt_files, tracks_files, os.path.join(args.output, folder_name(variant)))
        row = (f"{variant:<20} {result['MOTA']:6.3f} {result['IDF1']:6.3f} {result['ID switches']:5d} "
               f"{result['false positives']:5d} {result['misses']:6d} {result['AP']:6.3f}")
        if posetrack:
            folder = os.path.join(args.output, folder_name(variant), "posetrack")
            for name, tracks in zip(names, tracks_files):
                write_predictions(tracks, folder, os.path.join(gt_dir, name + ".json"), joint_thre)
            benchmark = score_files([os.path.join(gt_dir, name + ".json") for name in names], [folder], folder)
            row += f" {benchmark.total_ap:7.1f} {benchmark.total_mota:7.1f}"
            ap_rows.append(f"{variant:<20} " + " ".join(f"{v:5.1f}" for v in grouped(benchmark.ap)))
            mota_rows.append(f"{variant:<20} " + " ".join(f"{v:5.1f}" for v in grouped(benchmark.mota)))
        people_rows.append(row)
    print(f"{len(names)} sequences, {result['people']} labelled people; {memo.boxes_estimated} boxes through the "
          f"network")
    print(f"{'variant':<20} {'MOTA':>6} {'IDF1':>6} {'IDsw':>5} {'FP':>5} {'misses':>6} {'AP':>6}"
          + (f" {'PT AP':>7} {'PT MOTA':>7}" if posetrack else ""))
    print("\n".join(people_rows))
    if posetrack:
        header = f"{'':<20} " + " ".join(f"{g:>5}" for g in GROUPS)
        print(f"PoseTrack AP, PCKh@0.5 (joints over {joint_thre}):\n{header}\n" + "\n".join(ap_rows))
        print(f"PoseTrack MOTA:\n{header}\n" + "\n".join(mota_rows))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
