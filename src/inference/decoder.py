"""Network outputs of a batch of crops to evaluation rows: the flip merge, then the codec's decoding, built once.

Symbols: N people (a batch of person crops), J joints, H×W heatmap size.
"""
from dataclasses import dataclass
from typing import Any, Optional, Tuple

import numpy as np

from src.constants import FLIP_PAIRS, PIXEL_STD
from src.data.codec import HeatmapCodec
from src.dataset_types import dataset_type
from src.predict import merge_flip


@dataclass(frozen=True)
class PoseDecoder:
    """Network outputs of a batch of crops to evaluation rows: the flip merge, then the codec's decoding.

    Built once per run (:meth:`from_config`); ``eval.py``, ``infer.py``, ``track.py`` (through
    :class:`src.inference.estimator.PoseEstimator`) and ``postprocess.py`` all decode with it, so the
    flip merge and the decoding cannot drift apart between them.

    Attributes:
        codec: The heatmap codec (input and heatmap sizes, the refinement of ``TEST.POST_PROCESS``).
        shift_heatmap: Shift the flipped-back heatmaps one pixel right (``TEST.SHIFT_HEATMAP``).
        flip_pairs: Left/right joint index pairs (those of the data set type, ``DATASET.DATASET``).
    """
    codec: HeatmapCodec
    shift_heatmap: bool = True
    flip_pairs: Tuple[Tuple[int, int], ...] = FLIP_PAIRS

    @classmethod
    def from_config(cls, cfg: Any) -> "PoseDecoder":
        return cls(HeatmapCodec.from_config(cfg), bool(cfg.TEST.SHIFT_HEATMAP), dataset_type(cfg).keypoints.flip_pairs)

    def decode(self, output: np.ndarray, center: np.ndarray, scale: np.ndarray, score: np.ndarray,
               output_flipped: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Rows of the evaluation arrays for one batch.

        Args:
            output: N×J×H×W heatmaps of the input.
            center: N×2 crop centres in image pixels.
            scale: N×2 crop scales in units of PIXEL_STD.
            score: N person (detector) scores.
            output_flipped: N×J×H×W heatmaps of the mirrored input, or None when the flip test is off.

        Returns:
            ``(preds, boxes)``: N×J×3 float32 ``[x, y, maxval]`` in image space and N×6 float64
            ``[cx, cy, sx, sy, area, score]`` with ``area = prod(scale * PIXEL_STD)``, the reference's
            ``all_preds`` and ``all_boxes`` layouts.
        """
        heatmaps = np.asarray(output)
        if output_flipped is not None:
            heatmaps = merge_flip(heatmaps, output_flipped, self.shift_heatmap, self.flip_pairs)
        center = np.asarray(center)[:, :2]
        scale = np.asarray(scale)[:, :2]
        coords, maxvals = self.codec.decode(heatmaps, center, scale)
        preds = np.concatenate([coords, maxvals.astype(np.float32)], axis=2)
        boxes = np.empty((len(preds), 6), dtype=np.float64)
        boxes[:, 0:2] = center
        boxes[:, 2:4] = scale
        # In the scale's own dtype (float32 from the dataset), as the reference computes it.
        boxes[:, 4] = np.prod(scale * PIXEL_STD, axis=1)
        boxes[:, 5] = np.asarray(score, dtype=np.float64).reshape(-1)
        return preds, boxes
