"""The shape rules of SimplePoseNet, without MindSpore: what sizes and kernels the network can take.

:mod:`src.model` builds the network by these rules and the configuration checks them when it is
built (:mod:`src.model_utils.config_rules`), so a bad size is refused before any data is read.
"""
import re
from typing import Dict, Mapping, Optional, Sequence, Tuple

from src.errors import ConfigSizeError

#: The ResNet backbone divides the input size by this.
BACKBONE_STRIDE = 32
#: Deconvolution kernel -> (padding, output_padding) giving an output of exactly twice the input.
DECONV_PADDING: Dict[int, Tuple[int, int]] = {4: (1, 0), 3: (1, 1), 2: (0, 0)}
#: ResNet depth -> (bottleneck blocks?, blocks in layer1..layer4).
RESNET_LAYERS: Dict[int, Tuple[bool, Tuple[int, int, int, int]]] = {
    18: (False, (2, 2, 2, 2)),
    34: (False, (3, 4, 6, 3)),
    50: (True, (3, 4, 6, 3)),
    101: (True, (3, 4, 23, 3)),
    152: (True, (3, 8, 36, 3)),
}
_BLOCK = re.compile(r"^layer([1-4])\.(\d+)\.conv(\d)\.weight$")


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


def resnet_depth(names) -> Optional[int]:
    """The ResNet depth whose blocks a set of parameter names has (``layer<i>.<block>.conv<k>``), or None."""
    blocks, bottleneck = [0, 0, 0, 0], False
    for name in names:
        match = _BLOCK.match(name)
        if match:
            layer, block, conv = (int(g) for g in match.groups())
            blocks[layer - 1] = max(blocks[layer - 1], block + 1)
            bottleneck |= conv == 3
    for depth, (bottle, counts) in RESNET_LAYERS.items():
        if bottle == bottleneck and tuple(blocks) == counts:
            return depth
    return None


def mismatch_report(expected: Mapping[str, Sequence[int]], found: Mapping[str, Sequence[int]],
                    unexpected: bool = False, shown: int = 3) -> str:
    """What ``found`` (name -> shape) lacks of ``expected``, or holds with another shape: one line of counts
    and the first ``shown`` names, with the ResNet depth ``found`` looks like when it is not the expected
    one; empty when they fit. With ``unexpected``, entries of ``found`` the network lacks count too."""
    groups = [("missing", [n for n in expected if n not in found]),
              ("with another shape", [f"{n} {tuple(found[n])} instead of {tuple(expected[n])}"
                                      for n in expected if n in found and tuple(found[n]) != tuple(expected[n])])]
    if unexpected:
        groups.append(("unexpected", [n for n in found if n not in expected]))
    parts = [f"{len(names)} {label} (e.g. {', '.join(names[:shown])}{', ...' if len(names) > shown else ''})"
             for label, names in groups if names]
    if not parts:
        return ""
    depth, wanted = resnet_depth(found), resnet_depth(expected)
    if depth and depth != wanted:
        parts.append(f"its blocks are those of a ResNet-{depth}: set POSE_RESNET.NUM_LAYERS {depth}")
    return "; ".join(parts)
