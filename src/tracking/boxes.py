"""Person boxes for tracking: boxes around (propagated) joints, box IoU and box NMS.

Symbols: M people, J joints, N boxes. Boxes are N×4 ``[x, y, w, h]`` in image pixels; poses
M×J×3 ``[x, y, score]``.
"""
from typing import Optional, Sequence, Tuple

import numpy as np

#: Boxes narrower or lower than this (pixels, after clipping to the frame) are dropped.
MIN_BOX_SIDE = 4.0


def joint_boxes(poses: np.ndarray, score_thre: float, enlarge: float,
                frame_size: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
    """The box of each pose's confident joints, enlarged and clipped to the frame.

    The paper's candidate box from propagated joints: the tight box of the joints, each side
    grown by ``enlarge`` (0.15: 15 % wider and taller) about its centre.

    Args:
        poses: M×J×3 ``[x, y, score]``.
        score_thre: Joints with a score above this count (``TEST.IN_VIS_THRE``).
        enlarge: Relative growth of width and height.
        frame_size: ``[W, H]`` of the frame.

    Returns:
        ``(boxes K×4, kept K)``: the boxes of the poses with at least two counted joints and a
        box of at least ``MIN_BOX_SIDE`` pixels inside the frame, and their indices into ``poses``.
    """
    poses = np.asarray(poses, dtype=np.float64)
    if poses.size == 0:
        return np.zeros((0, 4)), np.zeros(0, dtype=np.int64)
    counted = poses[:, :, 2] > score_thre
    valid = np.flatnonzero(counted.sum(axis=1) >= 2)
    xy = np.where(counted[valid, :, None], poses[valid, :, :2], np.nan)
    low, high = np.nanmin(xy, axis=1), np.nanmax(xy, axis=1)   # K×2 [x, y]
    centre, half = (low + high) / 2, (high - low) * (1 + enlarge) / 2
    size = np.asarray(frame_size, dtype=np.float64)
    top_left = np.clip(centre - half, 0, size)
    boxes = np.concatenate([top_left, np.clip(centre + half, 0, size) - top_left], axis=1)
    big_enough = (boxes[:, 2] >= MIN_BOX_SIDE) & (boxes[:, 3] >= MIN_BOX_SIDE)
    return boxes[big_enough], valid[big_enough]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """N×M intersection over union of N×4 and M×4 ``[x, y, w, h]`` boxes (0 for empty unions)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ix = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2]) - np.maximum(a[:, None, 0],
                                                                                               b[None, :, 0])
    iy = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3]) - np.maximum(a[:, None, 1],
                                                                                               b[None, :, 1])
    inter = np.clip(ix, 0, None) * np.clip(iy, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def box_nms(boxes: np.ndarray, scores: np.ndarray, iou_thre: float,
            secondary: Optional[np.ndarray] = None) -> np.ndarray:
    """Greedy box NMS: boxes visited by descending score (stable); each kept box drops the later
    ones it overlaps by IoU > ``iou_thre``.

    Args:
        boxes: N×4 boxes; scores: N scores.
        iou_thre: Overlap above which a later box is dropped.
        secondary: N flags; flagged boxes are visited after all the others (whatever their
            scores), so they only fill in where no other box is. The tracker flags propagated
            boxes: they complement the detector's, as in the paper.

    Returns:
        Indices of the kept boxes in visiting order (int64).
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    later = np.zeros(len(scores), bool) if secondary is None else np.asarray(secondary, bool)
    order = np.lexsort((-scores, later))
    overlap = box_iou(np.asarray(boxes)[order], np.asarray(boxes)[order]) > iou_thre
    removed = np.zeros(len(order), dtype=bool)
    for i in range(len(order)):
        if not removed[i]:
            removed[i + 1:] |= overlap[i, i + 1:]
    return order[~removed]
