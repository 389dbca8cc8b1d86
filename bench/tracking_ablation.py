"""The paper's tracking ablation on synthetic videos: joint propagation and flow-based similarity on and off.

    python -m bench.tracking_ablation --videos DIR --output OUT --config_path demo_config.yaml
                                      (--eval_model_file CKPT | --label_poses) [--variants "no flow,both"]
                                      [--key value ...]

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
- ``both (1 frame kept)``: as ``both`` with ``KEEP_FRAMES 1`` (consecutive frames only);
- ``both (10 frames kept)``, ``both (no colours)``: as ``both`` with ``KEEP_FRAMES 10``, or without the
  colour stage (``APPEARANCE_THRE 0``); ``both (10 kept no colours)``: both, the defaults until 7 December 2026.

A box's pose does not depend on the variant, so each (frame, box) goes through the network once
for all variants (:class:`PoseMemo`); the tracking itself runs in full for each. Speed is
``bench/tracking_speed.py``'s concern.

``--label_poses`` replaces the network by the videos' labels (:class:`LabelPoses`: in each box the
labelled person with the most joints in sight inside it, as a good network would see), so that the
figures measure the tracker alone. On the family of scenes (``--scenario family``) the figures are
also given per kind of scene (``famNNN_<kind>``).
"""
import argparse
import contextlib
import hashlib
import io
import logging
import os
import sys
from collections import defaultdict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

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
from src.tracking.tracker import Estimator, PoseTracker, TrackSettings
from src.tracking.tracks_file import write_tracks
from src.tracking.video import FrameBoxes, FrameSource
from src.utils.cli import run_cli, setup_logging
from src.utils.jsonio import read_json

