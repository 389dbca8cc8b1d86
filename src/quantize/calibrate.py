"""Calibrates a checkpoint for int8 inference: runs it over training-set crops and writes each layer's activation
range to the calibration file (beside the checkpoint unless --output says otherwise), then reports each layer's
error in int8 against float32.

    python -m src.quantize.calibrate --config_path demo_config.yaml --ckpt CKPT [--num 256] [--output FILE]

The crops are those training would see (``DATASET.ROOT``/``DATASET.TRAIN_SET``, with its augmentation, in the
order of ``TRAIN.SEED``): the synthetic set's with ``demo_config.yaml``. Other ``--KEY value`` words are
configuration overrides. Then ``--MODEL.PRECISION int8`` runs eval.py, infer.py and track.py in int8.
"""
import logging
import math
import os
import sys
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from mindspore import Tensor

from src.errors import UserError
from src.model import get_pose_net
from src.model_utils.config import get_config
from src.model_utils.device_adapter import init_context
from src.quantize import calibration
from src.quantize.network import INPUT, QuantizedPoseNet
from src.quantize.precision import FLOAT_LAYERS_NOTE, operators_library, quantized_network
from src.utils.cli import run_cli, setup_logging, tool_parser

logger = logging.getLogger(__name__)

#: The range of a layer is the largest |x| over the crops. The file also records this percentile of |x| in each
#: batch, averaged over the batches, which clips the rare large values: measured on the demo network
#: (docs/int8.md) it lost AP (0.150 against 0.153 in fp32, keypoints 1.5 px from fp32's against 0.5 px).
PERCENTILE = 99.99
STATISTIC = "max |x| over the crops"
#: At most this many values of a layer's output per batch enter the percentile (an even subsample).
SUBSAMPLE = 1 << 20


def _percentile(values: np.ndarray) -> float:
    flat = np.abs(values.reshape(-1))
    if flat.size > SUBSAMPLE:
        flat = flat[::int(math.ceil(flat.size / SUBSAMPLE))]
    return float(np.percentile(flat, PERCENTILE))


def activation_ranges(recorder: QuantizedPoseNet, batches: Iterable[np.ndarray]) -> Tuple[Dict[str, float],
                                                                                           Dict[str, float], int]:
    """``(ranges, percentiles, samples)`` of the input and every layer's output over ``batches`` (N×3×H×W
    float32): the largest |x|, and :data:`PERCENTILE` of |x| per batch averaged over the batches.

    ``recorder`` is the float network on the int8 operators recording every layer (``ranges=None, record=True``).
    """
    sums: Dict[str, float] = {}
    maxima: Dict[str, float] = {}
    count = samples = 0
    for images in batches:
        values = recorder.layer_values(recorder(Tensor(images)))
        values[INPUT] = images
        for name, value in values.items():
            if name == "maxpool":
                continue
            sums[name] = sums.get(name, 0.0) + _percentile(value)
            maxima[name] = max(maxima.get(name, 0.0), float(np.abs(value).max()))
        count += 1
        samples += len(images)
    if count == 0:
        raise UserError("no calibration crops: the training set is empty")
    percentiles = {name: max(total / count, 1e-8) for name, total in sums.items()}
    return {name: max(value, 1e-8) for name, value in maxima.items()}, percentiles, samples


def layer_errors(recorder: QuantizedPoseNet, quantized: QuantizedPoseNet, images: np.ndarray) -> List[Tuple[str, float]]:
    """Each layer's output in int8 against float32 on ``images``: (name, RMS error / RMS of the float output);
    errors accumulate from the input on."""
    reference = recorder.layer_values(recorder(Tensor(images)))
    quantized.record = True
    try:
        ours = quantized.layer_values(quantized(Tensor(images)))
    finally:
        quantized.record = False
    rows = []
    for name, value in reference.items():
        rms = float(np.sqrt(np.mean(np.square(value.astype(np.float64)))))
        err = float(np.sqrt(np.mean(np.square(ours[name].astype(np.float64) - value))))
        rows.append((name, err / max(rms, 1e-12)))
    return rows


def training_crops(cfg, num: int) -> Iterable[np.ndarray]:
    """The first ``num`` training crops (batches of ``TRAIN.BATCH_SIZE``, N×3×H×W float32)."""
    from src.dataset import keypoint_dataset  # pylint: disable=import-outside-toplevel
    dataset, _ = keypoint_dataset(cfg, train_mode=True, num_parallel_workers=1)
    taken = 0
    for batch in dataset.create_dict_iterator(num_epochs=1, output_numpy=True):
        images = batch["image"][:num - taken]
        taken += len(images)
        yield images
        if taken >= num:
            return


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = tool_parser("python -m src.quantize.calibrate", __doc__)
    parser.add_argument("--ckpt", required=True, help="the trained checkpoint (.ckpt)")
    parser.add_argument("--num", type=int, default=256, help="calibration crops (default 256)")
    parser.add_argument("--output", default="", help="the calibration file (default: beside the checkpoint, "
                                                     "<checkpoint without .ckpt>.int8.json)")
    parser.epilog = "Other --KEY value words are configuration overrides (python train.py --help lists them)."
    args, overrides = parser.parse_known_args(argv)
    setup_logging()
    if args.num < 1:
        raise UserError(f"--num must be at least 1, got {args.num}")
    cfg = get_config(overrides + ["--MODEL.PRECISION", "fp32"])
    if not os.path.isfile(args.ckpt):
        raise FileNotFoundError(f"checkpoint not found: {args.ckpt}")
    init_context(cfg)
    net = get_pose_net(cfg, is_train=False, ckpt_path=args.ckpt)
    net.set_train(False)
    recorder = QuantizedPoseNet(net, operators_library(), None, record=True)
    first = None
    batches = []
    for images in training_crops(cfg, args.num):
        first = images if first is None else first
        batches.append(images)
    ranges, percentiles, samples = activation_ranges(recorder, batches)
    output = args.output or calibration.default_path(args.ckpt)
    data = f"{samples} training crops of {cfg.DATASET.ROOT} ({cfg.DATASET.TRAIN_SET}), seed {cfg.TRAIN.SEED}"
    calibration.write(output, cfg, args.ckpt, ranges, percentiles, samples, data, STATISTIC)
    logger.info("wrote the ranges of %d layers over %d crops to %s", len(ranges), samples, output)
    quantized = quantized_network(net, ranges)
    logger.info("int8 against float32, RMS error / RMS per layer (%s):", FLOAT_LAYERS_NOTE)
    for name, error in layer_errors(recorder, quantized, first):
        logger.info("  %-32s %.4f", name, error)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
