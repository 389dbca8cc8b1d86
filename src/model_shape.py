"""The shape rules of SimplePoseNet, without MindSpore: what sizes and kernels the network can take.

:mod:`src.model` builds the network by these rules and the configuration checks them when it is
built (:mod:`src.model_utils.config_rules`), so a bad size is refused before any data is read.
"""
from typing import Dict, Sequence, Tuple

from src.errors import ConfigSizeError

#: The ResNet backbone divides the input size by this.
BACKBONE_STRIDE = 32
#: Deconvolution kernel -> (padding, output_padding) giving an output of exactly twice the input.
DECONV_PADDING: Dict[int, Tuple[int, int]] = {4: (1, 0), 3: (1, 1), 2: (0, 0)}


def heatmap_size_for(image_size: Sequence[int], num_deconv: int) -> list:
    """The heatmap size ``[w, h]`` the network produces for ``image_size`` ``[w, h]``."""
    return [int(v) // BACKBONE_STRIDE * 2 ** num_deconv for v in image_size]


def check_sizes(image_size: Sequence[int], heatmap_size: Sequence[int], num_deconv: int) -> None:
    """Checks that the network maps ``image_size`` [w, h] to ``heatmap_size`` [w, h].

    The backbone divides by 32 (so the input must be a multiple of 32) and each
    deconvolution doubles: the heatmap is ``image / 32 * 2**num_deconv``.

    Raises:
        ConfigSizeError: naming the keys and the sizes that would fit.
    """
    if len(image_size) != 2 or any(int(v) <= 0 or int(v) % BACKBONE_STRIDE for v in image_size):
        raise ConfigSizeError(f"MODEL.IMAGE_SIZE {list(image_size)} must be [width, height] with both multiples "
                              f"of 32 (the ResNet backbone divides by 32), e.g. [192, 256] or [96, 128]")
    expected = heatmap_size_for(image_size, num_deconv)
    if list(map(int, heatmap_size)) != expected:
        raise ConfigSizeError(f"POSE_RESNET.HEATMAP_SIZE {list(heatmap_size)} does not match the network: "
                              f"MODEL.IMAGE_SIZE {list(image_size)} with {num_deconv} deconvolution layers gives "
                              f"{expected}; set --POSE_RESNET.HEATMAP_SIZE {expected}")
