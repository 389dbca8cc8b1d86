"""A stand-in network whose 'heatmaps' are the input subsampled: its outputs are known without a checkpoint."""
import numpy as np
from mindspore import nn, ops


class QuarterMaps(nn.Cell):
    """17 'heatmaps' at a quarter of the input size: channel k is input channel k mod 3, subsampled."""

    def construct(self, x):
        return ops.tile(x[:, :, ::4, ::4], (1, 6, 1, 1))[:, :17]


def quarter_maps(images: np.ndarray) -> np.ndarray:
    """What :class:`QuarterMaps` returns for N×3×H×W ``images``."""
    return np.tile(images[:, :, ::4, ::4], (1, 6, 1, 1))[:, :17]
