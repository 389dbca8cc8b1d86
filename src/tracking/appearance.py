"""A cheap appearance cue: the colours of a person's torso, to give a track its id back where its pose cannot.

A person who walks out of the frame and comes back, or stays hidden while the remembered pose moves on by
the track's velocity, reappears where no remembered pose is. Their clothes have not changed: the tracker's
second association stage (:class:`src.tracking.tracker.PoseTracker`) compares the colours of each person
left without an id with those of the tracks lost in the last ``TRACK.KEEP_FRAMES`` frames.

The colours are a hue-saturation-value histogram (:data:`BINS`) of the torso: the box of the confident
shoulders and hips (widened to half its height where it is narrower: a person seen from the side, or
half out of the frame), the part of a person least often their background or a limb. A track's colours are an
average over the frames it was seen in unhidden (:func:`clear_view`), so that an occluder's colours do not
enter them. Two histograms compare by their Bhattacharyya coefficient, ``Σ sqrt(p q)``, 1 for equal ones.

Symbols: N people, J joints, B histogram bins. Boxes ``[x, y, w, h]`` and poses ``[x, y, score]`` in image
pixels.
"""
from typing import Sequence, Tuple

import cv2
import numpy as np

from src.tracking.boxes import box_iou

#: Histogram bins of hue, saturation and value (OpenCV's 8-bit HSV: hue 0-179).
BINS: Tuple[int, int, int] = (8, 4, 4)
#: Joints whose box is the torso, by name (COCO's and PoseTrack's both have them).
TORSO_JOINTS: Tuple[str, ...] = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
#: Fewest confident torso joints, and fewest pixels, for a histogram.
MIN_TORSO_JOINTS, MIN_PIXELS = 2, 16
#: The torso box is widened about its centre to at least this share of its height.
MIN_TORSO_WIDTH = 0.5
#: A person's box overlapping another's by more IoU than this is not seen clearly.
CLEAR_IOU = 0.1


def torso_indices(keypoint_names: Sequence[str]) -> np.ndarray:
    """Indices of :data:`TORSO_JOINTS` among the joints ``keypoint_names``."""
    return np.array([list(keypoint_names).index(name) for name in TORSO_JOINTS])


def colour_histograms(image: np.ndarray, poses: np.ndarray, torso: np.ndarray, score_thre: float) -> np.ndarray:
    """The torso colour histogram of each person.

    Args:
        image: H×W×3 uint8 BGR frame.
        poses: N×J×3 poses.
        torso: Indices of the torso joints (:func:`torso_indices`).
        score_thre: Joints scoring above this are confident.

    Returns:
        N×B float64 histograms summing to 1; rows of NaN where fewer than ``MIN_TORSO_JOINTS`` torso joints are
        confident or the torso box holds fewer than ``MIN_PIXELS`` pixels of the frame.
    """
    poses = np.asarray(poses, np.float64)
    out = np.full((len(poses), int(np.prod(BINS))), np.nan)
    if not len(poses):
        return out
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    height, width = image.shape[:2]
    for i, pose in enumerate(poses[:, torso]):
        confident = pose[pose[:, 2] > score_thre, :2]
        if len(confident) < MIN_TORSO_JOINTS:
            continue
        (x0, y0), (x1, y1) = confident.min(axis=0), confident.max(axis=0)
        half = max(x1 - x0, MIN_TORSO_WIDTH * (y1 - y0)) / 2
        x0, x1 = np.floor((x0 + x1) / 2 - half), np.ceil((x0 + x1) / 2 + half)
        y0, y1 = np.floor(y0), np.ceil(y1)
        x0, x1 = int(np.clip(x0, 0, width)), int(np.clip(x1, 0, width))
        y0, y1 = int(np.clip(y0, 0, height)), int(np.clip(y1, 0, height))
        if (x1 - x0) * (y1 - y0) < MIN_PIXELS:
            continue
        hist = cv2.calcHist([hsv[y0:y1, x0:x1]], [0, 1, 2], None, list(BINS), [0, 180, 0, 256, 0, 256])
        out[i] = hist.reshape(-1) / max(float(hist.sum()), 1.0)
    return out


def clear_view(boxes: np.ndarray) -> np.ndarray:
    """N flags: the person's box overlaps no other's by more than ``CLEAR_IOU`` (nobody hides part of them)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if len(boxes) < 2:
        return np.ones(len(boxes), bool)
    iou = box_iou(boxes, boxes)
    np.fill_diagonal(iou, 0.0)
    return iou.max(axis=1) <= CLEAR_IOU


def colour_similarity(current: np.ndarray, remembered: np.ndarray) -> np.ndarray:
    """N×M Bhattacharyya coefficients of N histograms against M (0 where either is NaN)."""
    current, remembered = np.asarray(current, np.float64), np.asarray(remembered, np.float64)
    out = np.sqrt(np.clip(current, 0, None)) @ np.sqrt(np.clip(remembered, 0, None)).T
    return np.nan_to_num(out, nan=0.0)