VARIANTS: Dict[str, Dict[str, object]] = {
    "no flow": {"propagate_boxes": False, "similarity": "oks"},
    "flow similarity": {"propagate_boxes": False, "similarity": "flow_oks"},
    "propagated boxes": {"propagate_boxes": True, "similarity": "oks"},
    "both": {},
    "both (1 frame kept)": {"keep_frames": 1},
    "both (10 frames kept)": {"keep_frames": 10},
    "both (no colours)": {"appearance_thre": 0.0},
    "both (10 kept no colours)": {"keep_frames": 10, "appearance_thre": 0.0},
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


#: The label oracle's joint scores: in sight (visibility 2), hidden (1); outside the frame 0.
LABEL_SEEN, LABEL_HIDDEN = 0.9, 0.4


class LabelPoses:
    """The estimator a good network would be on a labelled synthetic video: in each box the labelled person with
    the most joints in sight inside it, joints in sight scored ``LABEL_SEEN``, hidden ones ``LABEL_HIDDEN``,
    outside the frame 0; nobody (joints and score 0) where no one shows two joints. Frames are known by their
    pixels (the frames of ``frames_dir``, labelled by ``ann_file``)."""

    def __init__(self, frames_dir: str, ann_file: str, in_vis_thre: float):
        doc = read_json(ann_file, "annotation file")
        by_image: Dict[int, List] = defaultdict(list)
        for ann in doc["annotations"]:
            by_image[ann["image_id"]].append(ann["keypoints"])
        self.in_vis_thre = in_vis_thre
        self._labels: Dict[bytes, np.ndarray] = {}
        for frame in FrameSource(frames_dir):
            kpts = np.asarray(by_image.get(frame.image_id, []), np.float64).reshape(-1, 17, 3)
            self._labels[hashlib.blake2b(np.ascontiguousarray(frame.image), digest_size=16).digest()] = kpts

    def estimate(self, image: np.ndarray, boxes: np.ndarray, box_scores: np.ndarray) -> Poses:
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        kpts = self._labels[hashlib.blake2b(np.ascontiguousarray(image), digest_size=16).digest()]
        poses = np.zeros((len(boxes), 17, 3))
        if len(kpts):
            x, y, w, h = (boxes[:, k, None, None] for k in range(4))
            inside = ((kpts[None, :, :, 0] >= x) & (kpts[None, :, :, 0] <= x + w) & (kpts[None, :, :, 1] >= y)
                      & (kpts[None, :, :, 1] <= y + h))
            shown = (inside & (kpts[None, :, :, 2] == 2)).sum(axis=2)          # boxes × labelled people
            best = np.argmax(shown, axis=1)
            for i in np.flatnonzero(shown[np.arange(len(boxes)), best] >= 2):
                poses[i] = kpts[best[i]]
                poses[i, :, 2] = np.select([kpts[best[i], :, 2] == 2, kpts[best[i], :, 2] == 1],
                                           [LABEL_SEEN, LABEL_HIDDEN], 0.0)
        return Poses(poses, rescore(poses[:, :, 2], np.asarray(box_scores), self.in_vis_thre),
                     boxes[:, 2] * boxes[:, 3] * 1.25 ** 2)


def scene_kind(name: str) -> str:
    """The kind of scene of a sequence: ``famNNN_<kind>``'s kind, else ``all``."""
    return name.split("_", 1)[1] if name.startswith("fam") and "_" in name else "all"


def folder_name(variant: str) -> str:
    """The variant's folder under the output: ``both (1 frame kept)`` -> ``both_1_frame_kept``."""
    return "_".join(variant.replace("(", " ").replace(")", " ").split())


def run_variant(variant: str, settings: TrackSettings, estimator_of: Callable[[str], Estimator], flow_method: str,
                videos: str, names: Sequence[str], output: str, image_thre: float, model_file: str) -> List[str]:
    """Tracks every sequence with ``settings``, its poses from ``estimator_of(sequence name)``; returns the tracks
    files (``output/<variant>/<name>/tracks.json``)."""
    tracks_files = []
    for name in names:
        tracker = PoseTracker(settings, estimator_of(name), make_flow(flow_method) if settings.uses_flow else None)
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
    parser.add_argument("--label_poses", action="store_true",
                        help="poses from the videos' labels instead of a network (the tracker alone)")
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
    base = TrackSettings.from_config(cfg)
    names = sorted(os.path.splitext(n)[0] for n in os.listdir(os.path.join(args.videos, ANNOTATIONS_DIR)))
    if args.label_poses:
        model_file = "labels"
        oracles = {name: LabelPoses(os.path.join(args.videos, FRAMES_DIR, name),
                                    os.path.join(args.videos, ANNOTATIONS_DIR, name + ".json"), base.in_vis_thre)
                   for name in names}
        estimator_of, estimated = (lambda name: oracles[name].estimate), (lambda: "no")
    else:
        model_file = require_model_file(cfg, "track with")
        memo = PoseMemo(PoseEstimator.from_config(cfg, load_network(cfg, model_file), pad_batches=True))
        estimator_of, estimated = (lambda name: memo.estimate), (lambda: memo.boxes_estimated)
    gt_dir = os.path.join(args.videos, POSETRACK_DIR)
    posetrack = os.path.isdir(gt_dir)
    joint_thre = float(cfg.TRACK.POSETRACK_JOINT_THRE)
    kinds = sorted({scene_kind(name) for name in names})
    people_rows, ap_rows, mota_rows, kind_rows = [], [], [], defaultdict(list)
    result = {}
    for variant in variants:
        tracks_files = run_variant(variant, base._replace(**VARIANTS[variant]), estimator_of, cfg.TRACK.FLOW,
                                   args.videos, names, args.output, float(cfg.TEST.IMAGE_THRE), model_file)
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
        if len(kinds) > 1:
            kind_rows[variant] = kind_figures(kinds, names, gt_files, tracks_files,
                                              os.path.join(args.output, folder_name(variant)),
                                              gt_dir if posetrack else "", joint_thre)
    print(f"{len(names)} sequences, {result['people']} labelled people; {estimated()} boxes through the network")
    print(f"{'variant':<20} {'MOTA':>6} {'IDF1':>6} {'IDsw':>5} {'FP':>5} {'misses':>6} {'AP':>6}"
          + (f" {'PT AP':>7} {'PT MOTA':>7}" if posetrack else ""))
    print("\n".join(people_rows))
    if posetrack:
        header = f"{'':<20} " + " ".join(f"{g:>5}" for g in GROUPS)
        print(f"PoseTrack AP, PCKh@0.5 (joints over {joint_thre}):\n{header}\n" + "\n".join(ap_rows))
        print(f"PoseTrack MOTA:\n{header}\n" + "\n".join(mota_rows))
    if kind_rows:
        print(f"per kind of scene:\n{'kind':<12} {'variant':<20} {'MOTA':>6} {'IDF1':>6} {'IDsw':>5}"
              + (f" {'PT MOTA':>7}" if posetrack else ""))
        for k, kind in enumerate(kinds):
            for variant in variants:
                print(f"{kind:<12} {variant:<20} {kind_rows[variant][k]}")
    return 0


def kind_figures(kinds: Sequence[str], names: Sequence[str], gt_files: Sequence[str], tracks_files: Sequence[str],
                 folder: str, posetrack_dir: str, joint_thre: float) -> List[str]:
    """Per kind of scene, its row of the per-kind table: people MOTA, IDF1, ID switches (and PoseTrack MOTA where
    ``posetrack_dir`` holds the ground truth; the predictions are those under ``folder/posetrack``)."""
    rows = []
    for kind in kinds:
        chosen = [i for i, name in enumerate(names) if scene_kind(name) == kind]
        with contextlib.redirect_stdout(io.StringIO()):      # score() prints its table; only the totals here
            result = score([gt_files[i] for i in chosen], [tracks_files[i] for i in chosen],
                           os.path.join(folder, "kinds", kind))
        row = f"{result['MOTA']:6.3f} {result['IDF1']:6.3f} {result['ID switches']:5d}"
        if posetrack_dir:
            benchmark = score_files([os.path.join(posetrack_dir, names[i] + ".json") for i in chosen],
                                    [os.path.join(folder, "posetrack", names[i] + ".json") for i in chosen],
                                    os.path.join(folder, "kinds", kind))
            row += f" {benchmark.total_mota:7.1f}"
        rows.append(row)
    return rows


if __name__ == "__main__":
    sys.exit(run_cli(main))
