"""Cost per training step of the CPU path's accurate BatchNorm backward (``src.network.fast_ops.BatchNorm2d``).

    python -m bench.batchnorm [--nets r50,demo] [--rounds 7] [--warmup 2] [--mode GRAPH|PYNATIVE]

For each network, two training steps on the CPU fast path (``TrainOneStepCell`` with
``WithLossCell`` + ``JointsMSELoss`` + Adam, on random data) are built from the same weights: one
with MindSpore's stock BatchNorm backward (``centred_grad`` off), one with the centred backward the
fast path uses. Their calls alternate (stock, centred, stock, centred, ...) in one process, so that
the load of other jobs on the machine falls on both alike. Prints, per network, the median seconds
per step of each and the median of the per-round ratios centred / stock, by the wall clock and by
the process's CPU time (the steady one while other jobs load the machine: MindSpore's CPU kernels
use all cores, so the wall clock counts the time others hold them).

Networks: ``r50`` ResNet-50 at 256×192, 256 deconvolution channels, batch 8 (as ``bench/speed.py``);
``demo`` the demo's ResNet-18 at 160×128, 128 deconvolution channels, batch 16.
"""
import argparse
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn

from src.network.fast_ops import BatchNorm2d
from src.model import PoseResNet
from src.network_define import JointsMSELoss, WithLossCell

NUM_JOINTS = 17
#: name -> (ResNet depth, deconvolution channels, batch, height, width)
NETWORKS: Dict[str, Tuple[int, int, int, int, int]] = {
    "r50": (50, 256, 8, 256, 192),
    "demo": (18, 128, 16, 160, 128),
}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nets", default="r50,demo", help=f"comma-separated, of {', '.join(NETWORKS)}")
    parser.add_argument("--rounds", type=int, default=7, help="timed (stock, centred) pairs of steps")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps of each first (the first compiles)")
    parser.add_argument("--mode", default="GRAPH", choices=("GRAPH", "PYNATIVE"), type=str.upper)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def build(name: str, centred: bool) -> PoseResNet:
    """Network ``name`` on the fast path, with the centred or the stock BatchNorm backward."""
    depth, filters, _, _, _ = NETWORKS[name]
    net = PoseResNet(depth, NUM_JOINTS, (filters,) * 3, (4, 4, 4), fast=True)
    for _, cell in net.cells_and_names():
        if isinstance(cell, BatchNorm2d):
            cell.centred_grad = centred   # read when the graph is compiled, i.e. at the first call
    return net


def train_step(net: PoseResNet) -> nn.Cell:
    step = nn.TrainOneStepCell(WithLossCell(net, JointsMSELoss(True)),
                               nn.Adam(net.trainable_params(), learning_rate=1e-3))
    step.set_train(True)
    return step


def measure(name: str, args: argparse.Namespace) -> Dict[str, Tuple[float, float, float]]:
    """For wall-clock and process CPU time: (median s/step stock, median s/step centred, median of the
    per-round ratios centred / stock)."""
    _, _, batch, height, width = NETWORKS[name]
    rng = np.random.default_rng(args.seed)
    inputs = (Tensor(rng.standard_normal((batch, 3, height, width)).astype(np.float32)),
              Tensor(rng.uniform(0, 1, (batch, NUM_JOINTS, height // 4, width // 4)).astype(np.float32)),
              Tensor(np.ones((batch, NUM_JOINTS, 1), np.float32)))
    nets = build(name, False), build(name, True)
    for source, target in zip(*(net.get_parameters() for net in nets)):
        target.set_data(source.data.copy())
    stock, centred = (train_step(net) for net in nets)
    for step in (stock, centred):
        for _ in range(args.warmup):
            step(*inputs).asnumpy()
    wall: Dict[str, List[float]] = {"stock": [], "centred": []}
    cpu: Dict[str, List[float]] = {"stock": [], "centred": []}
    for _ in range(args.rounds):
        for label, step in (("stock", stock), ("centred", centred)):
            start, start_cpu = time.perf_counter(), time.process_time()
            step(*inputs).asnumpy()
            wall[label].append(time.perf_counter() - start)
            cpu[label].append(time.process_time() - start_cpu)
    return {clock: (float(np.median(times["stock"])), float(np.median(times["centred"])),
                    float(np.median(np.array(times["centred"]) / np.array(times["stock"]))))
            for clock, times in (("wall", wall), ("cpu", cpu))}


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    ms.set_context(mode=getattr(ms, f"{args.mode}_MODE"))
    ms.set_device("CPU")
    ms.set_seed(args.seed)
    for name in (n.strip() for n in args.nets.split(",") if n.strip()):
        depth, filters, batch, height, width = NETWORKS[name]
        print(f"{name}: ResNet-{depth}, {filters} deconvolution channels, batch {batch} at {height}x{width}, "
              f"{args.mode} mode, {args.rounds} rounds", flush=True)
        for clock, (stock, centred, ratio) in measure(name, args).items():
            print(f"  {clock:4s}: stock backward {stock:.3f} s/step, centred {centred:.3f} s/step, "
                  f"ratio {ratio:.3f} ({100 * (ratio - 1):+.1f} %)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
