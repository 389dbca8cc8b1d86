"""Parameter files of the network: loading a checkpoint into it with a report of what does not fit.

A checkpoint (``.ckpt``) maps parameter names to arrays. Loading checks names and shapes first and
refuses a file that does not fit with one line: how many parameters are missing or shaped otherwise,
a few names, and the ResNet depth the file looks like when it is another one.
"""
import os
import re
from typing import Any, Dict, Mapping, Optional, Sequence

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn

from src.constants import RESNET_LAYERS
from src.errors import CheckpointMismatchError, ConfigError, shown_path

_BLOCK = re.compile(r"^layer([1-4])\.(\d+)\.conv(\d)\.weight$")


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


def load_parameters(params: Sequence[ms.Parameter], checkpoint: Dict[str, Any], path: str, what: str) -> None:
    """Copies ``checkpoint[p.name]`` into each of ``params`` after checking names and shapes.

    Raises:
        CheckpointMismatchError: with counts and examples of the missing and mis-shaped parameters
            (:func:`src.network.shape.mismatch_report`).
    """
    problems = mismatch_report({p.name: tuple(p.shape) for p in params},
                               {name: tuple(value.shape) for name, value in checkpoint.items()})
    if problems:
        raise CheckpointMismatchError(f"checkpoint {path} ({what}) does not fit the network: {problems}; "
                                      "check POSE_RESNET.NUM_LAYERS and the head settings")
    for param in params:
        value = checkpoint[param.name]
        data = value.asnumpy() if hasattr(value, "asnumpy") else np.asarray(value)
        param.set_data(Tensor(data, param.dtype))


def load_network_checkpoint(net: nn.Cell, path: str) -> None:
    """Loads every parameter of ``net`` from the checkpoint ``path`` (extra entries ignored).

    Raises:
        FileNotFoundError: ``path`` is not a file.
        CheckpointMismatchError: parameters missing from the file or of other shapes.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: '{shown_path(path)}'")
    load_parameters(list(net.get_parameters()), ms.load_checkpoint(path), path, "network checkpoint")


def channel_sources(source_names: Sequence[str], target_names: Sequence[str]) -> np.ndarray:
    """For each joint of ``target_names``, the index of the same joint in ``source_names``, -1 where it has none.

    COCO to PoseTrack: ``[0, -1, -1, 3, 4, ..., 16]`` (the two lists share 15 slots; COCO's eyes sit where
    PoseTrack has the head bottom and top).
    """
    return np.array([source_names.index(name) if name in source_names else -1 for name in target_names], np.int64)


def load_initial_weights(net: nn.Cell, path: str, sources: Sequence[int], output_layer: str = "final_layer",
                         what: str = "TRAIN.INIT_FROM") -> None:
    """Loads a whole-network checkpoint as the start of a training run on other joints.

    Every parameter is the checkpoint's, except that output channel ``j`` of ``output_layer`` (PoseResNet's
    heatmap convolution: its weight's and bias's first axis) is the checkpoint's channel ``sources[j]``, and
    keeps the network's initial values where ``sources[j]`` is -1 (a joint the checkpoint's data set lacks).
    Optimizer state and run entries in the file are ignored.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        CheckpointMismatchError: parameters missing from the file or of other shapes (``what`` names the setting).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: '{shown_path(path)}' ({what})")
    checkpoint = dict(ms.load_checkpoint(path))
    sources = np.asarray(sources, np.int64)
    params = list(net.get_parameters())
    for param in params:
        value = checkpoint.get(param.name)
        if not param.name.startswith(output_layer + ".") or value is None or tuple(value.shape) != tuple(param.shape):
            continue   # (a shape that does not fit is reported by load_parameters)
        if len(sources) != param.shape[0]:
            raise ValueError(f"{len(sources)} channel sources for the {param.shape[0]} channels of {param.name}")
        mapped = param.asnumpy().copy()
        taken = sources >= 0
        mapped[taken] = value.asnumpy()[sources[taken]]
        checkpoint[param.name] = mapped
    load_parameters(params, checkpoint, path, what)


def require_model_file(cfg, purpose: str) -> str:
    """``TEST.MODEL_FILE``, checked to be set and to exist, for the scripts that load a network."""
    model_file = cfg.TEST.MODEL_FILE
    if not model_file:
        raise ConfigError(f"no checkpoint to {purpose}: pass --eval_model_file PATH (or set TEST.MODEL_FILE)")
    if not os.path.isfile(model_file):
        raise FileNotFoundError(f"checkpoint not found: {shown_path(model_file)} (TEST.MODEL_FILE)")
    return model_file
