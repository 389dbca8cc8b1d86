"""A synthetic person-keypoint dataset in COCO format.

``python -m src.synthetic --output DIR [--num_train N] [--num_val M] [--seed S]`` writes::

    DIR/train2017/*.jpg, DIR/val2017/*.jpg                 (file name: 12-digit image id)
    DIR/annotations/person_keypoints_{train,val}2017.json
    DIR/person_detection_results/COCO_val2017_detections_AP_H_56_person.json

Each image shows 1-4 articulated figures (:mod:`src.synth.body`) over a textured, cluttered
background, with occluding objects, sensor noise and JPEG compression (:mod:`src.synth.render`).
People overlap and leave the frame. Labels are made the way an annotator would, from what was
rendered, and the detections are jittered ground truth with misses and false alarms
(:mod:`src.synth.labels`).

Everything is a pure function of ``(seed, split, index)``, so the output is identical for a given
seed whatever the number of worker processes.
"""
import logging
import os
import sys
import time
from multiprocessing import Pool
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from src.constants import NUM_COCO_JOINTS, PERSON_CATEGORY
from src.data.annotations import write_annotations
from src.data.detections import write_detections
from src.synth.labels import annotate, categories, detector_boxes
from src.synth.render import clutter, draw_occluder, render_person, texture
from src.utils.cli import run_cli, setup_logging, tool_parser

logger = logging.getLogger(__name__)

SPLITS: Dict[str, str] = {"train": "train2017", "val": "val2017"}
DETECTION_FILE = "COCO_val2017_detections_AP_H_56_person.json"
#: Image ids: train images count from 1, val images from this offset, so ids never clash.
VAL_ID_OFFSET = 1_000_000


def render_image(seed: int, split: str, index: int) -> Tuple[np.ndarray, List[Dict[str, object]],
                                                               List[Dict[str, object]]]:
    """Renders image ``index`` of ``split`` ('train' or 'val').

    Returns:
        ``(image H×W×3 uint8 BGR, annotations, detections)``; annotations and detections
        lack ids (the caller numbers them).
    """
    rng = np.random.default_rng([seed, list(SPLITS).index(split), index])
    w, h = (int(v) for v in rng.integers(320, 641, 2))
    img = texture(rng, w, h)
    img = np.clip(img, 0, 255).astype(np.uint8)
    clutter(rng, img)
    label = np.zeros((h, w), np.uint8)

    num_people = int(rng.choice([1, 2, 3, 4], p=[0.35, 0.3, 0.2, 0.15]))
    num_occluders = int(rng.choice([0, 1, 2], p=[0.6, 0.3, 0.1]))
    # Draw order: people (back to front) with the occluders slotted in between.
    order = ["p"] * num_people + ["o"] * num_occluders
    rng.shuffle(order)
    people: List[Dict[str, np.ndarray]] = []
    occluders = 0
    for what in order:
        if what == "p":
            size_px = h * float(np.exp(rng.uniform(np.log(0.4), np.log(0.9))))
            if people and rng.random() < 0.25:
                prev = people[-1]["joints"][11:13].mean(axis=0)
                origin = prev + [rng.choice([-1, 1]) * rng.uniform(0.2, 0.45) * size_px,
                                 rng.normal(0, 0.1) * size_px]
            else:
                origin = np.array([rng.uniform(-0.05, 1.05) * w, rng.uniform(0.2, 0.95) * h])
            people.append(render_person(rng, img, label, len(people), size_px, origin))
        else:
            near = None
            if people and rng.random() < 0.6:
                near = people[int(rng.integers(len(people)))]["joints"][int(rng.integers(NUM_COCO_JOINTS))]
            draw_occluder(rng, img, label, occluders, near)
            occluders += 1
    anns = annotate(label, people)

    out = img.astype(np.float32)
    if rng.random() < 0.3:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.2))
    out = out * rng.uniform(0.7, 1.2) + rng.uniform(-25, 25)
    noise = np.empty_like(out)
    cv2.setRNGSeed(int(rng.integers(2 ** 31)))  # OpenCV's generator is ~5x faster than NumPy's here
    sigma = float(rng.uniform(1, 5))
    cv2.randn(noise, (0.0, 0.0, 0.0), (sigma, sigma, sigma))  # per channel: a bare float sets channel 0 only
    out += noise
    image = np.clip(out, 0, 255).astype(np.uint8)
    dets = detector_boxes(rng, anns, w, h) if split == "val" else []
    return image, anns, dets


