"""The paper's tracking ablation on synthetic videos: joint propagation and flow-based similarity on and off.

    python -m bench.tracking_ablation --videos DIR --output OUT --config_path demo_config.yaml
                                      --eval_model_file CKPT [--key value ...]

``DIR`` is written by ``python -m src.synthetic_video``. The network is loaded once; every variant
tracks every sequence with its detections (``DIR/detections``) through ``track.py``'s pipeline
(:mod:`src.tracking.pipeline`) and
writes ``OUT/<variant>/<sequence>/tracks.json``, scored by ``python -m src.tracking.evaluate``'s
``score``. Prints one row per variant: MOTA, IDF1, ID switches, false positives, misses, keypoint
AP, and frames/s over all sequences (the pose network's graph compiled beforehand on every batch
shape, so the rate is the steady one). Variants (``TRACK.*`` overrides of the configuration):

- ``no flow``: detector boxes only, OKS of poses where they were seen;
- ``flow similarity``: detector boxes only, OKS after moving the remembered poses along the flow;
- ``propagated boxes``: detector and propagated boxes, OKS without flow;
- ``both`` (the defaults): propagated boxes and flow-based OKS;
- ``both, 1 frame kept``: as ``both`` with ``KEEP_FRAMES 1`` (consecutive frames only).
"""
import argparse
import logging
import os
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np

from src.inference.estimator import PoseEstimator, padded_count
from src.inference.loading import load_network
from src.model_utils.config import get_config
from src.network.weights import require_model_file
from src.synthetic_video import ANNOTATIONS_DIR, DETECTIONS_DIR, FRAMES_DIR
from src.tracking.evaluate import score
from src.tracking.pipeline import build_tracker, track_frames
from src.tracking.tracker import TrackSettings
from src.tracking.tracks_file import TRACKS_FILE, write_tracks
from src.tracking.video import FrameBoxes, FrameSource
from src.utils.cli import run_cli, setup_logging

VARIANTS: Dict[str, Dict[str, object]] = {
    "no flow": {"propagate_boxes": False, "similarity": "oks"},
    "flow similarity": {"propagate_boxes": False, "similarity": "flow_oks"},
    "propagated boxes": {"propagate_boxes": True, "similarity": "oks"},
    "both": {},
    "both, 1 frame kept": {"keep_frames": 1},
}


def warm_up(estimator: PoseEstimator) -> None:
    """Runs the estimator once on every padded batch shape, so no timed frame compiles a graph."""
    width, height = estimator.settings.image_size
    image = np.zeros((height * 2, width * 2, 3), np.uint8)
    count, batch_size = 1, estimator.settings.batch_size
    while count <= batch_size:
        estimator.estimate(image, np.tile([[0.0, 0.0, 10.0, 20.0]], (count, 1)), np.ones(count))
        count = padded_count(count + 1, batch_size)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", required=True, help="folder written by python -m src.synthetic_video")
    parser.add_argument("--output", required=True, help="folder for the tracks and their evaluations")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated variant names")
    args, rest = parser.parse_known_args(argv)
    setup_logging(level=logging.WARNING)
    cfg = get_config(rest)
    model_file = require_model_file(cfg, "track with")
    net = load_network(cfg, model_file)
    estimator = PoseEstimator.from_config(cfg, net, pad_batches=True)
    warm_up(estimator)
    base = TrackSettings.from_config(cfg)
    names = sorted(os.path.splitext(n)[0] for n in os.listdir(os.path.join(args.videos, ANNOTATIONS_DIR)))
    rows: List[str] = []
    for variant in args.variants.split(","):
        settings = base._replace(**VARIANTS[variant])
        gt_files, tracks_files, frames_done, seconds = [], [], 0, 0.0
        for name in names:
            tracker = build_tracker(settings, estimator, cfg.TRACK.FLOW)
            source = FrameSource(os.path.join(args.videos, FRAMES_DIR, name))
            boxes = FrameBoxes(os.path.join(args.videos, DETECTIONS_DIR, name + ".json"), float(cfg.TEST.IMAGE_THRE))
            frames, elapsed = track_frames(tracker, source, boxes, None, settings.in_vis_thre)
            out_dir = os.path.join(args.output, variant.replace(" ", "_").replace(",", ""), name)
            os.makedirs(out_dir, exist_ok=True)
            tracks_files.append(os.path.join(out_dir, TRACKS_FILE))
            write_tracks(tracks_files[-1], source.path, model_file, settings, cfg.TRACK.FLOW, frames)
            gt_files.append(os.path.join(args.videos, ANNOTATIONS_DIR, name + ".json"))
            frames_done += len(frames)
            seconds += elapsed
        result = score(gt_files, tracks_files, os.path.join(args.output, variant.replace(" ", "_").replace(",", "")))
        rows.append(f"{variant:<20} {result['MOTA']:6.3f} {result['IDF1']:6.3f} {result['ID switches']:5d} "
                    f"{result['false positives']:5d} {result['misses']:6d} {result['AP']:6.3f} "
                    f"{frames_done / seconds:8.2f}")
    print(f"{len(names)} sequences, {frames_done} frames, {result['people']} labelled people")
    print(f"{'variant':<20} {'MOTA':>6} {'IDF1':>6} {'IDsw':>5} {'FP':>5} {'misses':>6} {'AP':>6} {'frames/s':>8}")
    for row in rows:
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
