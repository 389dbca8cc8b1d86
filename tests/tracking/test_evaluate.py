"""Scoring tracks (src/tracking/evaluate.py, python -m src.tracking.evaluate): labels fed back as tracks are
perfect; swapped ids, missed and extra people are counted. The metrics' pieces: test_metrics.py."""
import json
import os

import numpy as np
import pytest

from src.utils.cli import run_cli
from src.tracking import evaluate as tracking_evaluate
from src.tracking.metrics import load_ground_truth


def _as_tracks(gt_file: str, path: str, swap_from: int = -1, empty_frame: int = -1) -> str:
    """The labels written as a tracks.json; from frame ``swap_from`` on, tracks 0 and 1 swap ids;
    frame ``empty_frame`` has nobody."""
    with open(gt_file, encoding="utf-8") as f:
        doc = json.load(f)
    frames = []
    for image in doc["images"]:
        people = []
        for ann in (a for a in doc["annotations"] if a["image_id"] == image["id"] and a["num_keypoints"] > 0):
            track = ann["track_id"]
            if 0 <= swap_from <= image["frame_index"] and track in (0, 1):
                track = 1 - track
            kpts = np.array(ann["keypoints"], dtype=np.float64).reshape(17, 3)
            kpts[:, 2] = kpts[:, 2] > 0
            people.append({"track_id": track + 7, "bbox": ann["bbox"], "box_score": 1.0, "score": 1.0,
                           "area": ann["area"], "keypoints": kpts.reshape(-1).tolist(), "propagated": False})
        frames.append({"index": image["frame_index"], "file_name": image["file_name"], "image_id": image["id"],
                       "people": people if image["frame_index"] != empty_frame else []})
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"frames": frames, "settings": {"in_vis_thre": 0.2, "oks_thre": 0.9}}, f)
    return path


def _gt(root: str, name: str) -> str:
    return os.path.join(root, "annotations", name + ".json")


def test_labels_fed_back_are_perfect(synthetic_videos, tmp_path, capsys):
    gts = [_gt(synthetic_videos, "seq000"), _gt(synthetic_videos, "seq001")]
    tracks = [_as_tracks(gt, str(tmp_path / f"t{i}.json")) for i, gt in enumerate(gts)]
    argv = ["--gt", *gts, "--tracks", *tracks, "--output", str(tmp_path / "eval")]
    assert run_cli(tracking_evaluate.main, argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-4:] == ["AP: 1.0", "MOTA: 1.0", "IDF1: 1.0", "ID switches: 0"]
    assert os.path.isfile(tmp_path / "eval" / "mot_summary.csv")


def test_swapped_ids_are_switches(synthetic_videos, tmp_path):
    gt = _gt(synthetic_videos, "seq000")
    _, frames = load_ground_truth(gt)
    both = [f for f in frames if {0, 1} <= set(f.track_ids.tolist())]
    assert len(both) >= 4
    swap_at = both[len(both) // 2]
    tracks = _as_tracks(gt, str(tmp_path / "t.json"), swap_from=frames.index(swap_at))
    result = tracking_evaluate.score([gt], [tracks], str(tmp_path / "eval"))
    assert result["ID switches"] == 2 and result["AP"] == pytest.approx(1.0)
    objects = sum(len(f.track_ids) for f in frames)
    assert result["MOTA"] == pytest.approx(1 - 2 / objects) and result["IDF1"] < 1


def test_frames_without_people(synthetic_videos, tmp_path):
    """A frame nobody was tracked in counts its labelled people as misses; a frame without labels
    counts its tracked people as false positives."""
    gt = _gt(synthetic_videos, "seq001")
    with open(gt, encoding="utf-8") as f:
        doc = json.load(f)
    _, frames = load_ground_truth(gt)
    tracks = _as_tracks(gt, str(tmp_path / "t.json"), empty_frame=3)
    unlabelled = dict(doc, annotations=[a for a in doc["annotations"] if a["image_id"] != frames[5].image_id])
    gt_unlabelled = tmp_path / "gt.json"
    gt_unlabelled.write_text(json.dumps(unlabelled))
    result = tracking_evaluate.score([str(gt_unlabelled)], [tracks], str(tmp_path / "eval"))
    assert len(frames[3].track_ids) and len(frames[5].track_ids)
    assert result["misses"] == len(frames[3].track_ids) and result["false positives"] == len(frames[5].track_ids)
    assert result["ID switches"] == 0


def test_errors(synthetic_videos, tmp_path, capsys):
    gt = _gt(synthetic_videos, "seq000")
    bad = tmp_path / "bad.json"
    bad.write_text('{"frames": [{"file_name": "x.jpg", "image_id": 99, "people": []}]}')
    assert run_cli(tracking_evaluate.main, ["--gt", gt, "--tracks", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no frame of") and err.count("\n") == 1
    assert run_cli(tracking_evaluate.main, ["--gt", gt, gt, "--tracks", str(bad)]) == 2
    assert "2 ground-truth files but 1 tracks files" in capsys.readouterr().err
    assert run_cli(tracking_evaluate.main, ["--gt", str(tmp_path / "none.json"), "--tracks", str(bad)]) == 2
    assert "ground-truth file not found" in capsys.readouterr().err
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"images": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1}]}))
    assert run_cli(tracking_evaluate.main, ["--gt", str(plain), "--tracks", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {plain}: annotation 1 has no 'track_id'; the ground truth of a video names each " \
                  "person's track (python -m src.synthetic_video writes it)\n"
