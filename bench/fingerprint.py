"""Fingerprints of the CPU paths: sha256 of heatmaps and of trained weights, to show a restructure changed nothing.

    python -m bench.fingerprint [--mode GRAPH|PYNATIVE] [--steps 2]

For each CPU formulation and layout (stock, im2col; onednn with N×H×W×C between layers, with N×H×W×C in
inference only, and with every layer on N×C×H×W) a small SimplePoseNet (ResNet-18, 32 deconvolution
channels) gets the same seeded weights; the script prints one line each with the sha256 of its inference
heatmaps on a fixed batch, then of its parameters after ``--steps`` Adam steps and the losses of those steps.
Equal lines before and after a change mean bit-identical results on this CPU (oneDNN's kernels depend on the
instruction set, so compare lines taken on one machine: the first line names it).
"""
import argparse
import hashlib
import sys
from typing import Iterable, List, Optional, Sequence, Tuple

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn

from src.model import PoseResNet
from src.network.cpu_path import cpu_path
from src.network.onednn.isa import describe_cpu_isa
from src.network_define import JointsMSELoss, WithLossCell
from src.training.train_step import TrainStep

NUM_JOINTS = 17
BATCH, HEIGHT, WIDTH = 2, 96, 64
#: (name, MODEL.FAST_CPU, layout): the formulations and layouts compared.
VARIANTS: Tuple[Tuple[str, str, Optional[str]], ...] = (
    ("stock", "stock", None), ("im2col", "im2col", None), ("onednn-nhwc", "onednn", "nhwc"),
    ("onednn-nhwc-inference", "onednn", "nhwc-inference"), ("onednn-nchw", "onednn", "nchw"))


def build(fast: str, layout: Optional[str]) -> PoseResNet:
    """The small network on the given path and layout."""
    return PoseResNet(18, NUM_JOINTS, (32, 32, 32), (4, 4, 4), fast=fast, layout=layout)


def seeded(net: nn.Cell, seed: int = 0) -> nn.Cell:
    """Gives ``net`` seeded weights that make BatchNorm more than the identity (as the tests' ``randomize``)."""
    rng = np.random.default_rng(seed)
    for param in net.get_parameters():
        value = rng.standard_normal(param.shape).astype(np.float32)
        if param.name.endswith(("moving_variance", "gamma")):
            value = np.abs(value) * 0.5 + 0.5
        elif len(param.shape) == 4:
            value *= np.sqrt(2.0 / np.prod(param.shape[1:]))
        else:
            value *= 0.1
        param.set_data(Tensor(value))
    return net


def digest(arrays: Iterable[np.ndarray]) -> str:
    sha = hashlib.sha256()
    for array in arrays:
        sha.update(np.ascontiguousarray(array).tobytes())
    return sha.hexdigest()[:16]


def fingerprint(net: nn.Cell, steps: int) -> Tuple[str, str, List[float]]:
    """(heatmaps' hash, trained parameters' hash, losses) of ``net``."""
    rng = np.random.default_rng(1)
    images = Tensor(rng.standard_normal((BATCH, 3, HEIGHT, WIDTH)).astype(np.float32))
    target = Tensor(rng.uniform(0, 1, (BATCH, NUM_JOINTS, HEIGHT // 4, WIDTH // 4)).astype(np.float32))
    weight = Tensor(np.ones((BATCH, NUM_JOINTS, 1), np.float32))
    net.set_train(False)
    heatmaps = net(images).asnumpy()
    step = TrainStep(WithLossCell(net, JointsMSELoss(use_target_weight=True)),
                     nn.Adam(net.trainable_params(), learning_rate=1e-3))
    step.set_train(True)
    losses = [float(step(images, target, weight).asnumpy()) for _ in range(steps)]
    return digest([heatmaps]), digest(p.asnumpy() for p in net.get_parameters()), losses


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", default="GRAPH", choices=("GRAPH", "PYNATIVE"), type=str.upper)
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    ms.set_context(mode=getattr(ms, f"{args.mode}_MODE"))
    ms.set_device("CPU")
    print(f"oneDNN instruction set: {describe_cpu_isa()}; {args.mode} mode; MindSpore {ms.__version__}", flush=True)
    for name, fast, layout in VARIANTS:
        if cpu_path(fast).value != fast:
            print(f"{name:22s} skipped: the {fast} path is unavailable here (see the log line above)", flush=True)
            continue
        heatmaps, trained, losses = fingerprint(seeded(build(fast, layout)), args.steps)
        print(f"{name:22s} heatmaps {heatmaps}  trained {trained}  losses "
              f"{' '.join(f'{v:.9g}' for v in losses)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
