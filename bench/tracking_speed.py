"""Speed of pose tracking on a synthetic video: frames/s, where the time goes, and the graph compiles.

    python -m bench.tracking_speed --videos DIR [--sequence seq000] --config_path demo_config.yaml
                                   [--eval_model_file CKPT] [--in_turn] [--key value ...]

Tracks one sequence of ``python -m src.synthetic_video`` (its frames and detection file) through
``track.py``'s pipeline (:mod:`src.tracking.pipeline`, no video written) with the network of the
configuration: the checkpoint's weights, or random weights without ``--eval_model_file`` (the same
speed per box; but a random network's people score nothing and are not propagated, so pass
``--TRACK.MIN_SCORE 0`` to keep the detector's people). Nothing is compiled beforehand, so the
first frame of each batch shape pays graph mode's compile.

A frame's time runs from the end of the frame before, so it includes reading the frame. It is split into
flow (computing it; or, as ``track.py`` runs, waiting for the frame read and its flow computed ahead in a
background thread while the network ran on the frame before; ``--in_turn`` does without), crops (cutting
and normalising the boxes), network (the forward pass, one call for both halves of the flip test),
decoding (flip merge, maxima, back to the image) and matching (unification, ids), the rest being
"other" (box NMS, propagation, reading frames in turn); and each frame's batch is recorded: its boxes
padded to :func:`src.inference.estimator.padded_count`, so that every person of a frame goes through the
network in one batch of one of a few shapes. Prints one row per batch shape (frames; the first frame's
time, with the compile; the median and slowest of the later frames: a later frame as slow as the first
would be a new compile), the frames/s over all frames and over the frames after warm-up (each shape's
first frame left out), and where the time of those frames goes, ending with the line
``frames/s: <float>`` (after warm-up).
"""
import argparse
import os
import sys
import time
from collections import defaultdict
from types import SimpleNamespace
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from src.dataset_types import dataset_type
from src.inference.estimator import PoseEstimator
from src.inference.loading import load_network
from src.model_utils.config import get_config
from src.synthetic_video import DETECTIONS_DIR, FRAMES_DIR
from src.tracking.pipeline import build_tracker, track_frames
from src.tracking.tracker import TrackSettings
from src.tracking.video import FrameBoxes, FrameSource
from src.utils.cli import run_cli, setup_logging

#: The parts of a frame's time, in the order printed.
PARTS = ("flow", "crops", "network", "decoding", "matching", "other")


class Clock:
    """Seconds spent in wrapped callables, by part (and under ``boxes`` the boxes estimated), and the batch
    sizes the network was given."""

    def __init__(self):
        self.seconds: Dict[str, float] = defaultdict(float)
        self.batches: List[int] = []

    def wrap(self, owner: Any, name: str, part: str) -> None:
        """Times ``owner.name`` (a method or attribute callable) as ``part`` from now on."""
        inner: Callable = getattr(owner, name)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds[part] += time.perf_counter() - start

        setattr(owner, name, timed)


def frame_parts(clock: Clock, tracker_seconds: Dict[str, float], total: float) -> Dict[str, float]:
    """One frame's seconds by :data:`PARTS`, from the clock's and the tracker's counters (both of that frame)."""
    parts = {"flow": tracker_seconds["flow"], "crops": clock.seconds["crops"], "network": clock.seconds["network"],
             "decoding": clock.seconds["decoding"], "matching": tracker_seconds["matching"]}
    parts["other"] = max(0.0, total - sum(parts.values()))
    return parts


