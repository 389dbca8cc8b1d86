"""Optical flow for pose tracking: how far each OpenCV method moves joints from where they go.

    python -m bench.flow_methods --videos DIR [--rounds 3]

``DIR`` is written by ``python -m src.synthetic_video``. For every pair of consecutive frames, the
labelled joints of each person seen in both (visibility 2 in both frames) are moved along the flow
of the pair (``src.tracking.flow.propagate``) and compared with where the labels put them in the
second frame. Prints per method the median and 90th percentile of that distance in pixels, the
share of joints within 3 px, and the milliseconds per frame pair: the median over ``--rounds``
passes, the methods taken in turn inside each pass so that other load on the machine falls on all
of them alike. "no flow" (joints left where they were) is the baseline.
"""
import argparse
import os
import sys
import time
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

from src.data.annotations import read_annotations
from src.synthetic_video import ANNOTATIONS_DIR, FRAMES_DIR
from src.tracking.flow import propagate


def _finest(preset: int, level: int):
    """DIS's ``calc`` at ``preset`` with its flow computed at ``level`` of its pyramid (2^-level of the frame's size;
    the FAST and ULTRAFAST presets stop at 2)."""
    dis = cv2.DISOpticalFlow_create(preset)
    dis.setFinestScale(level)
    return dis.calc


METHODS = {
    "DIS ultrafast": lambda: cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST).calc,
    "DIS fast": lambda: cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST).calc,
    "DIS fast at 1/2": lambda: _finest(cv2.DISOPTICAL_FLOW_PRESET_FAST, 1),
    "DIS fast at 1/8": lambda: _finest(cv2.DISOPTICAL_FLOW_PRESET_FAST, 3),
    "DIS medium": lambda: cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc,
    "Farneback": lambda: (lambda a, b, _: cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 4, 15, 3, 5, 1.1, 0)),
}


def load_pairs(videos: str) -> List[tuple]:
    """(previous grey frame, grey frame, K×2 joints before, K×2 joints after) per frame pair."""
    pairs = []
    for name in sorted(os.listdir(os.path.join(videos, ANNOTATIONS_DIR))):
        doc = read_annotations(os.path.join(videos, ANNOTATIONS_DIR, name), "ground-truth file")
        joints: Dict[int, Dict[int, np.ndarray]] = defaultdict(dict)
        for ann in doc["annotations"]:
            joints[ann["image_id"]][ann["track_id"]] = np.asarray(ann["keypoints"], np.float64).reshape(-1, 3)
        images = sorted(doc["images"], key=lambda im: im["frame_index"])
        grey = [cv2.imread(os.path.join(videos, FRAMES_DIR, os.path.splitext(name)[0], im["file_name"]),
                           cv2.IMREAD_GRAYSCALE) for im in images]
        for k in range(1, len(images)):
            before, after = joints[images[k - 1]["id"]], joints[images[k]["id"]]
            src, dst = [], []
            for track in set(before) & set(after):
                seen = (before[track][:, 2] == 2) & (after[track][:, 2] == 2)
                src.append(before[track][seen, :2])
                dst.append(after[track][seen, :2])
            if src:
                pairs.append((grey[k - 1], grey[k], np.concatenate(src), np.concatenate(dst)))
    return pairs


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", required=True, help="folder written by python -m src.synthetic_video")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    pairs = load_pairs(args.videos)
    cv2.setNumThreads(1)
    times: Dict[str, List[float]] = defaultdict(list)
    errors: Dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name, make in METHODS.items():
            calc = make()
            dist, start = [], time.perf_counter()
            for previous, current, src, dst in pairs:
                moved = propagate(np.column_stack([src, np.ones(len(src))])[None], calc(previous, current, None))
                dist.append(np.linalg.norm(moved[0, :, :2] - dst, axis=1))
            times[name].append((time.perf_counter() - start) / len(pairs) * 1000)
            errors[name] = np.concatenate(dist)
    still = np.concatenate([np.linalg.norm(src - dst, axis=1) for _, _, src, dst in pairs])
    print(f"{len(pairs)} frame pairs, {len(still)} joints; one thread")
    print(f"{'method':<16} {'median px':>9} {'p90 px':>7} {'<=3 px':>7} {'ms/frame':>9}")
    print(f"{'no flow':<16} {np.median(still):9.2f} {np.percentile(still, 90):7.2f} {np.mean(still <= 3):7.1%}")
    for name, dist in errors.items():
        print(f"{name:<16} {np.median(dist):9.2f} {np.percentile(dist, 90):7.2f} {np.mean(dist <= 3):7.1%} "
              f"{np.median(times[name]):9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
