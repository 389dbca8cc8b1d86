"""COCO keypoint evaluation (src/evaluate/coco_eval.py) on a small hand-built ground truth."""
import json
import os
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from src.constants import COCO_KEYPOINT_NAMES, COCO_SKELETON, PIXEL_STD
from src.errors import MissingDependencyError
from src.evaluate.coco_eval import STATS_NAMES, evaluate, rescore
from bench.reference import loop_rescore

#: A standing person, joints in units of its box (x across, y down), COCO order.
_TEMPLATE = np.array([
    [0.50, 0.08], [0.55, 0.06], [0.45, 0.06], [0.60, 0.08], [0.40, 0.08],
    [0.70, 0.22], [0.30, 0.22], [0.78, 0.40], [0.22, 0.40], [0.82, 0.56], [0.18, 0.56],
    [0.62, 0.58], [0.38, 0.58], [0.62, 0.78], [0.38, 0.78], [0.62, 0.97], [0.38, 0.97]])


def _cfg(root, test_set="val2017"):
    return SimpleNamespace(TEST=SimpleNamespace(IN_VIS_THRE=0.2, OKS_THRE=0.9),
                           DATASET=SimpleNamespace(ROOT=str(root), TEST_SET=test_set))


def _ground_truth(rng):
    """Four 640×480 images, three people each, boxes from 40×100 (medium) to 180×420 (large)."""
    images, annotations, people = [], [], []
    for image_id in (11, 22, 33, 44):
        images.append({'id': image_id, 'file_name': f'{image_id:012d}.jpg', 'width': 640, 'height': 480})
        for k in range(3):
            w = rng.uniform(40, 180)
            h = w * rng.uniform(2.0, 2.4)
            x0, y0 = 20 + 210 * k + rng.uniform(0, 10), rng.uniform(0, 480 - h)
            joints = _TEMPLATE * [w, h] + [x0, y0] + rng.normal(0, 1.0, size=(17, 2))
            area = w * h * 0.6  # a segmentation covers part of the box
            keypoints = np.concatenate([joints, np.full((17, 1), 2.0)], axis=1)
            annotations.append({'id': len(annotations) + 1, 'image_id': image_id, 'category_id': 1,
                                'keypoints': keypoints.ravel().round(2).tolist(), 'num_keypoints': 17,
                                'area': area, 'bbox': [x0, y0, w, h], 'iscrowd': 0})
            people.append((image_id, joints.round(2), area, [x0 + w / 2, y0 + h / 2], [w, h]))
    categories = [{'id': 1, 'name': 'person', 'supercategory': 'person',
                   'keypoints': list(COCO_KEYPOINT_NAMES), 'skeleton': [[a + 1, b + 1] for a, b in COCO_SKELETON]}]
    return {'images': images, 'annotations': annotations, 'categories': categories}, people


@pytest.fixture()
def coco_root(tmp_path):
    pytest.importorskip("pycocotools")
    rng = np.random.default_rng(0)
    gt, people = _ground_truth(rng)
    (tmp_path / "annotations").mkdir()
    with open(tmp_path / "annotations" / "person_keypoints_val2017.json", "w") as f:
        json.dump(gt, f)
    return tmp_path, people


def _predictions(people, offset=0.0, duplicates=False):
    """Ground truth as predictions (maxval 0.9, box score 1), optionally shifted, optionally doubled."""
    rows = []
    for image_id, joints, area, center, size in people:
        scale = np.array(size) / PIXEL_STD * 1.25
        rows.append((image_id, joints + offset, 0.9, center, scale, 1.0))
        if duplicates:  # a near-copy with a lower score, for the OKS-NMS to remove
            rows.append((image_id, joints + 0.5, 0.8, center, scale, 0.9))
    preds = np.array([np.concatenate([j, np.full((17, 1), v)], axis=1) for _, j, v, _, _, _ in rows],
                     dtype=np.float32)
    boxes = np.array([[*c, *s, np.prod(s * PIXEL_STD), score] for _, _, _, c, s, score in rows])
    return preds, boxes, np.array([r[0] for r in rows])