def _write_one(job: Tuple[int, str, int, str, int]) -> Tuple[Dict[str, object], List, List]:
    seed, split, index, folder, image_id = job
    rng_q = np.random.default_rng([seed, 7, list(SPLITS).index(split), index])
    image, anns, dets = render_image(seed, split, index)
    name = f"{image_id:012d}.jpg"
    quality = int(rng_q.integers(60, 96))
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError(f"JPEG encoding failed for {name}")
    buf.tofile(os.path.join(folder, name))
    info = {"id": image_id, "file_name": name, "width": int(image.shape[1]), "height": int(image.shape[0])}
    return info, anns, dets


def write_split(output: str, split: str, num_images: int, seed: int, workers: int = 1
                ) -> Tuple[int, int]:
    """Writes the images and annotation file of one split (and the detections for val).

    Returns:
        ``(number of images, number of annotations)``.
    """
    folder = os.path.join(output, SPLITS[split])
    os.makedirs(folder, exist_ok=True)
    os.makedirs(os.path.join(output, "annotations"), exist_ok=True)
    first_id = VAL_ID_OFFSET + 1 if split == "val" else 1
    jobs = [(seed, split, i, folder, first_id + i) for i in range(num_images)]
    images, annotations, detections = [], [], []
    step = max(1, num_images // 10)
    start = time.time()

    def collect(results):
        for k, (info, anns, dets) in enumerate(results, 1):
            images.append(info)
            for ann in anns:
                annotations.append({"id": len(annotations) + 1 + (VAL_ID_OFFSET if split == "val" else 0),
                                    "image_id": info["id"], **ann})
            detections.extend({"image_id": info["id"], "category_id": PERSON_CATEGORY, **d} for d in dets)
            if k % step == 0 or k == num_images:
                logger.info("%s: %d/%d images (%.1f s)", SPLITS[split], k, num_images, time.time() - start)

    if workers > 1 and num_images > 1:
        with Pool(workers) as pool:
            collect(pool.imap(_write_one, jobs, chunksize=4))
    else:
        collect(map(_write_one, jobs))

    doc = {"info": {"description": "Synthetic person keypoints (src/synthetic.py)", "version": "1.0",
                    "seed": seed},
           "licenses": [], "images": images, "annotations": annotations, "categories": categories()}
    os.makedirs(os.path.join(output, "annotations"), exist_ok=True)
    write_annotations(os.path.join(output, "annotations", f"person_keypoints_{SPLITS[split]}.json"), doc)
    if split == "val":
        os.makedirs(os.path.join(output, "person_detection_results"), exist_ok=True)
        write_detections(os.path.join(output, "person_detection_results", DETECTION_FILE), detections)
    return len(images), len(annotations)


def generate(output: str, num_train: int = 1000, num_val: int = 200, seed: int = 0,
             workers: Optional[int] = None) -> None:
    """Writes the whole dataset under ``output`` (see the module docstring)."""
    workers = workers or min(4, os.cpu_count() or 1)
    for split, n in (("train", num_train), ("val", num_val)):
        n_img, n_ann = write_split(output, split, n, seed, workers)
        logger.info("%s: wrote %d images, %d person annotations", SPLITS[split], n_img, n_ann)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = tool_parser("python -m src.synthetic", __doc__)
    parser.add_argument("--output", required=True, help="dataset root to write (DATASET.ROOT)")
    parser.add_argument("--num_train", type=int, default=1000, help="training images (default 1000)")
    parser.add_argument("--num_val", type=int, default=200, help="validation images (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed, same files")
    parser.add_argument("--workers", type=int, default=0,
                        help="processes (default: up to 4); the output does not depend on it")
    args = parser.parse_args(argv)
    setup_logging()
    if args.num_train < 0 or args.num_val < 0:
        parser.error("--num_train and --num_val must be >= 0")
    start = time.time()
    generate(args.output, args.num_train, args.num_val, args.seed, args.workers or None)
    logger.info("synthetic dataset written to %s in %.1f s", args.output, time.time() - start)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
