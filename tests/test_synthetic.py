"""Tests of src/synthetic.py: COCO format, honest labels, determinism, pycocotools round trip."""
import contextlib
import io
import json
import os

import cv2
import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from src.constants import COCO_KEYPOINT_NAMES
from src.synthetic import DETECTION_FILE, main

COCO_SKELETON_1_BASED = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8],
                         [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]]


def load(root, split):
    with open(os.path.join(root, "annotations", f"person_keypoints_{split}.json"), encoding="utf-8") as f:
        return json.load(f)


def tree_bytes(root):
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


def test_same_seed_same_files_whatever_the_workers(tmp_path):
    args = ["--num_train", "3", "--num_val", "3"]
    assert main(["--output", str(tmp_path / "a"), "--seed", "5", "--workers", "1", *args]) == 0
    assert main(["--output", str(tmp_path / "b"), "--seed", "5", "--workers", "2", *args]) == 0
    assert main(["--output", str(tmp_path / "c"), "--seed", "6", "--workers", "1", *args]) == 0
    a, b, c = (tree_bytes(tmp_path / k) for k in "abc")
    assert len(a) == 3 + 3 + 3 and a == b
    assert set(a) == set(c) and all(a[k] != c[k] for k in a if k.endswith(".jpg"))


def test_coco_format_and_honest_labels(synthetic_root):
    for split, n in (("train2017", 12), ("val2017", 6)):
        data = load(synthetic_root, split)
        assert len(data["images"]) == n
        assert data["categories"] == [{"supercategory": "person", "id": 1, "name": "person",
                                       "keypoints": list(COCO_KEYPOINT_NAMES), "skeleton": COCO_SKELETON_1_BASED}]
        images = {img["id"]: img for img in data["images"]}
        for img in data["images"]:
            h, w = cv2.imread(os.path.join(synthetic_root, split, img["file_name"])).shape[:2]
            assert (img["width"], img["height"]) == (w, h) and 320 <= min(w, h) and max(w, h) <= 640
            assert img["file_name"] == f"{img['id']:012d}.jpg"
        assert len({a["id"] for a in data["annotations"]}) == len(data["annotations"]) > n
        for ann in data["annotations"]:
            img = images[ann["image_id"]]
            kp = np.array(ann["keypoints"]).reshape(17, 3)
            x, y, bw, bh = ann["bbox"]
            assert ann["iscrowd"] == 0 and ann["category_id"] == 1 and ann["area"] > 0
            assert 0 <= x and 0 <= y and x + bw <= img["width"] and y + bh <= img["height"]
            assert ann["area"] <= bw * bh
            assert set(kp[:, 2]) <= {0, 1, 2} and ann["num_keypoints"] == int((kp[:, 2] > 0).sum())
            assert not kp[kp[:, 2] == 0].any()
            labelled = kp[kp[:, 2] > 0]
            assert np.all((labelled[:, 0] >= 0) & (labelled[:, 0] <= img["width"] - 1))
            assert np.all((labelled[:, 1] >= 0) & (labelled[:, 1] <= img["height"] - 1))
            # A visible joint lies on the person's visible pixels, hence in their box.
            seen = kp[kp[:, 2] == 2]
            assert np.all((seen[:, 0] >= x - 0.5) & (seen[:, 0] <= x + bw - 0.5))
            assert np.all((seen[:, 1] >= y - 0.5) & (seen[:, 1] <= y + bh - 0.5))


def test_dataset_is_not_a_toy(tmp_path):
    main(["--output", str(tmp_path), "--num_train", "40", "--num_val", "0", "--seed", "1"])
    anns = load(str(tmp_path), "train2017")["annotations"]
    vis = np.array([a["keypoints"] for a in anns]).reshape(-1, 17, 3)[..., 2]
    per_image = np.bincount([a["image_id"] for a in anns])
    assert per_image.max() >= 3  # crowds
    labelled = vis[vis.max(axis=1) > 0]
    for v in (0, 1, 2):  # truncated, occluded and visible joints all occur often
        assert (labelled == v).mean() > 0.1
    assert (vis[:, 1:3] == 2).any() and (vis[:, 1:3] == 1).any()  # faces seen from front and back


def test_ground_truth_scores_ap_one_with_pycocotools(synthetic_root):
    ann_file = os.path.join(synthetic_root, "annotations", "person_keypoints_val2017.json")
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(ann_file)
        # People with no labelled keypoint are ignored by COCOeval; an all-zero "prediction" for
        # them would be a false positive, so only labelled people are predicted.
        results = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
                   for a in gt.dataset["annotations"] if a["num_keypoints"] > 0]
        evaluator = COCOeval(gt, gt.loadRes(results), "keypoints")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    assert evaluator.stats[0] == 1.0


def test_detections_look_like_a_detector(synthetic_root):
    with open(os.path.join(synthetic_root, "person_detection_results", DETECTION_FILE), encoding="utf-8") as f:
        dets = json.load(f)
    data = load(synthetic_root, "val2017")
    sizes = {img["id"]: (img["width"], img["height"]) for img in data["images"]}
    assert dets and {d["category_id"] for d in dets} == {1}
    for d in dets:
        w, h = sizes[d["image_id"]]
        x, y, bw, bh = d["bbox"]
        assert 0 < d["score"] <= 1 and 0 <= x and 0 <= y and x + bw <= w and y + bh <= h and bw > 0 and bh > 0
    assert sum(d["score"] >= 0.6 for d in dets) >= 0.8 * len(data["annotations"])
