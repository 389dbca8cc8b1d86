"""The paper's tracking ablation on synthetic videos: joint propagation and flow-based similarity on and off.

    python bench/tracking_ablation.py --videos DIR --output OUT --config_path demo_config.yaml
                                      --eval_model_file CKPT [--key value ...]

``DIR`` is written by ``python -m src.synthetic_video``. The network is loaded once; every variant
tracks every sequence with its detections (``DIR/detections``) through ``track.py``'s loop and
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

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import track  # noqa: E402  pylint: disable=wrong-import-position
from src.network.weights import require_model_file  # noqa: E402  pylint: disable=wrong-import-position
from src.model import get_pose_net  # noqa: E402  pylint: disable=wrong-import-position
from src.utils.cli import run_cli, setup_logging  # noqa: E402  pylint: disable=wrong-import-position
from src.model_utils.config import get_config  # noqa: E402  pylint: disable=wrong-import-position
from src.model_utils.device_adapter import init_context  # noqa: E402  pylint: disable=wrong-import-position
from src.synthetic_video import (  # noqa: E402  pylint: disable=wrong-import-position
    ANNOTATIONS_DIR, DETECTIONS_DIR, FRAMES_DIR)
from src.tracking.estimate import network_estimator, padded_count  # noqa: E402  pylint: disable=wrong-import-position
from src.tracking.evaluate import score  # noqa: E402  pylint: disable=wrong-import-position
from src.tracking.flow import make_flow  # noqa: E402  pylint: disable=wrong-import-position
from src.tracking.tracker import PoseTracker, TrackSettings  # noqa: E402  pylint: disable=wrong-import-position
from src.tracking.video import FrameBoxes, FrameSource  # noqa: E402  pylint: disable=wrong-import-position

VARIANTS: Dict[str, Dict[str, object]] = {
    "no flow": {"propagate_boxes": False, "similarity": "oks"},
    "flow similarity": {"propagate_boxes": False, "similarity": "flow_oks"},
    "propagated boxes": {"propagate_boxes": True, "similarity": "oks"},
    "both": {},
    "both, 1 frame kept": {"keep_frames": 1},
}


def warm_up(estimate, image_size: Sequence[int], batch_size: int) -> None:
    """Runs the estimator once on every padded batch shape, so no timed frame compiles a graph."""
    image = np.zeros((int(image_size[1]) * 2, int(image_size[0]) * 2, 3), np.uint8)
    count = 1
    while count <= batch_size:
        estimate(image, np.tile([[0.0, 0.0, 10.0, 20.0]], (count, 1)), np.ones(count))
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
    init_context(cfg)
    net = get_pose_net(cfg, is_train=False, ckpt_path=model_file)
    net.set_train(False)
    estimate = network_estimator(cfg, net)
    warm_up(estimate, cfg.MODEL.IMAGE_SIZE, int(cfg.TEST.BATCH_SIZE))
    base = TrackSettings.from_config(cfg)
    names = sorted(os.path.splitext(n)[0] for n in os.listdir(os.path.join(args.videos, ANNOTATIONS_DIR)))
    rows: List[str] = []
    for variant in args.variants.split(","):
        settings = base._replace(**VARIANTS[variant])
        gt_files, tracks_files, frames_done, seconds = [], [], 0, 0.0
        for name in names:
            tracker = PoseTracker(settings, estimate, make_flow(cfg.TRACK.FLOW) if settings.uses_flow else None)
            source = FrameSource(os.path.join(args.videos, FRAMES_DIR, name))
            boxes = FrameBoxes(os.path.join(args.videos, DETECTIONS_DIR, name + ".json"), float(cfg.TEST.IMAGE_THRE))
            frames, elapsed = track.track_frames(tracker, source, boxes, None, float(cfg.TEST.IN_VIS_THRE))
            out_dir = os.path.join(args.output, variant.replace(" ", "_").replace(",", ""), name)
            os.makedirs(out_dir, exist_ok=True)
            tracks_files.append(os.path.join(out_dir, track.TRACKS_FILE))
            track.write_tracks(tracks_files[-1], source.path, model_file, settings, cfg.TRACK.FLOW, frames)
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
