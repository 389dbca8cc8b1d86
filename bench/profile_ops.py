"""Where the time of the CPU fast path goes: MindSpore's profiler over a few steps, by kind of work.

    python -m bench.profile_ops [--tasks infer,train] [--num_layers 50] [--batch 8] [--height 256 --width 192]
                                [--steps 2] [--warmup 2] [--output DIR] [--top 12] [--fast True|onednn|im2col]

For each task (inference: a forward pass in eval mode; training: one step of
``TrainStep(WithLossCell(net, JointsMSELoss(True)), nn.Adam)`` as ``train.py`` runs it on the CPU),
``--warmup`` untimed calls, then ``--steps`` calls under ``mindspore.Profiler``. The kernels' own
times (from the profiler's ``cpu_op_type_info`` table) are summed per kind of work and printed per
step with their share of the kernels' total, then the ``--top`` operator types. Kernel times add up
to more than the wall clock when kernels overlap and to less when the framework waits between
them; the shares are what to read. Other jobs on the machine inflate every kernel alike, roughly.
"""
import argparse
import csv
import glob
import os
import sys
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn

from src.model import PoseResNet
from src.network_define import JointsMSELoss, WithLossCell
from src.training.train_step import TrainStep

NUM_JOINTS = 17
#: kind of work -> MindSpore CPU operator types (anything else counts as "other")
KINDS: Dict[str, Tuple[str, ...]] = {
    "oneDNN operators (convolutions, their gradients, max-pool; custom)": ("Custom",),
    "matrix products (1x1 Conv2D and its gradients)": ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter",
                                                       "MatMul", "BatchMatMul"),
    "im2col / col2im (unfold, fold)": ("Im2Col", "Col2Im"),
    "BatchNorm and its gradient": ("BatchNorm", "BatchNormGrad"),
    "bias additions (folded BatchNorm) and the BatchNorm centring": ("BiasAdd", "BiasAddGrad", "StridedSlice"),
    "ReLU and its gradient": ("ReLU", "ReluGrad"),
    "element-wise adds (residuals, gradient sums)": ("Add", "AddN"),
    "layout (transpose, reshape, slice, concat)": ("Transpose", "Reshape", "Slice", "Concat", "SliceGrad",
                                                   "Split", "Stack", "Unstack"),
    "max-pool and its gradient": ("MaxPool", "MaxPoolGrad", "MaxPoolGradWithArgmax", "MaxPoolWithArgmax",
                                  "MaxPool3DWithArgmax", "MaxPool3DGradWithArgmax"),
    "Adam update": ("Adam",),
}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="infer,train", help="comma-separated: infer, train")
    parser.add_argument("--num_layers", type=int, default=50, choices=(18, 34, 50, 101, 152))
    parser.add_argument("--deconv_filters", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=192)
    parser.add_argument("--steps", type=int, default=2, help="profiled calls")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls first (the first compiles)")
    parser.add_argument("--output", default="", help="the profiler's folder (default: a temporary one)")
    parser.add_argument("--top", type=int, default=12, help="operator types listed")
    parser.add_argument("--fast", default="True", help="the CPU path (MODEL.FAST_CPU): True, onednn or im2col")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def build_call(args: argparse.Namespace, task: str):
    rng = np.random.default_rng(args.seed)
    net = PoseResNet(args.num_layers, NUM_JOINTS, (args.deconv_filters,) * 3, (4, 4, 4), fast=args.fast)
    images = Tensor(rng.standard_normal((args.batch, 3, args.height, args.width)).astype(np.float32))
    if task == "infer":
        net.set_train(False)
        return lambda: net(images).asnumpy()
    heatmaps = (args.batch, NUM_JOINTS, args.height // 4, args.width // 4)
    target = Tensor(rng.uniform(0, 1, heatmaps).astype(np.float32))
    weight = Tensor(np.ones((args.batch, NUM_JOINTS, 1), np.float32))
    step = TrainStep(WithLossCell(net, JointsMSELoss(use_target_weight=True)),
                     nn.Adam(net.trainable_params(), learning_rate=1e-3))
    step.set_train(True)
    return lambda: step(images, target, weight).asnumpy()


def read_op_types(folder: str) -> Dict[str, float]:
    """Operator type -> total kernel milliseconds, from the profiler's CPU table under ``folder``."""
    tables = glob.glob(os.path.join(folder, "**", "cpu_op_type_info_*.csv"), recursive=True)
    if not tables:
        raise FileNotFoundError(f"no cpu_op_type_info_*.csv under {folder}: did the profiler run?")
    totals: Dict[str, float] = {}
    with open(tables[0], newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            totals[row["op_type"]] = totals.get(row["op_type"], 0.0) + float(row["total_compute_time"])
    return totals


def by_kind(totals: Dict[str, float]) -> List[Tuple[str, float]]:
    kind_of = {op: kind for kind, ops in KINDS.items() for op in ops}
    sums: Dict[str, float] = {}
    for op, ms_total in totals.items():
        kind = kind_of.get(op, "other")
        sums[kind] = sums.get(kind, 0.0) + ms_total
    return sorted(sums.items(), key=lambda item: -item[1])


def profile(args: argparse.Namespace, task: str, folder: str) -> Dict[str, float]:
    call = build_call(args, task)
    for _ in range(args.warmup):
        call()
    profiler = ms.Profiler(output_path=folder)
    for _ in range(args.steps):
        call()
    profiler.stop()
    profiler.analyse()
    return {op: total / args.steps for op, total in read_op_types(folder).items()}


def report(task: str, per_step: Dict[str, float], top: int) -> None:
    total = sum(per_step.values())
    label = "inference" if task == "infer" else "training step"
    print(f"{label}: kernels {total:.0f} ms per step", flush=True)
    for kind, value in by_kind(per_step):
        print(f"  {value:8.1f} ms  {100 * value / total:5.1f} %  {kind}")
    ranked = sorted(per_step.items(), key=lambda item: -item[1])[:top]
    print("  top operator types: " + ", ".join(f"{op} {100 * value / total:.1f} %" for op, value in ranked),
          flush=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    ms.set_seed(args.seed)
    print(f"SimplePoseNet ResNet-{args.num_layers}, input {args.batch}x3x{args.height}x{args.width}, GRAPH mode, "
          f"CPU path {args.fast}, {args.steps} profiled steps", flush=True)
    for task in (t.strip() for t in args.tasks.split(",") if t.strip()):
        if args.output:
            folder = os.path.join(args.output, task)
            report(task, profile(args, task, folder), args.top)
        else:
            with tempfile.TemporaryDirectory() as folder:
                report(task, profile(args, task, folder), args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