def test_ground_truth_as_predictions_scores_one(coco_root, tmp_path, capsys):
    root, people = coco_root
    preds, boxes, ids = _predictions(people, duplicates=True)
    out = tmp_path / "out"
    name_value, ap = evaluate(_cfg(root), preds, str(out), boxes, ids)
    assert list(name_value) == list(STATS_NAMES)
    assert ap == name_value['AP'] == pytest.approx(1.0)
    assert name_value['AR'] == pytest.approx(1.0)
    assert "Average Precision" in capsys.readouterr().out  # pycocotools' summary

    results = json.load(open(out / "keypoints_results.json"))
    assert len(results) == len(people)  # every duplicate suppressed
    first = results[0]
    assert first['category_id'] == 1 and first['image_id'] == 11 and len(first['keypoints']) == 51
    assert first['score'] == pytest.approx(0.9)  # box score 1 × mean joint maxval 0.9
    assert json.load(open(out / "keypoints_stats.json")) == pytest.approx(dict(name_value))


def test_shifted_predictions_score_lower(coco_root, tmp_path):
    root, people = coco_root
    preds, boxes, ids = _predictions(people, offset=4.0)
    _, ap = evaluate(_cfg(root), preds, str(tmp_path / "out"), boxes, ids)
    assert 0.0 < ap < 0.9


def test_explicit_annotation_file(coco_root, tmp_path):
    root, people = coco_root
    preds, boxes, ids = _predictions(people)
    ann = os.path.join(root, "annotations", "person_keypoints_val2017.json")
    _, ap = evaluate(_cfg(tmp_path / "nowhere"), preds, str(tmp_path / "out"), boxes, ids, ann_file=ann)
    assert ap == pytest.approx(1.0)


def test_bad_inputs(coco_root, tmp_path):
    root, people = coco_root
    preds, boxes, ids = _predictions(people)
    with pytest.raises(FileNotFoundError, match="person_keypoints_val2017.json"):
        evaluate(_cfg(tmp_path / "nowhere"), preds, str(tmp_path / "out"), boxes, ids)
    with pytest.raises(ValueError, match="not in"):
        evaluate(_cfg(root), preds, str(tmp_path / "out"), boxes, ids + 1)
    with pytest.raises(ValueError, match="N×J×3"):
        evaluate(_cfg(root), preds[:, :, :2], str(tmp_path / "out"), boxes, ids)
    with pytest.raises(ValueError, match="no predictions"):
        evaluate(_cfg(root), preds[:0], str(tmp_path / "out"), boxes[:0], ids[:0])


def test_test_set_has_no_metrics(coco_root, tmp_path):
    root, people = coco_root
    preds, boxes, ids = _predictions(people)
    name_value, ap = evaluate(_cfg(root, "test-dev2017"), preds, str(tmp_path / "out"), boxes, ids)
    assert (dict(name_value), ap) == ({'Null': 0}, 0)
    assert (tmp_path / "out" / "keypoints_results.json").exists()


def test_missing_pycocotools_is_a_clear_error(tmp_path, monkeypatch):
    gt, people = _ground_truth(np.random.default_rng(0))
    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "person_keypoints_val2017.json").write_text(json.dumps(gt))
    preds, boxes, ids = _predictions(people)
    for name in ("pycocotools", "pycocotools.coco", "pycocotools.cocoeval"):
        monkeypatch.setitem(sys.modules, name, None)  # makes `import` raise ImportError
    with pytest.raises(ImportError, match="pip install pycocotools") as info:
        evaluate(_cfg(root), preds, str(tmp_path / "out"), boxes, ids)
    assert isinstance(info.value, MissingDependencyError)


def test_rescore_matches_loop_and_hand_case():
    rng = np.random.default_rng(0)
    maxvals = rng.random((200, 17)).astype(np.float32) * rng.choice([0.25, 1.0], size=(200, 1))
    box_scores = rng.random(200)
    np.testing.assert_allclose(rescore(maxvals, box_scores, 0.2), loop_rescore(maxvals, box_scores, 0.2),
                               rtol=1e-12)
    hand = rescore(np.array([[0.1, 0.5, 0.9], [0.1, 0.2, 0.0]]), np.array([0.5, 1.0]), 0.2)
    np.testing.assert_allclose(hand, [0.35, 0.0])  # mean(0.5, 0.9) × 0.5; nothing above 0.2 → 0
