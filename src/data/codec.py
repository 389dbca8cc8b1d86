"""The heatmap codec: keypoints to Gaussian target heatmaps, and heatmaps back to keypoints.

One parameter set drives both directions (as mmpose's heatmap codecs do): the network input size,
the heatmap size (their ratio is the stride), the Gaussian's sigma, and the quarter-pixel
refinement of decoding. The data pipeline encodes with a :class:`HeatmapCodec` and every decoder
(``eval.py``, ``postprocess.py``, ``infer.py``, ``track.py``, through
:class:`src.inference.decoder.PoseDecoder`) decodes with one built from the same configuration, so
target placement and decoding cannot drift apart. Decoding itself is :mod:`src.predict`'s.

Symbols: N people, J joints, H×W heatmap size (``[Wh, Hh]`` = ``heatmap_size``). Heatmap space is
the grid of a heatmap (``x`` in ``[0, W)``); input space the pixels of the network input; image
space the pixels of the original image, reached through a crop's centre and scale.
"""
from dataclasses import dataclass
from typing import Any, Sequence, Tuple

import numpy as np

from src.predict import decode_heatmaps


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
        """Keypoints in image space from N×J×H×W heatmaps of crops with ``center`` and ``scale`` (N×2 each):
        :func:`src.predict.decode_heatmaps` with this codec's refinement.

        Returns:
            ``(preds, maxvals)``: N×J×2 float32 ``[x, y]`` in image space and the N×J×1 maxima.
        """
        return decode_heatmaps(heatmaps, center, scale, self.refine)
