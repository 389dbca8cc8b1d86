"""Object keypoint similarity (OKS) and greedy OKS non-maximum suppression.

Symbols: M people of one image, J joints. A pose is J×3 ``[x, y, v]`` in image
pixels, ``v`` the joint's confidence; ``area`` is the person's area in pixels².

OKS between poses ``g`` and ``d`` (COCO keypoint benchmark, as the reference
computes it)::

    e_j = ((x_dj - x_gj)² + (y_dj - y_gj)²) / (2 σ_j)² / ((a_g + a_d) / 2 + eps) / 2
    OKS = mean_j exp(-e_j)

over all joints, or with ``in_vis_thre`` only over the joints whose confidence
exceeds it in *both* poses (0 when there is none). The reference meant the
same but wrote ``list(vg > t) and list(vd > t)``, which keeps only the second
mask; this module applies both.
"""
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from src.constants import COCO_SIGMAS

#: Row blocks of the pairwise OKS are sized to keep temporaries near this many elements.
_BLOCK_ELEMENTS = 1 << 22

#: exp(-700) ≈ 1e-304 is still a normal float64; beyond it exp(-e) is taken as 0.
_EXP_CUTOFF = 700.0


def _variances(sigmas: Optional[Sequence[float]], num_joints: int) -> np.ndarray:
    sigmas = np.asarray(COCO_SIGMAS if sigmas is None else sigmas, dtype=np.float64)
    if sigmas.shape != (num_joints,):
        raise ValueError(f"{sigmas.size} OKS sigmas given for {num_joints} joints")
    return (sigmas * 2) ** 2


def _oks(g: np.ndarray, d: np.ndarray, a_g: np.ndarray, a_d: np.ndarray, variances: np.ndarray,
         in_vis_thre: Optional[float]) -> np.ndarray:
    """OKS of broadcastable poses laid out joints-first.

    ``g`` and ``d`` are ``[3, J, ...]`` planes (x, y, v), areas broadcast to
    ``[...]``; the result is ``[...]``. Joints first keeps every elementwise
    pass contiguous and the joint sum a sum of planes.
    """
    # Squared distances in the poses' dtype, the rest in float64, as the reference.
    dist = d[0] - g[0]
    np.square(dist, out=dist)
    dist += np.square(d[1] - g[1])
    e = dist / variances.reshape((-1,) + (1,) * (dist.ndim - 1))
    # One division by 2·norm equals dividing by norm and then by 2: scaling by 2 is exact.
    e /= ((np.asarray(a_g, dtype=np.float64) + a_d) / 2 + np.spacing(1)) * 2
    # exp of far-apart joints lands in the denormals, two orders of magnitude
    # slower; those similarities (below 1e-304) are taken as 0.
    far = e >= _EXP_CUTOFF
    np.minimum(e, _EXP_CUTOFF, out=e)
    similarity = np.exp(np.negative(e, out=e), out=e)
    similarity[far] = 0.0
    if in_vis_thre is None:
        num = similarity.shape[0]
        return similarity.sum(axis=0) / num if num else np.zeros(similarity.shape[1:])
    counted = (g[2] > in_vis_thre) & (d[2] > in_vis_thre)
    similarity *= counted
    count = counted.sum(axis=0)
    return np.where(count > 0, similarity.sum(axis=0) / np.maximum(count, 1), 0.0)


def _planes(kpts: np.ndarray) -> np.ndarray:
    """``[..., J, 3]`` poses to contiguous ``[3, J, ...]`` planes."""
    return np.ascontiguousarray(np.moveaxis(kpts, (-1, -2), (0, 1)))


def oks_iou(g: np.ndarray, d: np.ndarray, a_g: float, a_d: np.ndarray,
            sigmas: Optional[Sequence[float]] = None, in_vis_thre: Optional[float] = None) -> np.ndarray:
    """OKS of one pose against M others.

    Args:
        g: One pose, J×3 or flattened ``[x0, y0, v0, x1, ...]``.
        d: M poses, M×(J·3) or M×J×3.
        a_g: Area of ``g``.
        a_d: M areas of ``d``.
        sigmas: J per-joint constants (COCO's when None).
        in_vis_thre: Count only joints whose confidence exceeds this in both poses.

    Returns:
        M OKS values (float64).
    """
    g = np.asarray(g).reshape(-1, 3)
    d = np.asarray(d)
    a_d = np.asarray(a_d, dtype=np.float64).reshape(-1)
    if d.ndim < 2 or d.size != len(d) * g.size or len(a_d) != len(d):
        raise ValueError(f"oks_iou: pose {g.shape} against poses {d.shape} with {len(a_d)} areas")
    d = d.reshape(len(d), len(g), 3)
    return _oks(_planes(g)[..., None], _planes(d), a_g, a_d, _variances(sigmas, len(g)), in_vis_thre)


