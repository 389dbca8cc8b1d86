"""Pose similarity between frames and greedy assignment of track ids.

Symbols: N people of the current frame, M people remembered from earlier frames (several may
belong to one track), J joints. Poses are ``[x, y, score]`` in image pixels of the current frame:
remembered poses are moved there first (by the flow, for the paper's flow-based similarity).
"""
import numpy as np

from typing import Sequence

from src.constants import COCO_SIGMAS
from src.utils.nms import oks_iou, pairwise_oks


def pose_similarity(current: np.ndarray, current_areas: np.ndarray, remembered: np.ndarray,
                    remembered_areas: np.ndarray, in_vis_thre: float,
                    sigmas: Sequence[float] = COCO_SIGMAS) -> np.ndarray:
    """OKS of every current pose against every remembered one.

    Joints count where both poses are confident (score above ``in_vis_thre``): a joint the
    network could not see says nothing about who the person is.

    Args:
        current: N×J×3 poses; current_areas: N areas (pixels²).
        remembered: M×J×3 poses; remembered_areas: M areas.
        in_vis_thre: ``TEST.IN_VIS_THRE``.
        sigmas: J OKS constants of the network's joints (its data set type's).

    Returns:
        N×M float64 similarities in [0, 1].
    """
    current = np.asarray(current, dtype=np.float64)
    remembered = np.asarray(remembered, dtype=np.float64)
    out = np.zeros((len(current), len(remembered)))
    if len(remembered):
        for i, pose in enumerate(current):
            out[i] = oks_iou(pose, remembered, float(current_areas[i]), remembered_areas, sigmas, in_vis_thre)
    return out


def greedy_match(similarity: np.ndarray, remembered_ids: np.ndarray, threshold: float) -> np.ndarray:
    """Track ids for the current people, greedily by descending similarity (the paper's matching).

    The most similar pair (current person, remembered person) is taken first; the current person
    gets that track's id, and neither the person nor any other remembered pose of that track is
    taken again. Pairs below ``threshold`` are never taken.

    Args:
        similarity: N×M similarities (current × remembered).
        remembered_ids: M track ids of the remembered poses (repeats allowed).
        threshold: Least similarity of a match.

    Returns:
        N int64 track ids; -1 for the people left unmatched (new tracks).
    """
    similarity = np.asarray(similarity, dtype=np.float64)
    ids = np.full(similarity.shape[0], -1, dtype=np.int64)
    if similarity.size == 0:
        return ids
    taken_tracks = set()
    width = similarity.shape[1]
    for flat in np.argsort(-similarity, axis=None, kind="stable"):
        row, col = divmod(int(flat), width)
        if similarity[row, col] < threshold:
            break
        track = int(remembered_ids[col])
        if ids[row] < 0 and track not in taken_tracks:
            ids[row] = track
            taken_tracks.add(track)
    return ids


def unify_people(poses: np.ndarray, scores: np.ndarray, areas: np.ndarray, propagated: np.ndarray, threshold: float,
                 in_vis_thre: float, sigmas: Sequence[float] = COCO_SIGMAS) -> np.ndarray:
    """One person per pose: propagated people whose pose agrees with a detected person's, or with a
    higher-scored propagated person's, are dropped.

    People are visited detected first, each group by descending score (stable); each kept person drops
    the later propagated ones whose OKS with it (joints confident in both) is above ``threshold``. A
    propagated box and a detector box on one person may overlap little (too little for the box NMS)
    but give the same pose; a propagated box that drifted onto someone else gives that person's pose.
    Two detected people are left alone: the detector says they are two (a confused pose of one of two
    people crossing can agree with the other's).

    Args:
        poses: N×J×3; scores: N; areas: N (pixels²).
        propagated: N flags: the person's box came from propagation.
        threshold: OKS above which a later propagated person is dropped.
        in_vis_thre: Joints count where their scores exceed this in both poses.
        sigmas: J OKS constants of the network's joints.

    Returns:
        Indices of the kept people in visiting order (int64).
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    propagated = np.asarray(propagated, bool).reshape(-1)
    order = np.lexsort((-scores, propagated))
    if len(order) <= 1:
        return order.astype(np.int64)
    oks = pairwise_oks(np.asarray(poses, np.float64)[order], np.asarray(areas, np.float64)[order], sigmas,
                       in_vis_thre)
    drop = np.triu(oks > threshold, 1) & propagated[order][None, :]
    removed = np.zeros(len(order), dtype=bool)
    for i in range(len(order)):
        if not removed[i]:
            removed |= drop[i]
    return order[~removed].astype(np.int64)
