"""PyTorch weights to MindSpore checkpoints of this project.

    python -m src.convert --input pose_resnet_50_256x192.pth.tar --output simplepose_r50.ckpt [--KEY value ...]
    python -m src.convert --backbone --input resnet50-19c8e357.pth --output resnet50_imagenet.ckpt

Two modes:

* pose (default): a checkpoint of the Microsoft reference (human-pose-estimation.pytorch's
  ``pose_resnet``; a plain ``state_dict``, or a dict holding one under ``state_dict``, names
  possibly prefixed ``module.``) → the whole network, loadable by ``eval.py --eval_model_file``.
* ``--backbone``: an ImageNet ResNet ``state_dict`` in torchvision naming → the backbone
  checkpoint ``MODEL.PRETRAINED`` expects (the classifier ``fc.*`` dropped).

Names: BatchNorm ``weight/bias/running_mean/running_var`` → ``gamma/beta/moving_mean/
moving_variance`` (``num_batches_tracked`` dropped); ``downsample`` → ``down_sample_layer``;
the reference's ``deconv_layers`` Sequential ``[ConvTranspose2d, BatchNorm2d, ReLU] × n`` →
``deconv_layers.deconv_<i>.{deconv,bn}``. Convolution and transposed-convolution weights keep
their layout (both frameworks store ``out×in×k×k`` and ``in×out×k×k`` respectively). The result
is checked against the network of the configuration (``POSE_RESNET.*``, ``MODEL.NUM_JOINTS``):
missing, unexpected and mis-shaped parameters are all named.

Reading ``.pth`` files needs PyTorch, which is not a requirement of the project: install the CPU
build (``pip install torch==2.13.0``) where you convert.
"""
import logging
import os
import re
import sys
import zipfile
import zlib
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from src.errors import ConversionError, MissingDependencyError, TorchMissingError, import_optional, shown_path
from src.network.weights import mismatch_report, write_checkpoint
from src.utils.cli import run_cli, setup_logging, tool_parser
from src.model_utils.config import get_config

logger = logging.getLogger(__name__)

TORCH_INSTALL_HINT = "pip install torch==2.13.0 (the CPU build is enough)"
#: PyTorch BatchNorm entries → MindSpore names.
BN_NAMES = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}
#: The reference's head Sequential repeats [ConvTranspose2d, BatchNorm2d, ReLU].
DECONV_STEP = 3
DECONV_PART = {0: "deconv", 1: "bn"}
_DECONV = re.compile(r"^deconv_layers\.(\d+)\.(.+)$")


def _import_torch() -> Any:
    try:
        return import_optional("torch", "reading PyTorch checkpoints", TORCH_INSTALL_HINT, package="PyTorch")
    except MissingDependencyError as err:
        raise TorchMissingError(str(err)) from err.__cause__


def zip_member_damaged(path: str) -> str:
    """What is damaged in ``path`` when it is a zip archive (PyTorch's format since 1.6: each tensor a member with
    its CRC-32), "" otherwise. ``torch.load`` does not check the CRCs: zeroed bytes inside a tensor load silently.
    Files in the older pickle format have no checksum to check."""
    if not zipfile.is_zipfile(path):
        return ""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as err:
        return f"the archive cannot be read ({err})"
    return f"the checksum of its member {bad} does not match" if bad else ""


