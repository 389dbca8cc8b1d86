"""The heatmap codec: keypoints to Gaussian target heatmaps, and heatmaps back to keypoints.

One parameter set drives both directions (as mmpose's heatmap codecs do): the network input size,
the heatmap size (their ratio is the stride), the Gaussian's sigma, and the quarter-pixel
refinement of decoding. The data pipeline encodes with a :class:`HeatmapCodec` and every decoder
(``eval.py``, ``postprocess.py``, ``infer.py``, ``track.py``, through :mod:`src.predict`) decodes
with one built from the same configuration, so target placement and decoding cannot drift apart.

Symbols: N people, J joints, H×W heatmap size (``[Wh, Hh]`` = ``heatmap_size``). Heatmap space is
the grid of a heatmap (``x`` in ``[0, W)``); input space the pixels of the network input; image
space the pixels of the original image, reached through a crop's centre and scale.
"""
from dataclasses import dataclass
from typing import Any, Sequence, Tuple

import numpy as np

from src.utils.transform import transform_preds


def gaussian_targets(joints: np.ndarray, joints_vis: np.ndarray, image_size: Sequence[int],
                     heatmap_size: Sequence[int], sigma: float) -> Tuple[np.ndarray, np.ndarray]:
    """Gaussian heatmap targets, as the reference's ``generate_target``, for all joints at once.

    A joint at ``mu = int(joint / stride + 0.5)`` (heatmap pixels, truncated toward zero like
    Python's ``int``; ``stride = image_size / heatmap_size``) gets an unnormalised Gaussian of
    ``sigma`` with peak 1 at ``mu``, cut to the square of radius ``3 * sigma`` and clipped to
    the map. A joint whose square lies wholly outside the map gets weight 0 and no Gaussian;
    otherwise the weight is its visibility, and the Gaussian is drawn when that is above 0.5.

    Args:
        joints: J×2 or J×3 ``[x, y(, 0)]`` in input-image pixels.
        joints_vis: J×3 (or J) visibility; column 0 is used.
        image_size: ``[W, H]`` of the network input.
        heatmap_size: ``[Wh, Hh]``.
        sigma: Gaussian standard deviation in heatmap pixels (2 in the reference; any positive number).

    Returns:
        ``(target J×Hh×Wh float32, target_weight J×1 float32)``.
    """
    vis = np.asarray(joints_vis, dtype=np.float32)
    weight = (vis[:, 0] if vis.ndim == 2 else vis).copy()
    wh, hh = int(heatmap_size[0]), int(heatmap_size[1])
    stride = np.asarray(image_size, dtype=np.float64) / np.asarray(heatmap_size, dtype=np.float64)
    tmp = sigma * 3
    mu = (np.asarray(joints, dtype=np.float64)[:, :2] / stride + 0.5).astype(np.int64)
    ul = (mu - tmp).astype(np.int64)  # float → int truncates toward zero, as int() does
    br = (mu + tmp + 1).astype(np.int64)
    outside = (ul[:, 0] >= wh) | (ul[:, 1] >= hh) | (br[:, 0] < 0) | (br[:, 1] < 0)
    weight[outside] = 0

    centre = (2 * tmp + 1) // 2
    xs, ys = np.arange(wh), np.arange(hh)
    # Offsets from the Gaussian's centre, as integer steps within the reference's g array.
    dx = ((xs[None, :] - ul[:, :1]) - centre).astype(np.float32) ** 2  # J×Wh
    dy = ((ys[None, :] - ul[:, 1:]) - centre).astype(np.float32) ** 2  # J×Hh
    target = np.exp(-(dy[:, :, None] + dx[:, None, :]) / (2 * sigma ** 2)).astype(np.float32)
    in_x = (xs[None, :] >= ul[:, :1]) & (xs[None, :] < br[:, :1])
    in_y = (ys[None, :] >= ul[:, 1:]) & (ys[None, :] < br[:, 1:])
    drawn = (weight > 0.5)[:, None, None] & in_y[:, :, None] & in_x[:, None, :]
    target *= drawn
    return target, weight[:, None]


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


@dataclass(frozen=True)
class HeatmapCodec:
    """Encoding and decoding with one parameter set.

    Attributes:
        image_size: ``[W, H]`` of the network input (``MODEL.IMAGE_SIZE``).
        heatmap_size: ``[Wh, Hh]`` (``POSE_RESNET.HEATMAP_SIZE``).
        sigma: standard deviation of the targets, in heatmap pixels (``POSE_RESNET.SIGMA``).
        refine: quarter-pixel refinement when decoding (``TEST.POST_PROCESS``).
    """

    image_size: Tuple[int, int]
    heatmap_size: Tuple[int, int]
    sigma: float
    refine: bool = True

    @classmethod
    def from_config(cls, cfg: Any) -> "HeatmapCodec":
        return cls(tuple(int(v) for v in cfg.MODEL.IMAGE_SIZE), tuple(int(v) for v in cfg.POSE_RESNET.HEATMAP_SIZE),
                   float(cfg.POSE_RESNET.SIGMA), bool(cfg.TEST.POST_PROCESS))

    def encode(self, joints: np.ndarray, joints_vis: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """``(target J×Hh×Wh, weight J×1)`` of joints given in input-space pixels (see :func:`gaussian_targets`)."""
        return gaussian_targets(joints, joints_vis, self.image_size, self.heatmap_size, self.sigma)

    def decode(self, heatmaps: np.ndarray, center: np.ndarray, scale: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Keypoints in image space from N×J×H×W heatmaps of crops with ``center`` and ``scale`` (N×2 each).

        The maximum of each map (:func:`get_max_preds`), refined by a quarter pixel with ``refine``
        (:func:`refine_preds`), taken back to the image by the inverse affine of the crop at heatmap size.

        Returns:
            ``(preds, maxvals)``: N×J×2 float32 ``[x, y]`` in image space and the N×J×1 maxima.
        """
        heatmaps = np.ascontiguousarray(heatmaps)
        coords, maxvals = get_max_preds(heatmaps)
        height, width = heatmaps.shape[2:]
        if self.refine:
            coords = refine_preds(coords, heatmaps)
        center = np.asarray(center)[:, :2]
        scale = np.asarray(scale)[:, :2]
        if len(center) != len(coords) or len(scale) != len(coords):
            raise ValueError(f"{len(coords)} heatmap stacks but {len(center)} centres and {len(scale)} scales")
        # transform_preds broadcasts over the batch: one closed-form inverse affine per crop.
        preds = transform_preds(coords, center, scale, [width, height]).astype(np.float32)
        return preds, maxvals
