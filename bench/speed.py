"""CPU throughput of SimplePoseNet: MindSpore's stock operators against the CPU fast path.

    python bench/speed.py [--num_layers 50] [--batch 8] [--iters 5] [--stock_iters 1] [--warmup 1]
                          [--mode GRAPH|PYNATIVE] [--paths fast,stock] [--tasks infer,train]
                          [--height 256 --width 192] [--threads N]

Inference is a forward pass in eval mode; training is one step of ``TrainOneStepCell``
(``WithLossCell`` + ``JointsMSELoss`` + Adam) on random data. Each measurement runs ``--warmup``
untimed calls (the first one compiles) and then ``--iters`` timed calls (``--stock_iters`` for the
stock path, whose 3×3 convolutions take about a second each on CPU). Prints one line per
measurement: images/s and seconds per batch (the median of the timed calls).
"""
import argparse
import os
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from src.model import PoseResNet  # noqa: E402  pylint: disable=wrong-import-position
from src.network_define import JointsMSELoss, WithLossCell  # noqa: E402  pylint: disable=wrong-import-position

NUM_JOINTS = 17


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num_layers", type=int, default=50, choices=(18, 34, 50, 101, 152))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=192)
    parser.add_argument("--iters", type=int, default=5, help="timed calls on the fast path")
    parser.add_argument("--stock_iters", type=int, default=1, help="timed calls on the stock path")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls first (the first compiles)")
    parser.add_argument("--mode", default="GRAPH", choices=("GRAPH", "PYNATIVE"), type=str.upper)
    parser.add_argument("--paths", default="fast,stock", help="comma-separated: fast, stock")
    parser.add_argument("--tasks", default="infer,train", help="comma-separated: infer, train")
    parser.add_argument("--threads", type=int, default=0,
                        help="MindSpore CPU kernel threads (ms.set_context(runtime_num_threads)); 0 keeps the default")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def build(num_layers: int, fast: bool) -> PoseResNet:
    return PoseResNet(num_layers, NUM_JOINTS, (256, 256, 256), (4, 4, 4), fast=fast)


def time_calls(call: Callable[[], Tensor], warmup: int, iters: int) -> float:
    """Median seconds of ``iters`` calls after ``warmup`` untimed ones (results synchronised)."""
    for _ in range(warmup):
        call().asnumpy()
    times: List[float] = []
    for _ in range(iters):
        start = time.perf_counter()
        call().asnumpy()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure(args: argparse.Namespace, fast: bool, task: str) -> float:
    rng = np.random.default_rng(args.seed)
    images = Tensor(rng.standard_normal((args.batch, 3, args.height, args.width)).astype(np.float32))
    net = build(args.num_layers, fast)
    iters = args.iters if fast else args.stock_iters
    if task == "infer":
        net.set_train(False)
        return time_calls(lambda: net(images), args.warmup, iters)
    heatmap = (args.batch, NUM_JOINTS, args.height // 4, args.width // 4)
    target = Tensor(rng.uniform(0, 1, heatmap).astype(np.float32))
    weight = Tensor(np.ones((args.batch, NUM_JOINTS, 1), np.float32))
    train_net = nn.TrainOneStepCell(WithLossCell(net, JointsMSELoss(True)),
                                    nn.Adam(net.trainable_params(), learning_rate=1e-3))
    train_net.set_train(True)
    return time_calls(lambda: train_net(images, target, weight), args.warmup, iters)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    ms.set_context(mode=getattr(ms, f"{args.mode}_MODE"))
    ms.set_device("CPU")
    if args.threads:
        ms.set_context(runtime_num_threads=args.threads)
    ms.set_seed(args.seed)
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    print(f"SimplePoseNet ResNet-{args.num_layers}, input {args.batch}x3x{args.height}x{args.width}, "
          f"{args.mode} mode, CPU ({os.cpu_count()} cores)", flush=True)
    seconds_by: Dict[str, float] = {}
    for task in tasks:
        for path in paths:
            seconds = measure(args, path == "fast", task)
            seconds_by[f"{path}_{task}"] = seconds
            label = "inference" if task == "infer" else "training"
            print(f"{path:5s} {label:9s}: {args.batch / seconds:8.3f} img/s  ({seconds:.3f} s/batch)", flush=True)
        if {"fast", "stock"} <= set(paths):
            ratio = seconds_by[f"stock_{task}"] / seconds_by[f"fast_{task}"]
            print(f"speed-up {task}: {ratio:.1f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
