"""bench/joint_errors.py: per-joint offsets of matched predictions, in heatmap pixels."""
import json
import os

import numpy as np

from bench.joint_errors import joint_errors
from src.constants import PIXEL_STD
from src.utils.transform import box_to_center_scale


def test_a_known_shift_is_measured(synthetic_root):
    """Truths moved by half a heatmap pixel to the right read back as +0.5 px."""
    with open(os.path.join(synthetic_root, "annotations", "person_keypoints_val2017.json"), encoding="utf-8") as f:
        annotations = json.load(f)
    image_size, heatmap_size = [128, 160], [32, 40]
    results = []
    for ann in annotations["annotations"]:
        keypoints = np.asarray(ann["keypoints"], dtype=np.float64).reshape(17, 3)
        if not (keypoints[:, 2] > 0).any():
            continue
        _, scale = box_to_center_scale(np.asarray([ann["bbox"]]), image_size[0] / image_size[1])
        step = scale[0, 0] * PIXEL_STD / heatmap_size[0]
        moved = keypoints[:, :2] + [0.5 * step, 0.0]
        results.append({"image_id": ann["image_id"], "keypoints": np.column_stack(
            [moved, np.ones(17)]).ravel().tolist(), "score": 1.0})
    results.append({"image_id": -1, "keypoints": [0.0] * 51, "score": 1.0})  # an image without people
    best_oks, offsets = joint_errors(results, annotations, image_size, heatmap_size, min_oks=0.1)
    assert len(best_oks) == len(results) and best_oks[-1] == 0.0
    assert np.all((best_oks[:-1] > 0.5) & (best_oks[:-1] < 1.0))
    every = np.concatenate(offsets)
    assert len(every) == sum(int((np.asarray(a["keypoints"])[2::3] > 0).sum()) for a in annotations["annotations"])
    np.testing.assert_allclose(every, np.tile([0.5, 0.0], (len(every), 1)), atol=1e-3)
