"""PoseTrack 2018's joints: its keypoint set (the ``posetrack`` data set type's), and COCO's joints in its order.

PoseTrack 2018 lists 17 keypoints in COCO's slots, but slots 1 and 2 (COCO's eyes) hold ``head_bottom`` (the
upper neck) and ``head_top``, and the ears (3, 4) are never labelled. So COCO's nose, ears and 12 body joints have
the same index in both lists; PoseTrack has no eyes, COCO no head bottom and head top (:data:`POSETRACK_OF_COCO`,
:data:`COCO_OF_POSETRACK`). :func:`posetrack_from_coco` fills the two head joints of a COCO pose from the
shoulders and the ears (:func:`approximate_head`): how ``track.py``'s COCO poses become PoseTrack predictions and
the synthetic videos' COCO labels PoseTrack's.

Symbols: N poses.
"""
from typing import Tuple

import numpy as np

from src.constants import COCO_SIGMAS, COCO_SKELETON, FLIP_PAIRS, NUM_COCO_JOINTS, KeypointSet

#: PoseTrack 2018's keypoints, in the order of its files: COCO's slots, with the upper neck
#: (``head_bottom``) and the top of the head in the eyes' slots 1 and 2.
POSETRACK_KEYPOINT_NAMES: Tuple[str, ...] = (
    "nose", "head_bottom", "head_top", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
NUM_POSETRACK_JOINTS: int = 17
#: In PoseTrack 2018's list but never labelled.
UNLABELLED_JOINTS: Tuple[str, ...] = ("left_ear", "right_ear")
#: PoseTrack's left/right pairs: COCO's without the eyes (head bottom and top lie on the body's axis).
POSETRACK_FLIP_PAIRS: Tuple[Tuple[int, int], ...] = FLIP_PAIRS[1:]
#: OKS constants of PoseTrack's joints (OKS-NMS of the evaluation only; the benchmark scores PCKh).
#: COCO's for the joints both have; the upper neck and the top of the head take the shoulders' 0.079:
#: both are points annotators place on a soft outline (the neck under clothing, the crown under hair),
#: far less sharply than the face points whose slots they occupy.
POSETRACK_SIGMAS: Tuple[float, ...] = (COCO_SIGMAS[0], 0.079, 0.079) + COCO_SIGMAS[3:]

#: The joints of the ``posetrack`` data set type. The skeleton is COCO's (the same slots: the head bottom and
#: top joined as COCO's eyes are), as PoseTrack's files write it.
POSETRACK_KEYPOINTS = KeypointSet("posetrack", POSETRACK_KEYPOINT_NAMES, POSETRACK_FLIP_PAIRS, POSETRACK_SIGMAS,
                                  COCO_SKELETON, tuple(j for j, name in enumerate(POSETRACK_KEYPOINT_NAMES)
                                                       if name not in UNLABELLED_JOINTS))

#: For each COCO joint, its PoseTrack 2018 index (-1: PoseTrack has no eyes).
POSETRACK_OF_COCO: Tuple[int, ...] = (0, -1, -1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)
#: For each PoseTrack 2018 joint, its COCO index (-1: COCO has no head bottom and head top).
COCO_OF_POSETRACK: Tuple[int, ...] = (0, -1, -1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)
#: Where the head joints lie on the line from the shoulders' midpoint through the head's centre (in
#: units of that distance): the upper neck half-way, the top of the head half as far again beyond the
#: centre (the head is about as tall as its centre is high above the shoulders).
HEAD_BOTTOM_AT, HEAD_TOP_AT = 0.5, 1.5
#: COCO's face joints (nose, eyes, ears), their weights for the head's centre, and the shoulders.
_COCO_FACE, _COCO_SHOULDERS = (0, 1, 2, 3, 4), (5, 6)
FACE_WEIGHTS: Tuple[float, ...] = (0.1, 0.1, 0.1, 1.0, 1.0)


def approximate_head(coco: np.ndarray) -> np.ndarray:
    """PoseTrack's ``head_bottom`` and ``head_top`` of COCO poses, which have neither.

    Both lie on the line from the shoulders' midpoint through the head's centre: at
    :data:`HEAD_BOTTOM_AT` and :data:`HEAD_TOP_AT` of that distance. The head's centre is the ears'
    midpoint (the centre from any side, where the nose and eyes are not), the nose and eyes counting a
    tenth as much (:data:`FACE_WEIGHTS`), each also weighted by its score: they matter where the ears
    are unsure. The score is the lower of the shoulders' mean score and the face's (so weighted). A
    heuristic: a network trained on PoseTrack's joints predicts these joints itself.

    Args:
        coco: N×17×3 COCO poses ``[x, y, score]``.

    Returns:
        N×2×3 ``[head_bottom, head_top]`` as ``[x, y, score]``.
    """
    coco = np.asarray(coco, dtype=np.float64).reshape(-1, NUM_COCO_JOINTS, 3)
    shoulders = coco[:, _COCO_SHOULDERS]
    face = coco[:, _COCO_FACE]
    weights = np.array(FACE_WEIGHTS)[None] * np.clip(face[:, :, 2], 1e-6, None)
    centre = (face[:, :, :2] * weights[:, :, None]).sum(axis=1) / weights.sum(axis=1, keepdims=True)
    base = shoulders[:, :, :2].mean(axis=1)
    face_score = face[:, :, 2] @ np.array(FACE_WEIGHTS) / sum(FACE_WEIGHTS)
    score = np.minimum(shoulders[:, :, 2].mean(axis=1), face_score)
    ends = base[:, None] + np.array([HEAD_BOTTOM_AT, HEAD_TOP_AT])[None, :, None] * (centre - base)[:, None]
    return np.concatenate([ends, np.repeat(score[:, None, None], 2, axis=1)], axis=2)


def posetrack_from_coco(coco: np.ndarray, head: bool = True) -> np.ndarray:
    """COCO poses in PoseTrack 2018's joint order.

    Args:
        coco: N×17×3 COCO poses ``[x, y, score]``.
        head: Fill ``head_bottom`` and ``head_top`` by :func:`approximate_head`; else they are zeros.

    Returns:
        N×17×3 in :data:`POSETRACK_KEYPOINT_NAMES` order; COCO's eyes are dropped.
    """
    coco = np.asarray(coco, dtype=np.float64).reshape(-1, NUM_COCO_JOINTS, 3)
    source = np.array(COCO_OF_POSETRACK)
    out = np.where((source >= 0)[None, :, None], coco[:, np.maximum(source, 0)], 0.0)
    if head:
        out[:, 1:3] = approximate_head(coco)
    return out


def coco_from_posetrack(poses: np.ndarray) -> np.ndarray:
    """PoseTrack 2018 poses (N×17×3) in COCO's joint order; the eyes, which PoseTrack lacks, are zeros
    (and so are the ears, which PoseTrack never labels)."""
    poses = np.asarray(poses, dtype=np.float64).reshape(-1, NUM_POSETRACK_JOINTS, 3)
    source = np.array(POSETRACK_OF_COCO)
    return np.where((source >= 0)[None, :, None], poses[:, np.maximum(source, 0)], 0.0)
