"""Scoring tracks (src/tracking/mot_eval.py, python -m src.tracking.mot_eval): labels fed back as tracks are
perfect; swapped ids, missed and extra people are counted; the pieces: COCO's OKS, the ground truth of a video."""
import json
import os

import numpy as np
import pytest

from src.errors import DatasetFormatError, TrackingFilesError
from src.tracking import mot_eval
from src.tracking.mot_eval import coco_oks, load_ground_truth
from src.utils.cli import run_cli


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
    assert run_cli(mot_eval.main, argv) == 0
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
    result = mot_eval.score([gt], [tracks], str(tmp_path / "eval"))
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
    result = mot_eval.score([str(gt_unlabelled)], [tracks], str(tmp_path / "eval"))
    assert len(frames[3].track_ids) and len(frames[5].track_ids)
    assert result["misses"] == len(frames[3].track_ids) and result["false positives"] == len(frames[5].track_ids)
    assert result["ID switches"] == 0


def test_errors(synthetic_videos, tmp_path, capsys):
    gt = _gt(synthetic_videos, "seq000")
    bad = tmp_path / "bad.json"
    bad.write_text('{"frames": [{"file_name": "x.jpg", "image_id": 99, "people": []}]}')
    assert run_cli(mot_eval.main, ["--gt", gt, "--tracks", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no frame of") and err.count("\n") == 1
    assert run_cli(mot_eval.main, ["--gt", gt, gt, "--tracks", str(bad)]) == 2
    assert "2 ground-truth files but 1 tracks files" in capsys.readouterr().err
    assert run_cli(mot_eval.main, ["--gt", str(tmp_path / "none.json"), "--tracks", str(bad)]) == 2
    assert "ground-truth file not found" in capsys.readouterr().err
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"images": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1}]}))
    assert run_cli(mot_eval.main, ["--gt", str(plain), "--tracks", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {plain}: annotation 1 has no 'track_id'; the ground truth of a video names each " \
                  "person's track (python -m src.synthetic_video writes it)\n"
    posetrack = tmp_path / "posetrack.json"
    posetrack.write_text('{"frames": [], "joints": "posetrack"}')
    assert run_cli(mot_eval.main, ["--gt", gt, "--tracks", str(posetrack)]) == 2
    assert "tracks in posetrack joints; these figures score COCO keypoints" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- the pieces

def test_coco_oks_counts_labelled_joints_with_the_labels_area():
    truth = np.zeros((17, 3))
    truth[:2] = [[10, 10, 2], [20, 20, 1]]
    pred = np.zeros((2, 17, 3))
    pred[0, :2] = [[10, 10, 0], [20, 20, 0]]                 # the labelled joints exactly: 1, whatever scores
    pred[1, :2] = [[13, 14, 0.9], [20, 20, 0.9]]             # joint 0 off by 5 px
    kappa = 2 * 0.026
    expected = (np.exp(-25 / kappa ** 2 / 400 / 2) + 1) / 2
    np.testing.assert_allclose(coco_oks(truth, 400.0, pred), [1.0, expected])


def test_ground_truth_frames_in_frame_order_without_unlabelled_people(tmp_path):
    doc = {"images": [{"id": 7, "file_name": "d/b.jpg", "frame_index": 1}, {"id": 3, "file_name": "a.jpg",
                                                                          "frame_index": 0}],
           "annotations": [{"id": 1, "image_id": 7, "track_id": 4, "num_keypoints": 17, "area": 50.0,
                            "keypoints": list(range(51))},
                           {"id": 2, "image_id": 7, "track_id": 5, "num_keypoints": 0, "area": 9.0,
                            "keypoints": [0] * 51}]}
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(doc))
    loaded, frames = load_ground_truth(str(path))
    assert loaded == doc
    assert [(f.image_id, f.file_name) for f in frames] == [(3, "a.jpg"), (7, "b.jpg")]
    assert frames[0].keypoints.shape == (0, 17, 3) and frames[0].track_ids.tolist() == []
    assert frames[1].track_ids.tolist() == [4] and frames[1].areas.tolist() == [50.0]
    np.testing.assert_array_equal(frames[1].keypoints, np.arange(51).reshape(1, 17, 3))


@pytest.mark.parametrize("text,words,error", [
    ('{"images": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1}]}', "annotation 1 has no 'track_id'",
     TrackingFilesError),
    ('{"images": []}', "is not a COCO annotation file (no 'images' and 'annotations')", TrackingFilesError),
    ('{"images": [', "is not valid JSON", DatasetFormatError),   # as every annotation file (src/data/annotations.py)
])
def test_bad_ground_truth_names_the_file(tmp_path, text, words, error):
    path = tmp_path / "gt.json"
    path.write_text(text)
    with pytest.raises(error) as err:
        load_ground_truth(str(path))
    assert str(path) in str(err.value) and words in str(err.value)