def load_torch_state_dict(path: str) -> Dict[str, np.ndarray]:
    """The tensors of a PyTorch checkpoint as NumPy arrays (a ``state_dict`` under ``state_dict`` unwrapped).

    Raises:
        FileNotFoundError: no file at ``path``.
        TorchMissingError: PyTorch is not installed.
        ConversionError: the file is damaged, or holds no state_dict.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"PyTorch checkpoint not found: '{shown_path(path)}'")
    damaged = zip_member_damaged(path)
    if damaged:
        raise ConversionError(f"PyTorch checkpoint {path} is damaged: {damaged}; download or copy it again")
    torch = _import_torch()
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle, zip and weights-only errors all mean "not a usable checkpoint"
        raise ConversionError(f"cannot read {path} as a PyTorch checkpoint ({type(err).__name__}: {err})") from err
    if isinstance(data, Mapping) and isinstance(data.get("state_dict"), Mapping):
        data = data["state_dict"]
    if not isinstance(data, Mapping) or not data:
        raise ConversionError(f"{path} holds no state_dict (a mapping of parameter names to tensors)")
    return {str(k): v.detach().cpu().numpy() for k, v in data.items() if hasattr(v, "detach")}


def convert_state_dict(state_dict: Mapping[str, np.ndarray], backbone: bool = False) -> Dict[str, np.ndarray]:
    """PyTorch names and arrays → this project's MindSpore names (arrays unchanged).

    Args:
        state_dict: Name → array, reference or torchvision naming (``module.`` prefixes allowed).
        backbone: Keep only the ResNet (drop ``fc.*``, ``deconv_layers.*``, ``final_layer.*``).

    Returns:
        MindSpore name → float32 array.
    """
    weights = {(k[len("module."):] if k.startswith("module.") else k): np.asarray(v) for k, v in state_dict.items()}
    bn_modules = {k[:-len(".running_mean")] for k in weights if k.endswith(".running_mean")}
    converted: Dict[str, np.ndarray] = {}
    for name, value in weights.items():
        module, _, leaf = name.rpartition(".")
        if leaf == "num_batches_tracked":
            continue
        if backbone and name.split(".")[0] in ("fc", "deconv_layers", "final_layer"):
            continue
        if module in bn_modules:
            leaf = BN_NAMES.get(leaf, leaf)
        module = module.replace(".downsample.", ".down_sample_layer.")
        match = _DECONV.match(f"{module}.{leaf}")
        if match:
            index, rest = int(match.group(1)), match.group(2)
            part = DECONV_PART.get(index % DECONV_STEP)
            if part is None:
                raise ConversionError(f"unexpected parameter {name}: deconv_layers.{index} is a ReLU in the reference")
            converted[f"deconv_layers.deconv_{index // DECONV_STEP}.{part}.{rest}"] = value.astype(np.float32)
            continue
        converted[f"{module}.{leaf}" if module else leaf] = value.astype(np.float32)
    return converted


def network_shapes(cfg: Any, backbone: bool = False) -> Dict[str, Tuple[int, ...]]:
    """Parameter name → shape of the configured network (or of its backbone)."""
    from src.model import get_pose_net  # pylint: disable=import-outside-toplevel
    net = get_pose_net(cfg, is_train=False, fast_cpu=False)
    params = net.backbone_parameters() if backbone else list(net.get_parameters())
    return {p.name: tuple(p.shape) for p in params}


def check_shapes(converted: Mapping[str, np.ndarray], expected: Mapping[str, Tuple[int, ...]], what: str) -> None:
    """Raises :class:`ConversionError` counting and naming missing, unexpected and mis-shaped parameters."""
    problems = mismatch_report(expected, {name: value.shape for name, value in converted.items()}, unexpected=True)
    if problems:
        raise ConversionError(f"{what} does not fit the network: {problems}; check POSE_RESNET.NUM_LAYERS, "
                              "the head settings and MODEL.NUM_JOINTS")


def save_checkpoint(converted: Mapping[str, np.ndarray], path: str) -> None:
    """Writes the arrays as a MindSpore checkpoint, whole and with its checksum
    (:func:`src.network.weights.write_checkpoint`)."""
    import mindspore as ms  # pylint: disable=import-outside-toplevel
    write_checkpoint([{"name": n, "data": ms.Tensor(v)} for n, v in converted.items()], path)


def convert_file(cfg: Any, input_path: str, output_path: str, backbone: bool = False) -> int:
    """Reads a ``.pth``, converts, checks against the configured network, writes the ``.ckpt``.

    Returns:
        The number of parameters written.
    """
    converted = convert_state_dict(load_torch_state_dict(input_path), backbone)
    check_shapes(converted, network_shapes(cfg, backbone),
                 f"{input_path} ({'ImageNet backbone' if backbone else 'pose network'})")
    save_checkpoint(converted, output_path)
    return len(converted)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = tool_parser("python -m src.convert", __doc__)
    parser.add_argument("--input", required=True, help="PyTorch checkpoint (.pth / .pth.tar)")
    parser.add_argument("--output", required=True, help="MindSpore checkpoint to write (.ckpt)")
    parser.add_argument("--backbone", action="store_true",
                        help="an ImageNet ResNet in torchvision naming -> the MODEL.PRETRAINED checkpoint")
    parser.epilog = "Other --KEY value words are configuration overrides (python train.py --help lists them)."
    args, overrides = parser.parse_known_args(argv)
    setup_logging()
    cfg = get_config(overrides)
    count = convert_file(cfg, args.input, args.output, args.backbone)
    logger.info("wrote %d parameters to %s", count, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
