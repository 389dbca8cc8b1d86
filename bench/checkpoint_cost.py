"""What a training checkpoint costs: time to write one and its size, for a network of a given depth.

    python -m bench.checkpoint_cost [--num_layers 50] [--height 256 --width 192] [--repeat 5] [--dir DIR]

Builds the training Cell ``train.py`` builds on the CPU (network, Adam, :class:`src.training.train_step.TrainStep`),
runs one step so every state is allocated, then writes the checkpoint ``train.py`` writes
(:class:`src.training.checkpoint.CheckpointSaver`) ``--repeat`` times and prints the median seconds and the size.
Also times one read of the step record (the callbacks' per-call cost). ``--dir`` is where the files go
(default: a temporary folder on the same disk as the repository's ``/tmp``).
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Sequence

import mindspore as ms
import numpy as np
from mindspore import nn

from src.training.checkpoint import CheckpointSaver
from src.model_utils.config import get_config
from src.model import get_pose_net
from src.training.steps import make_plan
from src.training.train_step import build_train_network


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num_layers", type=int, default=50, choices=(18, 34, 50, 101, 152))
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=192)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", default="", help="folder for the checkpoints (default: a temporary one)")
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    ms.set_device("CPU")
    cfg = get_config(["--device_target", "CPU", "--POSE_RESNET.NUM_LAYERS", str(args.num_layers),
                      "--MODEL.INIT_WEIGHTS", "False", "--MODEL.IMAGE_SIZE", f"[{args.width},{args.height}]",
                      "--POSE_RESNET.HEATMAP_SIZE", f"[{args.width // 4},{args.height // 4}]"])
    net = get_pose_net(cfg, is_train=True)
    steps = 2340   # a COCO epoch at batch 64
    plan = make_plan(steps, 0, 140)
    optimizer = nn.Adam(net.trainable_params(), learning_rate=ms.Tensor(np.full(plan.last_step, 1e-3, np.float32)))
    train_net = build_train_network(cfg.device_target, net, optimizer)
    train_net.set_train()
    batch = 2
    image = ms.Tensor(np.random.default_rng(0).standard_normal((batch, 3, args.height, args.width)), ms.float32)
    target = ms.Tensor(np.zeros((batch, 17, args.height // 4, args.width // 4), np.float32))
    weight = ms.Tensor(np.ones((batch, 17, 1), np.float32))
    train_net(image, target, weight)

    with tempfile.TemporaryDirectory(dir=args.dir or None) as folder:
        saver = CheckpointSaver(train_net, folder, plan, keep_max=2)
        seconds = []
        for k in range(args.repeat):
            start = time.perf_counter()
            path = saver.save(1, k + 1, k + 1)
            seconds.append(time.perf_counter() - start)
        size = os.path.getsize(path)
    start = time.perf_counter()
    for _ in range(100):
        optimizer.global_step.asnumpy()
        train_net.loss_record.asnumpy()
    record = (time.perf_counter() - start) / 100
    params = sum(int(np.prod(p.shape)) for p in net.trainable_params())
    print(f"ResNet-{args.num_layers} {args.width}x{args.height}: {params / 1e6:.1f} M trainable parameters, "
          f"checkpoint {size / 2 ** 20:.0f} MiB, written in {statistics.median(seconds):.2f} s "
          f"(median of {args.repeat}: {', '.join(f'{s:.2f}' for s in seconds)}); step record read {record * 1e6:.0f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
