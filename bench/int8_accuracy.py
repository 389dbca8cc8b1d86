"""Accuracy of int8 inference against float32 on the validation set: COCO AP, AP50, AP75 and the mean keypoint
distance to float32's predictions, for the project's int8 network and ONNX Runtime's static quantization.

    python -m bench.int8_accuracy --config_path demo_config.yaml --ckpt CKPT [--contenders fp32,int8,onnx-int8]
                                  [--float_layers conv1,final_layer] [--ranges max|percentile] [--KEY value ...]

The checkpoint's calibration file (``python -m src.quantize.calibrate``, beside it or ``MODEL.CALIBRATION_FILE``)
gives the project's int8 network its ranges; ONNX Runtime's quantization (``bench.speed.onnx_int8_model``) is
calibrated on the same training crops (as many as the file records). ``--float_layers`` and ``--ranges`` vary
the project's choices (the layers kept in float32; the largest |x| seen, as the file's ranges, or its recorded percentile) for
measuring them: ``--float_layers ''`` quantizes every layer. Contenders: ``fp32`` (the float CPU path),
``int8``, ``bf16`` (the same operators in bf16, with ``--float_layers`` in float32; on an AVX-512 CPU without bf16
oneDNN emulates it, slowly, which MODEL.PRECISION refuses but the AP is the same), ``onnx`` (ONNX Runtime,
float32), ``onnx-int8``. Prints one line per contender.
"""
import argparse
import json
import os
import sys
import tempfile
from typing import Dict, Optional, Sequence

import mindspore as ms
import numpy as np

from bench.speed import onnx_int8_model, onnx_model, onnx_session
from src.evaluate.coco_eval import evaluate
from src.inference.estimator import PoseEstimator
from src.inference.loading import load_network
from src.inference.runner import run_inference
from src.model_utils.config import get_config
from src.network.onednn.isa import effective_isa, has_vnni, isa_name, runs_bf16
from src.quantize import calibration
from src.quantize.calibrate import training_crops
from src.quantize.network import BF16, INPUT, FLOAT_LAYERS, QuantizedPoseNet, layer_plan
from src.quantize.precision import calibration_path, operators_library


class OnnxNet:
    """An ONNX Runtime session called as a network (``net(Tensor) -> Tensor``), for a fixed batch size: a call of
    more crops (the flip test sends the crops and their mirror images as one batch) runs in slices of that size,
    and a short slice is padded with copies of its first crop."""

    def __init__(self, path: str, batch: int) -> None:
        self.session = onnx_session(path, 0)
        self.name = self.session.get_inputs()[0].name
        self.batch = batch

    def __call__(self, x: ms.Tensor) -> ms.Tensor:
        crops = x.asnumpy()
        outputs = []
        for start in range(0, len(crops), self.batch):
            part = crops[start:start + self.batch]
            count = len(part)
            if count < self.batch:
                part = np.concatenate([part, np.repeat(part[:1], self.batch - count, 0)])
            outputs.append(self.session.run(None, {self.name: part})[0][:count])
        return ms.Tensor(np.concatenate(outputs))


def predictions(cfg, net, out_dir: str):
    """COCO stats and the M×J×3 predictions of ``net`` on the validation set."""
    from src.dataset import keypoint_dataset  # pylint: disable=import-outside-toplevel
    dataset, samples = keypoint_dataset(cfg, train_mode=False, num_parallel_workers=cfg.TEST.DATALOADER_WORKERS)
    found = run_inference(PoseEstimator.from_config(cfg, net), dataset, len(samples))
    stats, _ = evaluate(cfg, found.preds, out_dir, found.boxes, found.image_ids)
    return stats, found.preds


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--contenders", default="fp32,int8,onnx-int8")
    parser.add_argument("--float_layers", default=",".join(FLOAT_LAYERS))
    parser.add_argument("--ranges", default="max", choices=("max", "percentile"))
    args, overrides = parser.parse_known_args(argv)
    cfg = get_config(overrides + ["--eval_model_file", args.ckpt, "--MODEL.PRECISION", "fp32"])
    net = load_network(cfg, args.ckpt)
    contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    if BF16 in contenders and not runs_bf16(effective_isa()):
        print(f"bf16: oneDNN has no bf16 kernels on {isa_name(effective_isa())}: measuring without it", flush=True)
        contenders.remove(BF16)
    path, ranges = calibration_path(cfg, args.ckpt), None
    if {"int8", "onnx-int8"} & set(contenders):  # bf16 needs no calibration
        names = [INPUT] + [layer.name for layer in layer_plan(net) if layer.kind != "pool"]
        ranges = calibration.read(path, cfg, args.ckpt, names)
        if args.ranges == "percentile":
            with open(path, encoding="utf-8") as handle:
                ranges = {k: float(v) for k, v in json.load(handle)["percentile"].items()}
    float_layers = [name for name in args.float_layers.split(",") if name]
    results: Dict[str, tuple] = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in contenders:
            if name == "fp32":
                model = net
            elif name in ("int8", BF16):
                model = QuantizedPoseNet(net, operators_library(name), ranges if name == "int8" else None,
                                         float_layers=float_layers, vnni=has_vnni(effective_isa()), precision=name)
                model.set_train(False)
            else:
                batch = int(cfg.TEST.BATCH_SIZE)
                size = [int(v) for v in cfg.MODEL.IMAGE_SIZE]
                exported = onnx_model(load_network(cfg, args.ckpt, fast_cpu=False, precision=False),
                                      np.zeros((batch, 3, size[1], size[0]), np.float32), os.path.join(folder, name))
                if name == "onnx-int8":
                    with open(path, encoding="utf-8") as handle:
                        samples = int(json.load(handle)["samples"])
                    crops = np.concatenate(list(training_crops(cfg, samples)))
                    usable = len(crops) // batch * batch
                    exported = onnx_int8_model(exported, np.split(crops[:usable], usable // batch),
                                               os.path.join(folder, name))
                model = OnnxNet(exported, batch)
            stats, preds = predictions(cfg, model, os.path.join(folder, name + "_results"))
            results[name] = (stats, preds)
            reference = results.get("fp32", (None, None))[1]
            distance = float(np.mean(np.linalg.norm(preds[:, :, :2] - reference[:, :, :2], axis=2))) \
                if reference is not None else float("nan")
            print(f"{name:10s} AP {stats['AP']:.4f}  AP50 {stats['Ap .5']:.4f}  AP75 {stats['AP .75']:.4f}  "
                  f"mean keypoint distance to fp32 {distance:.3f} px  (float layers: "
                  f"{','.join(float_layers) if name in ('int8', BF16) else '-'}; "
                  f"ranges {args.ranges if 'int8' in name else '-'})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