def pairwise_oks(kpts: np.ndarray, areas: np.ndarray, sigmas: Optional[Sequence[float]] = None,
                 in_vis_thre: Optional[float] = None) -> np.ndarray:
    """OKS of every pair of poses.

    Args:
        kpts: M×J×3 poses.
        areas: M areas.
        sigmas: J per-joint constants (COCO's when None).
        in_vis_thre: As in :func:`oks_iou`.

    Returns:
        M×M float64 matrix; entry ``[i, k]`` is ``oks_iou(kpts[i], kpts[k:k+1], ...)``.
    """
    kpts = np.asarray(kpts)
    areas = np.asarray(areas, dtype=np.float64)
    m, j = kpts.shape[:2]
    variances = _variances(sigmas, j)
    planes = _planes(kpts)
    out = np.empty((m, m), dtype=np.float64)
    rows = max(1, _BLOCK_ELEMENTS // max(1, m * j))
    for start in range(0, m, rows):
        stop = min(m, start + rows)
        out[start:stop] = _oks(planes[:, :, start:stop, None], planes[:, :, None, :],
                               areas[start:stop, None], areas[None], variances, in_vis_thre)
    return out


def oks_nms_arrays(kpts: np.ndarray, scores: np.ndarray, areas: np.ndarray, thresh: float,
                   sigmas: Optional[Sequence[float]] = None,
                   in_vis_thre: Optional[float] = None) -> np.ndarray:
    """Greedy OKS-NMS of the poses of one image, on arrays.

    Poses are visited by descending score (``np.argsort(scores)[::-1]``, the
    reference's order, ties included); each kept pose removes the later ones
    whose OKS with it is not ``<= thresh``.

    Args:
        kpts: M×J×3 poses.
        scores: M scores.
        areas: M areas.
        thresh: OKS above which a lower-scored pose is suppressed.
        sigmas: J per-joint constants (COCO's when None).
        in_vis_thre: As in :func:`oks_iou`.

    Returns:
        Indices into the inputs of the kept poses, in visiting order (int64).
    """
    scores = np.asarray(scores)
    if len(scores) <= 1:
        return np.arange(len(scores), dtype=np.int64)
    order = np.argsort(scores)[::-1]
    oks = pairwise_oks(np.asarray(kpts)[order], np.asarray(areas)[order], sigmas, in_vis_thre)
    # suppress[i, k]: pose i, if kept, removes the later pose k. `not <=` rather
    # than `>`: a NaN similarity suppresses, as in the reference.
    suppress = np.triu(~(oks <= thresh), 1)
    removed = np.zeros(len(order), dtype=bool)
    # Greedy is sequential, but only poses that suppress something need a visit;
    # when row i is reached, removed[i] is final (only earlier rows touch it).
    for i in np.flatnonzero(suppress.any(axis=1)):
        if not removed[i]:
            removed |= suppress[i]
    return order[~removed]


def oks_nms(kpts_db: List[Dict[str, Any]], thresh: float, sigmas: Optional[Sequence[float]] = None,
            in_vis_thre: Optional[float] = None) -> List[int]:
    """Greedy OKS-NMS of the poses of one image.

    Args:
        kpts_db: M dicts with ``keypoints`` (J×3), ``score`` and ``area``.
        thresh: OKS above which a lower-scored pose is suppressed.
        sigmas: J per-joint constants (COCO's when None).
        in_vis_thre: As in :func:`oks_iou`.

    Returns:
        Indices into ``kpts_db`` of the kept poses, highest score first.
    """
    if len(kpts_db) == 0:
        return []
    kpts = np.array([np.asarray(p['keypoints']).reshape(-1, 3) for p in kpts_db])
    scores = np.array([p['score'] for p in kpts_db])
    areas = np.array([p['area'] for p in kpts_db])
    return oks_nms_arrays(kpts, scores, areas, thresh, sigmas, in_vis_thre).tolist()


def oks_nms_per_image(kpts: np.ndarray, scores: np.ndarray, areas: np.ndarray, image_ids: np.ndarray,
                      thresh: float, sigmas: Optional[Sequence[float]] = None,
                      in_vis_thre: Optional[float] = None) -> np.ndarray:
    """OKS-NMS of each image's poses, over a whole data set.

    Args:
        kpts: N×J×3 poses.
        scores: N scores.
        areas: N areas.
        image_ids: N image ids.
        thresh, sigmas, in_vis_thre: As in :func:`oks_nms_arrays`.

    Returns:
        Indices of the kept poses: images in order of first appearance, each
        image's poses in visiting order (the reference's result order).
    """
    image_ids = np.asarray(image_ids)
    if len(image_ids) == 0:
        return np.zeros(0, dtype=np.int64)
    by_image = np.argsort(image_ids, kind='stable')
    starts = np.flatnonzero(np.r_[True, image_ids[by_image][1:] != image_ids[by_image][:-1]])
    stops = np.r_[starts[1:], len(by_image)]
    kept = []
    for start, stop in sorted(zip(starts, stops), key=lambda seg: by_image[seg[0]]):
        members = by_image[start:stop]
        kept.append(members[oks_nms_arrays(kpts[members], scores[members], areas[members], thresh,
                                           sigmas, in_vis_thre)])
    return np.concatenate(kept)
