"""The inference precision (``MODEL.PRECISION``): the one place that turns a loaded float network into the network
eval.py, infer.py, track.py and the benches run (:func:`src.inference.loading.load_network` calls it)."""
import logging
from typing import Any, Optional

from mindspore import nn

from src.errors import PrecisionError
from src.network import onednn
from src.network.onednn.isa import effective_isa, has_bf16, has_vnni, isa_name
from src.quantize import calibration
from src.quantize.network import BF16, FLOAT_LAYERS, FP32, INPUT, INT8, QuantizedPoseNet, layer_plan

logger = logging.getLogger(__name__)
FLOAT_LAYERS_NOTE = f"{', '.join(FLOAT_LAYERS)} in float32"


def calibration_path(cfg: Any, model_file: Optional[str]) -> str:
    """``MODEL.CALIBRATION_FILE``, or the file beside ``model_file``."""
    if cfg.MODEL.CALIBRATION_FILE:
        return str(cfg.MODEL.CALIBRATION_FILE)
    if not model_file:
        raise PrecisionError("MODEL.PRECISION int8 without a checkpoint needs MODEL.CALIBRATION_FILE")
    return calibration.default_path(model_file)


def operators_library(precision: str = INT8) -> str:
    """The compiled int8 and bf16 operators (``int8.cc``), or PrecisionError saying why there are none."""
    path, description = onednn.library_status()
    if path is None:
        raise PrecisionError(f"MODEL.PRECISION {precision} needs the oneDNN {precision} operators, which are "
                             f"unavailable: {description}")
    return path


def quantized_network(net: nn.Cell, ranges: dict) -> QuantizedPoseNet:
    """``net`` in int8 with the activation ranges ``ranges`` (layer name -> max |x|), for this CPU's kernels."""
    lib = operators_library()
    isa = effective_isa()
    logger.info("inference in int8: oneDNN on %s (%s weights)", isa_name(isa),
                "8-bit" if has_vnni(isa) else "7-bit, no VNNI")
    qnet = QuantizedPoseNet(net, lib, ranges, vnni=has_vnni(isa))
    qnet.set_train(False)
    return qnet


def bf16_network(net: nn.Cell) -> QuantizedPoseNet:
    """``net`` in bf16 on this CPU's kernels (float32 sums; :data:`FLOAT_LAYERS` in float32)."""
    lib = operators_library(BF16)
    logger.info("inference in bf16: oneDNN on %s (%s)", isa_name(effective_isa()), FLOAT_LAYERS_NOTE)
    bnet = QuantizedPoseNet(net, lib, None, precision=BF16)
    bnet.set_train(False)
    return bnet


def inference_network(cfg: Any, net: nn.Cell, model_file: Optional[str]) -> nn.Cell:
    """The network to run at ``MODEL.PRECISION``: ``net`` itself in fp32.

    Raises:
        PrecisionError: the precision cannot run here (no int8 operators; bf16 on a CPU without it).
        CalibrationError: int8 with a missing, stale or mismatched calibration file.
    """
    precision = str(getattr(cfg.MODEL, "PRECISION", FP32))
    if precision == FP32:
        return net
    if precision == BF16:
        isa = effective_isa()
        if not has_bf16(isa):
            raise PrecisionError(f"MODEL.PRECISION bf16 needs a CPU with avx512_bf16 or AMX; oneDNN runs "
                                 f"{isa_name(isa)} here: use fp32 or int8")
        return bf16_network(net)
    path = calibration_path(cfg, model_file)
    names = [INPUT] + [layer.name for layer in layer_plan(net) if layer.kind != "pool"]
    ranges = calibration.read(path, cfg, model_file, names)
    logger.info("int8 calibration: %s", path)
    return quantized_network(net, ranges)
