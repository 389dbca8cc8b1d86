"""Benchmark of the evaluation post-processing at COCO val2017 scale.

104,125 person boxes over 5,000 images (COCO val2017 with the reference's
person detections). Heatmaps (104,125×17×64×48 float32 would be 21 GB) are
synthesized batch by batch, untimed: Gaussian peaks of random height on a
noise floor, several jittered detections per person so that OKS-NMS has
near-duplicates to remove. Timed, separately: the flip merge, decoding
(``get_final_preds``), rescoring, per-image OKS-NMS and writing the results
JSON; COCOeval is not run (no ground truth). The same stages as the original
wrote them (the maxima by NumPy over whole maps, then Python loops per sample
and joint for the quarter-pixel step and the affine back-projection, and per
image for rescoring and OKS-NMS) are timed on the first ``--loop-fraction`` of
the images and extrapolated by box count.

Usage: python -m bench.postprocess [--boxes N] [--images M] [--batch-size B]
                                   [--loop-fraction F] [--seed S]
"""
import argparse
import contextlib
import os
import tempfile
import time
from collections import defaultdict
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np


from src.constants import FLIP_PAIRS, NUM_COCO_JOINTS
from src.evaluate.coco_eval import rescore
from src.evaluate.results import evaluation_entries, write_results
from src.model_utils.config import get_config
from src.inference.decoder import PoseDecoder
from src.predict import merge_flip
from src.utils.nms import oks_nms_per_image
from src.utils.transform import flip_back
from bench.reference import loop_oks_nms, loop_refine, loop_rescore, loop_transform_preds

NOISE_BANK = 64
MAX_PER_IMAGE = 100
SIGMA = 2.0


def synthesize_boxes(rng: np.random.Generator, num_boxes: int, num_images: int,
                     heatmap_size: Sequence[int]) -> Dict[str, np.ndarray]:
    """Detections grouped by image: a few people per image, several boxes per person.

    Returns arrays over the N boxes: ``image_id`` (N), ``center``/``scale`` (N×2
    float32), ``score`` (N), ``peaks`` (N×J×2, heatmap space) and ``peak_value`` (N×J).
    """
    width, height = heatmap_size
    # Skewed boxes per image, at most MAX_PER_IMAGE (a detector's cap): most images few, some a hundred.
    weights = rng.lognormal(0.0, 1.0, num_images)
    per_image = np.ones(num_images, dtype=np.int64)
    while per_image.sum() < num_boxes:
        extra = rng.multinomial(num_boxes - per_image.sum(), weights / weights.sum())
        per_image = np.minimum(per_image + extra, MAX_PER_IMAGE)
    image_id = np.repeat(np.arange(num_images) + 1, per_image)
    people_per_image = 1 + rng.poisson(2.0, num_images)
    person = np.floor(rng.random(num_boxes) * np.repeat(people_per_image, per_image)).astype(np.int64)
    person += np.repeat(np.cumsum(people_per_image) - people_per_image, per_image)
    num_people = people_per_image.sum()

    person_center = rng.uniform(100, 540, (num_people, 2))
    person_scale = rng.uniform(0.2, 2.5, (num_people, 1)) * [1.0, 4.0 / 3.0]
    person_pose = np.stack([rng.uniform(4, width - 4, (num_people, NUM_COCO_JOINTS)),
                            rng.uniform(4, height - 4, (num_people, NUM_COCO_JOINTS))], axis=2)
    # Duplicates: tight (0.5 px) to loose (3 px) jitter of the peaks, a few % on the box.
    spread = rng.choice([0.5, 1.0, 3.0], (num_boxes, 1, 1))
    return {
        'image_id': image_id,
        'center': (person_center[person] * rng.normal(1.0, 0.01, (num_boxes, 2))).astype(np.float32),
        'scale': (person_scale[person] * rng.normal(1.0, 0.02, (num_boxes, 1))).astype(np.float32),
        'score': rng.uniform(0.05, 1.0, num_boxes),
        'peaks': person_pose[person] + rng.normal(0.0, spread, (num_boxes, NUM_COCO_JOINTS, 2)),
        'peak_value': rng.uniform(0.0, 1.0, (num_boxes, NUM_COCO_JOINTS)) * rng.choice([0.3, 1.0], (num_boxes, 1)),
    }