def summarise(records: Sequence[Dict[str, Any]]) -> List[str]:
    """The report's lines from the per-frame records (``seconds``, ``parts``, ``batch``, ``boxes``)."""
    shapes: Dict[int, List[float]] = defaultdict(list)
    warm = []
    for record in records:
        first = record["batch"] not in shapes
        shapes[record["batch"]].append(record["seconds"])
        if not first:
            warm.append(record)
    lines = [f"{'batch':>5} {'frames':>6} {'first ms':>9} {'later median ms':>15} {'later max ms':>12}"]
    for batch in sorted(shapes):
        times = np.array(shapes[batch]) * 1000
        later = times[1:]
        lines.append(f"{batch:5d} {len(times):6d} {times[0]:9.0f} "
                     + (f"{np.median(later):15.0f} {later.max():12.0f}" if len(later) else f"{'-':>15} {'-':>12}"))
    total = sum(r["seconds"] for r in records)
    lines.append(f"frames/s over all {len(records)} frames: {len(records) / total:.2f}")
    if warm:
        seconds = sum(r["seconds"] for r in warm)
        boxes = sum(r["boxes"] for r in warm)
        shares = {part: sum(r["parts"][part] for r in warm) for part in PARTS}
        lines.append(f"after warm-up ({len(warm)} frames, {boxes / len(warm):.1f} boxes a frame): "
                     f"{1000 * seconds / len(warm):.0f} ms a frame, {1000 * shares['network'] / max(boxes, 1):.1f} ms "
                     f"of network a box")
        lines.append("time: " + ", ".join(f"{part} {1000 * value / len(warm):.1f} ms ({100 * value / seconds:.0f} %)"
                                          for part, value in shares.items()))
        lines.append(f"frames/s: {len(warm) / seconds:.2f}")
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", required=True, help="folder written by python -m src.synthetic_video")
    parser.add_argument("--sequence", default="seq000", help="the sequence to track (default seq000)")
    parser.add_argument("--in_turn", action="store_true",
                        help="read each frame and compute its flow in turn, not ahead in a background thread")
    args, rest = parser.parse_known_args(argv)
    setup_logging()
    cfg = get_config(rest)
    net = load_network(cfg, cfg.TEST.MODEL_FILE)
    estimator = PoseEstimator.from_config(cfg, net, pad_batches=True)
    clock = Clock()
    clock.wrap(estimator, "crops", "crops")
    clock.wrap(estimator, "heatmaps", "network")
    estimator.decoder = SimpleNamespace(decode=estimator.decoder.decode)   # the decoder itself is frozen
    clock.wrap(estimator.decoder, "decode", "decoding")
    heatmaps = estimator.heatmaps

    def counted(crops: np.ndarray):
        clock.batches.append(len(crops))
        return heatmaps(crops)

    estimator.heatmaps = counted
    estimate = estimator.estimate

    def counted_boxes(image: np.ndarray, boxes: np.ndarray, box_scores: np.ndarray):
        clock.seconds["boxes"] += len(boxes)
        return estimate(image, boxes, box_scores)

    estimator.estimate = counted_boxes
    settings = TrackSettings.from_config(cfg)
    tracker = build_tracker(settings, estimator, cfg.TRACK.FLOW, dataset_type(cfg).keypoints)
    records: List[Dict[str, Any]] = []
    track = tracker.track
    mark: Dict[str, Any] = {}   # the end of the frame before: its time and the tracker's counters then

    def timed_track(image, boxes, scores, flow):
        clock.seconds.clear()
        clock.batches.clear()
        people = track(image, boxes, scores, flow)
        end = time.perf_counter()
        total = end - mark["time"]
        spent = {key: value - mark["seconds"][key] for key, value in tracker.seconds.items()}
        records.append({"seconds": total, "parts": frame_parts(clock, spent, total),
                        "batch": max(clock.batches, default=0), "boxes": int(clock.seconds["boxes"])})
        mark.update(time=end, seconds=dict(tracker.seconds))
        return people

    tracker.track = timed_track
    source = FrameSource(os.path.join(args.videos, FRAMES_DIR, args.sequence))
    boxes = FrameBoxes(os.path.join(args.videos, DETECTIONS_DIR, args.sequence + ".json"), float(cfg.TEST.IMAGE_THRE))
    mark.update(time=time.perf_counter(), seconds=dict(tracker.seconds))
    track_frames(tracker, source, boxes, None, settings.in_vis_thre, read_ahead=not args.in_turn)
    width, height = estimator.settings.image_size
    flip = ", flip test" if estimator.settings.flip_test else ""
    weights = "checkpoint" if cfg.TEST.MODEL_FILE else "random"
    print(f"{args.sequence}: {len(records)} frames; ResNet-{cfg.POSE_RESNET.NUM_LAYERS} {width}x{height}{flip}, "
          f"{weights} weights; batches padded to powers of two up to {estimator.settings.batch_size}")
    for line in summarise(records):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
