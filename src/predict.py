"""Heatmaps to keypoints: maxima, the quarter-pixel refinement, back to the image; the flip merge.

Symbols: N people (a batch of person crops), J joints, H×W heatmap size.
Heatmap space is the grid of a heatmap (``x`` in ``[0, W)``, ``y`` in ``[0, H)``);
image space is the pixel grid of the original image. A crop is described by its
centre ``[cx, cy]`` (image pixels) and scale ``[sx, sy]`` (units of PIXEL_STD).

Everything here is vectorized over people and joints. The heatmap codec
(:class:`src.data.codec.HeatmapCodec`) decodes with these functions, and every script decodes
through one :class:`src.inference.decoder.PoseDecoder`, so the flip merge and the decoding cannot
drift apart between them.
"""
from typing import Any, Sequence, Tuple

import numpy as np

from src.constants import FLIP_PAIRS
from src.utils.transform import flip_back, transform_preds


def get_max_preds(batch_heatmaps: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Location and value of the maximum of every heatmap.

    Ties go to the first maximum in row-major order (``np.argmax``). Where the
    maximum is not positive the location is set to ``(0, 0)``.

    Args:
        batch_heatmaps: N×J×H×W heatmaps.

    Returns:
        ``(preds, maxvals)``: N×J×2 float32 ``[x, y]`` in heatmap space and
        N×J×1 maxima (the heatmaps' dtype).
    """
    heatmaps = np.asarray(batch_heatmaps)
    if heatmaps.ndim != 4:
        raise ValueError(f"get_max_preds expects N×J×H×W heatmaps, got shape {heatmaps.shape}")
    n, j, height, width = heatmaps.shape
    flat = heatmaps.reshape(n * j, height * width)
    idx = np.argmax(flat, axis=1)
    # One pass over the maps: read the maximum at the argmax instead of np.amax.
    maxvals = flat[np.arange(n * j), idx].reshape(n, j, 1)
    preds = np.empty((n * j, 2), dtype=np.float32)
    preds[:, 1], preds[:, 0] = np.divmod(idx, width)
    preds = preds.reshape(n, j, 2)
    preds *= maxvals > 0.0
    return preds, maxvals


def refine_preds(coords: np.ndarray, batch_heatmaps: np.ndarray) -> np.ndarray:
    """Quarter-pixel step of each maximum toward its higher neighbour.

    The step is taken in x and y separately (sign of the central difference),
    only where ``1 < px < W - 1`` and ``1 < py < H - 1`` with ``px, py`` the
    rounded location; the lower bound 1 (not 0) is the reference's.

    Args:
        coords: N×J×2 float32 ``[x, y]`` in heatmap space (as from get_max_preds).
        batch_heatmaps: N×J×H×W heatmaps.

    Returns:
        A new N×J×2 float32 array of refined coordinates.
    """
    heatmaps = np.ascontiguousarray(batch_heatmaps)
    n, j, height, width = heatmaps.shape
    px, py = np.floor(coords + 0.5).astype(np.int64).reshape(-1, 2).T
    inside = (px > 1) & (px < width - 1) & (py > 1) & (py < height - 1)
    # Flat index of each location, clipped so the gathers stay in range (outside joints are masked).
    centre = (np.arange(n * j) * (height * width) + np.clip(py, 1, height - 2) * width
              + np.clip(px, 1, width - 2))
    # Rows: right, left, below, above ('clip' only matters for maps too small to refine).
    values = np.take(heatmaps.reshape(-1), centre + np.array([[1], [-1], [width], [-width]]), mode='clip')
    step = np.sign(values[0::2] - values[1::2]).T * np.float32(0.25)
    step[~inside] = 0.0
    return coords + step.reshape(n, j, 2).astype(np.float32)


def decode_heatmaps(batch_heatmaps: np.ndarray, center: np.ndarray, scale: np.ndarray,
                    refine: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """Keypoints in image space from N×J×H×W heatmaps of crops with ``center`` and ``scale`` (N×2 each).

    The maximum of each map (:func:`get_max_preds`), refined by a quarter pixel with ``refine``
    (:func:`refine_preds`), taken back to the image by the inverse affine of the crop at heatmap size.

    Returns:
        ``(preds, maxvals)``: N×J×2 float32 ``[x, y]`` in image space and the N×J×1 maxima.

    Raises:
        ValueError: not as many centres and scales as heatmap stacks.
    """
    heatmaps = np.ascontiguousarray(batch_heatmaps)
    coords, maxvals = get_max_preds(heatmaps)
    height, width = heatmaps.shape[2:]
    if refine:
        coords = refine_preds(coords, heatmaps)
    center = np.asarray(center)[:, :2]
    scale = np.asarray(scale)[:, :2]
    if len(center) != len(coords) or len(scale) != len(coords):
        raise ValueError(f"{len(coords)} heatmap stacks but {len(center)} centres and {len(scale)} scales")
    # transform_preds broadcasts over the batch: one closed-form inverse affine per crop.
    preds = transform_preds(coords, center, scale, [width, height]).astype(np.float32)
    return preds, maxvals


def get_final_preds(config: Any, batch_heatmaps: np.ndarray, center: np.ndarray,
                    scale: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Keypoints in image space from a batch of heatmaps (the original's name and arguments):
    :func:`decode_heatmaps` with the refinement of ``TEST.POST_PROCESS``.

    Args:
        config: Configuration (``TEST.POST_PROCESS``).
        batch_heatmaps: N×J×H×W heatmaps.
        center: N×2 crop centres ``[cx, cy]`` in image pixels.
        scale: N×2 crop scales ``[sx, sy]`` in units of PIXEL_STD.

    Returns:
        ``(preds, maxvals)``: N×J×2 float32 ``[x, y]`` in image space and the N×J×1 heatmap maxima.
    """
    return decode_heatmaps(batch_heatmaps, center, scale, bool(config.TEST.POST_PROCESS))


def merge_flip(output: np.ndarray, output_flipped: np.ndarray, shift_heatmap: bool,
               flip_pairs: Sequence[Sequence[int]] = FLIP_PAIRS) -> np.ndarray:
    """Averages the heatmaps of a batch and of its horizontally mirrored copy.

    Args:
        output: N×J×H×W heatmaps of the input.
        output_flipped: N×J×H×W heatmaps of the mirrored input, as the network
            returned them (still mirrored, left/right channels swapped).
        shift_heatmap: Shift the flipped-back maps one pixel right first; the
            mirrored input's features are off by one pixel (``TEST.SHIFT_HEATMAP``).
        flip_pairs: Left/right joint index pairs.

    Returns:
        N×J×H×W averaged heatmaps.
    """
    output = np.asarray(output)
    flipped = flip_back(np.asarray(output_flipped), flip_pairs)
    if flipped.shape != output.shape:
        raise ValueError(f"flipped heatmaps {flipped.shape} do not match heatmaps {output.shape}")
    merged = np.empty(output.shape, np.result_type(output, flipped))
    if shift_heatmap:
        # The flipped maps move one column right; column 0 keeps its own value (the reference's).
        np.add(output[..., 1:], flipped[..., :-1], out=merged[..., 1:])
        np.add(output[..., :1], flipped[..., :1], out=merged[..., :1])
    else:
        np.add(output, flipped, out=merged)
    merged *= 0.5
    return merged