def render_heatmaps(peaks: np.ndarray, peak_value: np.ndarray, noise: np.ndarray, heatmap_size: Sequence[int],
                    offset: int) -> np.ndarray:
    """B×J×H×W float32 maps: separable Gaussians on a slice of the noise bank."""
    width, rows = heatmap_size
    gx = np.exp(-(np.arange(width, dtype=np.float32) - peaks[..., 0:1].astype(np.float32)) ** 2 / (2 * SIGMA ** 2))
    gy = np.exp(-(np.arange(rows, dtype=np.float32) - peaks[..., 1:2].astype(np.float32)) ** 2 / (2 * SIGMA ** 2))
    maps = gy[..., :, None] * gx[..., None, :] * peak_value[..., None, None].astype(np.float32)
    return maps + noise[np.arange(offset, offset + len(peaks)) % len(noise)]


def loop_decode(cfg, heatmaps: np.ndarray, center: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The original's decoding, as N×J×3 ``[x, y, maxval]``.

    Its maxima come from whole-map NumPy calls (``argmax`` and a separate ``amax``);
    the refinement and the back-projection loop over samples and joints. (The
    parity tests' per-pixel scan would make this baseline ten times slower.)
    """
    n, j, height, width = heatmaps.shape
    flat = heatmaps.reshape(n, j, -1)
    idx = np.argmax(flat, axis=2)
    maxvals = np.amax(flat, axis=2)[..., None]
    coords = np.stack([idx % width, idx // width], axis=2).astype(np.float32) * (maxvals > 0.0)
    if cfg.TEST.POST_PROCESS:
        coords = loop_refine(coords, heatmaps)
    preds = loop_transform_preds(coords, center, scale, width, height)
    return np.concatenate([preds, maxvals], axis=2)


def loop_rescore_and_nms(cfg, preds: np.ndarray, boxes: np.ndarray, image_id: np.ndarray,
                         timed: "Stopwatch") -> None:
    """The original's per-person dicts, grouped by image, rescored and OKS-NMSed in loops."""
    with timed("loop_rescore"):
        kpts = defaultdict(list)
        for idx, kpt in enumerate(preds):
            kpts[int(image_id[idx])].append({'keypoints': kpt, 'area': boxes[idx][4], 'score': boxes[idx][5]})
        for people in kpts.values():
            scores = loop_rescore([p['keypoints'][:, 2] for p in people], [p['score'] for p in people],
                                  cfg.TEST.IN_VIS_THRE)
            for person, score in zip(people, scores):
                person['score'] = score
    with timed("loop_nms"):
        for people in kpts.values():
            loop_oks_nms(people, cfg.TEST.OKS_THRE)


class Stopwatch:
    """Accumulates wall-clock and process CPU time per stage (CPU time is steadier on a shared machine)."""

    def __init__(self) -> None:
        self.wall: Dict[str, float] = defaultdict(float)
        self.cpu: Dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.wall[stage] += time.perf_counter() - wall
        self.cpu[stage] += time.process_time() - cpu


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--boxes", type=int, default=104125)
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=32, help="boxes decoded per call (TEST.BATCH_SIZE)")
    parser.add_argument("--loop-fraction", type=float, default=0.05,
                        help="fraction of the images also run through the plain loops (0 to skip)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    cfg = get_config([])
    heatmap_size = cfg.POSE_RESNET.HEATMAP_SIZE
    rng = np.random.default_rng(args.seed)
    boxes_in = synthesize_boxes(rng, args.boxes, args.images, heatmap_size)
    noise = rng.normal(-0.01, 0.02, (NOISE_BANK, NUM_COCO_JOINTS, heatmap_size[1], heatmap_size[0]))
    noise = noise.astype(np.float32)
    loop_images = int(round(args.images * args.loop_fraction))
    loop_boxes = int(np.searchsorted(boxes_in['image_id'], loop_images, side='right'))

    n = args.boxes
    preds = np.empty((n, NUM_COCO_JOINTS, 3), dtype=np.float32)
    boxes = np.empty((n, 6))
    loop_preds = np.empty((loop_boxes, NUM_COCO_JOINTS, 3), dtype=np.float32)
    timed = Stopwatch()
    decoder = PoseDecoder.from_config(cfg)
    for start in range(0, n, args.batch_size):
        rows = slice(start, min(n, start + args.batch_size))
        heatmaps = render_heatmaps(boxes_in['peaks'][rows], boxes_in['peak_value'][rows], noise, heatmap_size, start)
        mirrored = flip_back(heatmaps, FLIP_PAIRS)  # what the network would give for the mirrored crop
        with timed("flip"):
            merge_flip(heatmaps, mirrored, cfg.TEST.SHIFT_HEATMAP)
        # The unmerged maps are decoded: the shift would blur the synthetic peaks; the cost is the same.
        with timed("decode"):
            preds[rows], boxes[rows] = decoder.decode(heatmaps, boxes_in['center'][rows], boxes_in['scale'][rows],
                                                      boxes_in['score'][rows])
        if start < loop_boxes:
            part = slice(start, min(loop_boxes, rows.stop))
            with timed("loop_decode"):
                loop_preds[part] = loop_decode(cfg, heatmaps[:part.stop - start], boxes_in['center'][part],
                                               boxes_in['scale'][part])

    image_id = boxes_in['image_id']
    with timed("rescore"):
        scores = rescore(preds[:, :, 2], boxes[:, 5], cfg.TEST.IN_VIS_THRE)
    with timed("nms"):
        keep = oks_nms_per_image(preds, scores, boxes[:, 4], image_id, cfg.TEST.OKS_THRE)
    with tempfile.TemporaryDirectory() as tmp, timed("json"):
        write_results(os.path.join(tmp, "keypoints_results.json"),
                      evaluation_entries(preds[keep], scores[keep], boxes[keep], image_id[keep]))
    if loop_boxes:
        np.testing.assert_allclose(loop_preds, preds[:loop_boxes], rtol=0, atol=1e-3)
        loop_rescore_and_nms(cfg, preds[:loop_boxes], boxes[:loop_boxes], image_id[:loop_boxes], timed)
    report(args, cfg, timed, n, len(keep), loop_boxes, loop_images)


def report(args, cfg, timed: Stopwatch, n: int, kept: int, loop_boxes: int, loop_images: int) -> None:
    factor = n / loop_boxes if loop_boxes else float('nan')
    print(f"{n} boxes over {args.images} images ({kept} kept by OKS-NMS at {cfg.TEST.OKS_THRE}), heatmaps "
          f"{cfg.POSE_RESNET.HEATMAP_SIZE[1]}x{cfg.POSE_RESNET.HEATMAP_SIZE[0]}, batch {args.batch_size}; "
          f"plain loops timed on {loop_boxes} boxes ({loop_images} images) and scaled x{factor:.1f}")
    print(f"{'stage':<32}{'wall (s)':>10}{'CPU (s)':>10}{'loop wall (s)':>15}{'loop CPU (s)':>14}")
    core = ("decode", "rescore", "nms")
    rows = [("flip merge", ("flip",)), ("decode (get_final_preds)", ("decode",)), ("rescoring", ("rescore",)),
            ("OKS-NMS per image", ("nms",)), ("decode + rescoring + OKS-NMS", core),
            ("results JSON (not in total)", ("json",))]
    for name, stages in rows:
        line = f"{name:<32}{sum(timed.wall[s] for s in stages):10.3f}{sum(timed.cpu[s] for s in stages):10.3f}"
        loops = ["loop_" + s for s in stages]
        if loop_boxes and all(s in timed.wall for s in loops):
            line += (f"{sum(timed.wall[s] for s in loops) * factor:15.2f}"
                     f"{sum(timed.cpu[s] for s in loops) * factor:14.2f}")
        print(line)
    print("COCOeval not run (no ground truth for synthetic boxes).")


if __name__ == "__main__":
    main()
