"""The COCO AP that perfect (or slightly noisy) heatmaps reach at a given input size.

    python -m bench.heatmap_ceiling [--config_path demo_config.yaml] [--dataset_path data/synthetic]
                                    [--noise 0,0.5,1] [--seed 0]

For every labelled person of the validation set (ground-truth boxes), the target heatmaps the
training pipeline would draw are decoded by ``get_final_preds`` and scored with COCO's keypoint
AP, exactly as eval.py scores a network's output. ``--noise`` moves each labelled joint by
Gaussian noise of that many heatmap pixels (per coordinate) before drawing, so the table shows
how precise a network must be at this resolution to reach a given AP.
"""
import argparse
import contextlib
import io
import logging
import os
import sys
import tempfile
from typing import Optional, Sequence

import numpy as np

from src.constants import PIXEL_STD
from src.dataset import KeypointDatasetGenerator
from src.evaluate.coco_eval import default_ann_file, evaluate
from src.utils.cli import run_cli
from src.model_utils.config import get_config
from src.predict import get_final_preds
from src.utils.transform import affine_transform, get_affine_transform


def ceiling_ap(cfg, noise_px: float, seed: int) -> float:
    """COCO AP of ground-truth heatmaps (joints jittered by ``noise_px`` heatmap pixels)."""
    generator = KeypointDatasetGenerator(cfg, is_train=False)
    ann_file = default_ann_file(cfg)
    generator.load_gt_dataset(os.path.join(cfg.DATASET.ROOT, cfg.DATASET.TEST_SET), ann_file)
    stride = np.asarray(generator.codec.image_size) / np.asarray(generator.codec.heatmap_size)
    rng = np.random.default_rng(seed)
    heatmaps = []
    for i in range(len(generator)):
        trans = get_affine_transform(generator.centers[i], generator.scales[i], 0, generator.image_size)
        joints = generator.joints[i].astype(np.float64).copy()
        labelled = generator.joints_vis[i][:, 0] > 0
        joints[labelled, :2] = affine_transform(joints[labelled, :2], trans)
        joints[labelled, :2] += rng.normal(0.0, noise_px, (int(labelled.sum()), 2)) * stride
        heatmaps.append(generator.generate_heatmap(joints, generator.joints_vis[i])[0])
    preds, maxvals = get_final_preds(cfg, np.stack(heatmaps), generator.centers, generator.scales)
    areas = np.prod(generator.scales * PIXEL_STD, axis=1)
    boxes = np.column_stack([generator.centers, generator.scales, areas, np.ones(len(generator))])
    with tempfile.TemporaryDirectory() as output_dir, contextlib.redirect_stdout(io.StringIO()):
        _, ap = evaluate(cfg, np.concatenate([preds, maxvals], axis=2), output_dir, boxes,
                         generator.image_ids, ann_file)
    return float(ap)


def main(argv: Optional[Sequence[str]]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--noise", default="0,0.5,1", help="comma-separated noise levels, heatmap pixels")
    parser.add_argument("--seed", type=int, default=0)
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    cfg = get_config(rest)   # refuses sizes the network cannot produce: the table is meant to pick one
    logging.basicConfig(level=logging.WARNING)
    width, height = cfg.MODEL.IMAGE_SIZE
    sigma = cfg.POSE_RESNET.SIGMA
    for noise in (float(v) for v in args.noise.split(",")):
        ap = ceiling_ap(cfg, noise, args.seed)
        print(f"{height}x{width} input, sigma {sigma}: joint noise {noise:g} heatmap px -> AP {ap:.3f}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
