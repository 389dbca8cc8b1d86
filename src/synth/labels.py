"""Labels of the synthetic scenes, made the way an annotator would, from what was rendered.

* visibility 2: the pixel under the joint belongs to a body part that meets at that joint (and, for
  face points and for shoulders/hips seen on the far side of the torso, the point faces the camera);
  1: labelled but occluded, by another person, an occluder or the figure itself; 0: outside the
  image (written as ``0, 0, 0`` like COCO).
* ``area``: the person's visible pixel count (what COCO's segmentation area is); ``bbox``: the tight
  box around those pixels. People with fewer than ``MIN_AREA`` visible pixels are not annotated;
  those under ``MIN_LABELLED_AREA``, and those with every joint outside the image, are annotated
  with no keypoint labels (``num_keypoints`` 0), as COCO does for small people.
* detector boxes: jittered ground truth, a few missed, a few duplicated, and false alarms.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np

from src.constants import COCO_KEYPOINT_NAMES, COCO_SKELETON, NUM_COCO_JOINTS
from src.synth.body import JOINT_PARTS, TORSO
from src.synth.render import PARTS_PER_PERSON

#: People with fewer visible pixels are left unannotated (COCO skips tiny, hidden people too).
MIN_AREA = 100
#: People with fewer visible pixels keep their box but no keypoint labels (``num_keypoints`` 0),
#: as COCO left small people unlabelled.
MIN_LABELLED_AREA = 600


def annotate(label: np.ndarray, people: List[Dict[str, np.ndarray]]) -> List[Dict[str, object]]:
    """COCO annotations (without ids) of the rendered people, from the label map."""
    return [ann for ann in annotate_people(label, people) if ann is not None]


def annotate_people(label: np.ndarray, people: List[Dict[str, np.ndarray]]) -> List[Optional[Dict[str, object]]]:
    """The COCO annotation (without ids) of each rendered person, None for one left unannotated
    (fewer than ``MIN_AREA`` visible pixels); ``people[i]`` was drawn as person ``i``."""
    h, w = label.shape
    counts = np.bincount(label.ravel(), minlength=256)
    anns: List[Optional[Dict[str, object]]] = []
    for i, person in enumerate(people):
        base = 1 + i * PARTS_PER_PERSON
        area = int(counts[base:base + PARTS_PER_PERSON].sum())
        if area < MIN_AREA:
            anns.append(None)
            continue
        ys, xs = np.nonzero((label >= base) & (label < base + PARTS_PER_PERSON))
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max(), ys.max()

        pts = person["joints"]
        inside = (pts[:, 0] >= 0) & (pts[:, 0] <= w - 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= h - 1)
        xi = np.clip(np.round(pts[:, 0]).astype(int), 0, w - 1)
        yi = np.clip(np.round(pts[:, 1]).astype(int), 0, h - 1)
        on_top = label[yi, xi] - base
        seen = np.array([on_top[j] in JOINT_PARTS[j] for j in range(NUM_COCO_JOINTS)])
        seen[:5] &= person["facing"]
        # A shoulder or hip on the far side of the torso is hidden by it.
        far = person["depth"][[5, 6, 11, 12]] < person["torso_depth"] - 0.07
        seen[[5, 6, 11, 12]] &= ~(far & (on_top[[5, 6, 11, 12]] == TORSO))
        vis = np.where(inside, np.where(seen, 2, 1), 0)
        if area < MIN_LABELLED_AREA:
            vis[:] = 0
        kpts = np.zeros((NUM_COCO_JOINTS, 3))
        kpts[vis > 0, :2] = np.round(pts[vis > 0], 2)
        kpts[:, 2] = vis
        anns.append({
            "area": float(area),
            "bbox": [float(x0), float(y0), float(x1 - x0 + 1), float(y1 - y0 + 1)],
            "num_keypoints": int((vis > 0).sum()),
            "keypoints": [float(v) if k % 3 < 2 else int(v) for k, v in enumerate(kpts.ravel())],
            "iscrowd": 0,
            "category_id": 1,
        })
    return anns


def detector_boxes(rng: np.random.Generator, anns: Sequence[Dict[str, object]], w: int, h: int
                ) -> List[Dict[str, object]]:
    """Detector-like boxes: jittered ground truth (a few missed, a few duplicated) and false alarms."""
    dets = []

    def box(x, y, bw, bh):
        x0, y0 = np.clip([x, y], 0, [w - 1, h - 1])
        x1, y1 = np.clip([x + bw, y + bh], 0, [w - 1, h - 1])
        return [round(float(x0), 2), round(float(y0), 2), round(float(x1 - x0), 2), round(float(y1 - y0), 2)]

    for ann in anns:
        if rng.random() < 0.03:
            continue
        x, y, bw, bh = ann["bbox"]
        for score in ([float(np.clip(rng.normal(0.9, 0.08), 0.6, 1.0))]
                      + ([rng.uniform(0.1, 0.5)] if rng.random() < 0.1 else [])):
            cx, cy = x + bw / 2 + rng.normal(0, 0.04 * bw), y + bh / 2 + rng.normal(0, 0.04 * bh)
            nw, nh = bw * np.exp(rng.normal(0, 0.07)), bh * np.exp(rng.normal(0, 0.07))
            dets.append({"bbox": box(cx - nw / 2, cy - nh / 2, nw, nh), "score": round(score, 4)})
    for _ in range(rng.poisson(1.0)):
        bh = rng.uniform(0.1, 0.6) * h
        bw = bh * rng.uniform(0.3, 1.0)
        dets.append({"bbox": box(rng.uniform(-0.1, 1) * w, rng.uniform(-0.1, 1) * h, bw, bh),
                     "score": round(rng.uniform(0.02, 0.5), 4)})
    return [d for d in dets if d["bbox"][2] > 1 and d["bbox"][3] > 1]


def categories() -> List[Dict[str, object]]:
    """The COCO person category with its 17 keypoint names and 1-based skeleton."""
    return [{"supercategory": "person", "id": 1, "name": "person",
             "keypoints": list(COCO_KEYPOINT_NAMES),
             "skeleton": [[a + 1, b + 1] for a, b in COCO_SKELETON]}]
