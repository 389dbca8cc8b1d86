"""Data pipeline benchmark: training samples/s of ``keypoint_dataset`` and where a sample's time goes.

    python -m bench.pipeline [--root DIR] [--workers 1 2] [--batches 40] [--stage_samples 400]

Without ``--root`` a 200-image synthetic training set is written to a temporary folder.
Throughput is measured on the full training pipeline (decode, augmentation, crop, targets,
normalisation, batching) at the default input 256×192 and the demo input 128×96. The stage
split times the generator's own steps one after another in a single process: decode
(``cv2.imread``), warp (augmentation draw, ``warpAffine`` and the joint transform) and target
(``generate_heatmap``); "pipeline" is what the single-worker pipeline spends beyond them.
Figures depend on the CPU and on whatever else runs on it.
"""
import argparse
import logging
import os
import sys
import tempfile
import time
from typing import Dict, List, Sequence, Tuple

import numpy as np


from src.dataset import PersonSamples, keypoint_dataset
from src.model_utils.config import get_config
from src.synthetic import generate

SIZES: Tuple[Tuple[int, int], ...] = ((192, 256), (96, 128))  # [W, H]


def throughput(dataset, batch_size: int, batches: int, warmup: int = 3) -> float:
    """Samples per second over ``batches`` batches after ``warmup`` (epochs repeat as needed)."""
    iterator = dataset.create_tuple_iterator(output_numpy=True, num_epochs=-1)
    start, done = 0.0, 0
    for i, _ in enumerate(iterator):
        if i == warmup:
            start = time.perf_counter()
        elif i > warmup:
            done += batch_size
            if i == warmup + batches:
                break
    elapsed = time.perf_counter() - start
    iterator.stop()
    return done / elapsed


def stage_times(gen: PersonSamples, samples: int, seed: int = 0) -> Dict[str, float]:
    """Mean seconds per sample of decode, warp and target, timed directly."""
    rng = np.random.default_rng(seed)
    gen[0]  # per-process set-up (OpenCV threads) as in the pipeline
    totals = {"decode": 0.0, "warp": 0.0, "target": 0.0}
    for idx in rng.integers(0, len(gen), samples):
        t0 = time.perf_counter()
        image = gen.read_image(int(idx))
        t1 = time.perf_counter()
        _, joints, joints_vis, _, _ = gen.warp_sample(int(idx), image)
        t2 = time.perf_counter()
        gen.generate_heatmap(joints, joints_vis)
        t3 = time.perf_counter()
        totals["decode"] += t1 - t0
        totals["warp"] += t2 - t1
        totals["target"] += t3 - t2
    return {k: v / samples for k, v in totals.items()}


def run(root: str, workers: Sequence[int], batches: int, stage_samples: int, batch_size: int) -> None:
    rows: List[Tuple[str, int, float]] = []
    stages = {}
    for w, h in SIZES:
        cfg = get_config(["--dataset_path", root, "--MODEL.IMAGE_SIZE", f"[{w},{h}]",
                          "--POSE_RESNET.HEATMAP_SIZE", f"[{w // 4},{h // 4}]", "--batch_size", str(batch_size)])
        name = f"{h}x{w}"
        for n in workers:
            dataset, gen = keypoint_dataset(cfg, train_mode=True, num_parallel_workers=n)
            rows.append((name, n, throughput(dataset, batch_size, batches)))
        stages[name] = stage_times(gen, stage_samples)

    print(f"\ntraining pipeline, batch {batch_size}, {len(gen)} records, {os.cpu_count()} CPUs")
    print(f"{'input':<9}{'workers':>8}{'samples/s':>11}")
    for name, n, sps in rows:
        print(f"{name:<9}{n:>8}{sps:>11.0f}")
    print("\nstage cost per sample (ms, share of the 1-worker pipeline time)")
    print(f"{'input':<9}" + "".join(f"{k:>16}" for k in ("decode", "warp", "target", "pipeline")))
    for name, times in stages.items():
        one = [sps for r_name, n, sps in rows if r_name == name and n == 1]
        total = 1.0 / one[0] if one else sum(times.values())
        parts = dict(times, pipeline=max(0.0, total - sum(times.values())))
        print(f"{name:<9}" + "".join(f"{v * 1e3:>9.2f} ({v / total:>3.0%})" for v in parts.values()))


def main(argv: Sequence[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", help="dataset root (default: a fresh 200-image synthetic set)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batches", type=int, default=40, help="timed batches per configuration")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--stage_samples", type=int, default=400)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.root
        if not root:
            root = tmp
            generate(root, num_train=200, num_val=0, seed=0)
        run(root, args.workers, args.batches, args.stage_samples, args.batch_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
