"""Geometry of person crops: boxes, affine warps, flips, and the way back.

Symbols: N people (or a batch), J joints, H×W heatmap or image size.
Points are ``[x, y]`` pixels. A person is described by a *centre* ``[cx, cy]``
(image pixels) and a *scale* ``[sx, sy]``: the crop size in units of
``PIXEL_STD`` pixels, so the crop spans ``scale * PIXEL_STD`` pixels.
Output sizes are ``[width, height]``.
"""
from typing import Sequence, Tuple, Union

import cv2
import numpy as np

from src.constants import BOX_PADDING, FLIP_PAIRS, PIXEL_STD

flip_pairs = [list(p) for p in FLIP_PAIRS]

ArrayLike = Union[np.ndarray, Sequence[float]]


def _rotate(point: np.ndarray, rot_rad: float) -> np.ndarray:
    sn, cs = np.sin(rot_rad), np.cos(rot_rad)
    return np.array([point[0] * cs - point[1] * sn, point[0] * sn + point[1] * cs], dtype=np.float32)


def _third_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The point that makes (a, b, c) a right angle at b, turned from b→a."""
    direct = a - b
    return b + np.array([-direct[1], direct[0]], dtype=np.float32)


def get_affine_transform(center: ArrayLike, scale: Union[ArrayLike, float], rot: float,
                         output_size: ArrayLike, shift: ArrayLike = (0, 0), inv: int = 0) -> np.ndarray:
    """The 2×3 affine matrix mapping a person crop (image space) to the output.

    The crop is ``scale * PIXEL_STD`` pixels wide, centred on ``center``, rotated
    by ``rot`` degrees (counter-clockwise in the image). Three point pairs (the
    centre, the centre plus the rotated up-direction, and a third point at right
    angles) define the transform, solved by ``cv2.getAffineTransform``.

    Args:
        center: ``[cx, cy]`` in image pixels.
        scale: ``[sx, sy]`` in units of PIXEL_STD (a scalar means both).
        rot: Rotation in degrees.
        output_size: ``[width, height]`` of the destination.
        shift: Shift of the source centre, as a fraction of the crop size.
        inv: If true, the matrix maps the output back to the image.

    Returns:
        A 2×3 float64 matrix.
    """
    scale = np.asarray(scale, dtype=np.float32)
    if scale.ndim == 0:
        scale = np.array([scale, scale], dtype=np.float32)
    center = np.asarray(center, dtype=np.float32)
    shift = np.asarray(shift, dtype=np.float32)
    src_size = scale * PIXEL_STD
    dst_w, dst_h = float(output_size[0]), float(output_size[1])

    src_dir = _rotate(np.array([0.0, src_size[0] * -0.5], dtype=np.float32), np.pi * rot / 180.0)
    dst_dir = np.array([0.0, dst_w * -0.5], dtype=np.float32)

    src = np.zeros((3, 2), dtype=np.float32)
    dst = np.zeros((3, 2), dtype=np.float32)
    src[0] = center + src_size * shift
    src[1] = center + src_dir + src_size * shift
    dst[0] = [dst_w * 0.5, dst_h * 0.5]
    dst[1] = dst[0] + dst_dir
    src[2] = _third_point(src[0], src[1])
    dst[2] = _third_point(dst[0], dst[1])
    if inv:
        return cv2.getAffineTransform(dst, src)
    return cv2.getAffineTransform(src, dst)


def affine_transform(pt: ArrayLike, t: np.ndarray) -> np.ndarray:
    """Applies a 2×3 affine matrix to points.

    Args:
        pt: Points ``[..., 2]`` (a single ``[x, y]`` works too).
        t: 2×3 matrix.

    Returns:
        Transformed points, same shape as ``pt``.
    """
    pt = np.asarray(pt, dtype=np.float64)
    return pt @ t[:, :2].T + t[:, 2]


def flip_permutation(num_joints: int, matched_parts: Sequence[Sequence[int]] = flip_pairs) -> np.ndarray:
    """Index array that swaps each left/right pair: ``x[perm]`` is the flipped order."""
    perm = np.arange(num_joints)
    for a, b in matched_parts:
        perm[a], perm[b] = b, a
    return perm


def fliplr_joints(joints: np.ndarray, joints_vis: np.ndarray, width: int,
                  matched_parts: Sequence[Sequence[int]]) -> Tuple[np.ndarray, np.ndarray]:
    """Mirrors joints of an image of ``width`` pixels and swaps left and right.

    Args:
        joints: J×3 ``[x, y, 0]`` in image pixels.
        joints_vis: J×3 visibility (0/1, repeated per coordinate).
        width: Image width in pixels (x → width − x − 1).
        matched_parts: Left/right index pairs.

    Returns:
        ``(joints * joints_vis, joints_vis)`` of the mirrored image; inputs are not modified.
    """
    perm = flip_permutation(len(joints), matched_parts)
    joints = np.array(joints, dtype=np.float64)
    joints[:, 0] = width - joints[:, 0] - 1
    joints, joints_vis = joints[perm], np.asarray(joints_vis)[perm]
    return joints * joints_vis, joints_vis


def flip_back(output_flipped: np.ndarray, matched_parts: Sequence[Sequence[int]]) -> np.ndarray:
    """Heatmaps of a mirrored input back to the original orientation.

    Args:
        output_flipped: N×J×H×W heatmaps predicted on the mirrored image.
        matched_parts: Left/right index pairs.

    Returns:
        A new N×J×H×W array: width mirrored and left/right channels swapped.
    """
    if output_flipped.ndim != 4:
        raise ValueError(f"flip_back expects N×J×H×W heatmaps, got shape {output_flipped.shape}")
    perm = flip_permutation(output_flipped.shape[1], matched_parts)
    return np.ascontiguousarray(output_flipped[:, perm, :, ::-1])


def transform_preds(coords: np.ndarray, center: ArrayLike, scale: ArrayLike,
                    output_size: ArrayLike) -> np.ndarray:
    """Maps points from heatmap (or crop) space back to image space.

    This is the inverse of ``get_affine_transform(center, scale, 0, output_size)``.
    With no rotation that transform is a uniform zoom about the crop centre, so it
    is written in closed form and broadcasts over any leading batch dimensions.

    Args:
        coords: ``[..., J, 2]`` points in the output space.
        center: ``[..., 2]`` crop centres in image pixels.
        scale: ``[..., 2]`` crop scales (units of PIXEL_STD).
        output_size: ``[width, height]`` of the output space.

    Returns:
        ``[..., J, 2]`` points in image pixels.
    """
    coords = np.asarray(coords, dtype=np.float64)
    center = np.asarray(center, dtype=np.float64)[..., None, :]
    zoom = np.asarray(scale, dtype=np.float64)[..., None, 0:1] * PIXEL_STD / float(output_size[0])
    half = np.array([output_size[0], output_size[1]], dtype=np.float64) * 0.5
    return (coords[..., :2] - half) * zoom + center


def box_to_center_scale(box: ArrayLike, aspect_ratio: float,
                        padding: float = BOX_PADDING) -> Tuple[np.ndarray, np.ndarray]:
    """Person box ``[x, y, w, h]`` to crop centre and scale.

    The box is widened or heightened to ``aspect_ratio`` (width / height of the
    network input), converted to units of PIXEL_STD, and enlarged by ``padding``.

    Args:
        box: ``[..., 4]`` boxes in image pixels.
        aspect_ratio: Target width / height.
        padding: Enlargement factor (1.25 in the reference).

    Returns:
        ``(center [..., 2], scale [..., 2])`` as float32.
    """
    box = np.asarray(box, dtype=np.float64)
    x, y, w, h = box[..., 0], box[..., 1], box[..., 2], box[..., 3]
    center = np.stack([x + w * 0.5, y + h * 0.5], axis=-1)
    wider = w > aspect_ratio * h
    new_w = np.where(wider, w, h * aspect_ratio)
    new_h = np.where(wider, w / aspect_ratio, h)
    scale = np.stack([new_w, new_h], axis=-1) / PIXEL_STD * padding
    return center.astype(np.float32), scale.astype(np.float32)
