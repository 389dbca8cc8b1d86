"""PoseTrack's file formats (src/tracking/posetrack.py): the joint lists and the COCO mapping both ways, 2017 and
2018 files written and read back, tracks.json as predictions, and one-line errors naming the file and the key."""
import json
import os

import numpy as np
import pytest

from src.constants import COCO_KEYPOINT_NAMES
from src.errors import PoseTrackFormatError, TrackingFilesError
from src.utils.cli import run_cli
from src.tracking import posetrack
from src.tracking.posetrack import (COCO_OF_POSETRACK, EVAL_JOINT_NAMES, EVAL_JOINTS, POSETRACK_KEYPOINT_NAMES,
                                    POSETRACK_OF_COCO, PoseFrame, PoseVideo, approximate_head, coco_from_posetrack,
                                    posetrack_from_coco, predictions_from_tracks, read_video, video_document,
                                    write_video)

EARS = [3, 4]


def test_joint_lists_and_the_coco_mapping_both_ways():
    assert len(POSETRACK_KEYPOINT_NAMES) == 17 and POSETRACK_KEYPOINT_NAMES[:3] == ("nose", "head_bottom", "head_top")
    assert len(EVAL_JOINT_NAMES) == 15 and set(EVAL_JOINT_NAMES) == set(POSETRACK_KEYPOINT_NAMES) - {"left_ear",
                                                                                                      "right_ear"}
    assert EVAL_JOINT_NAMES[:3] == ("right_ankle", "right_knee", "right_hip") and EVAL_JOINT_NAMES[12] == "head_bottom"
    assert [POSETRACK_KEYPOINT_NAMES[j] for j in EVAL_JOINTS] == list(EVAL_JOINT_NAMES)
    # Same name, same joint; the others have no counterpart.
    for mapping, names_from, names_to in ((COCO_OF_POSETRACK, POSETRACK_KEYPOINT_NAMES, COCO_KEYPOINT_NAMES),
                                          (POSETRACK_OF_COCO, COCO_KEYPOINT_NAMES, POSETRACK_KEYPOINT_NAMES)):
        assert [names_to[i] if i >= 0 else None for i in mapping] == \
            [n if n in names_to else None for n in names_from]
    assert [COCO_KEYPOINT_NAMES[i] for i in range(17) if POSETRACK_OF_COCO[i] < 0] == ["left_eye", "right_eye"]
    assert [POSETRACK_KEYPOINT_NAMES[i] for i in range(17) if COCO_OF_POSETRACK[i] < 0] == ["head_bottom",
                                                                                            "head_top"]


def test_head_joints_from_shoulders_and_ears():
    coco = np.zeros((1, 17, 3))
    coco[0, 5], coco[0, 6] = [0, 100, 0.8], [20, 100, 0.6]       # shoulders: midpoint (10, 100), mean score 0.7
    coco[0, :5] = [10, 80, 1.0]                                    # head centre (10, 80)
    np.testing.assert_allclose(approximate_head(coco)[0], [[10, 90, 0.7], [10, 70, 0.7]])
    # Nose and eyes count a tenth as much as the ears: centre x = (2 × 10 + 0.3 × 33) / 2.3 = 13.
    coco[0, :3, 0] = 33
    np.testing.assert_allclose(approximate_head(coco)[0, :, :2], [[11.5, 90], [14.5, 70]])
    # Unsure ears (score 0.01) leave the centre to the nose and eyes; the score is the face's weighted mean.
    coco[0, 3:5] = [[-40, 80, 0.01], [-40, 80, 0.01]]
    head = approximate_head(coco)[0]
    centre_x = (0.3 * 33 - 0.02 * 40) / 0.32
    np.testing.assert_allclose(head[:, :2], [[10 + (centre_x - 10) / 2, 90], [10 + 1.5 * (centre_x - 10), 70]])
    np.testing.assert_allclose(head[:, 2], (0.3 + 0.02) / 2.3)


def test_coco_poses_as_posetrack_and_back():
    coco = np.random.default_rng(0).uniform(1, 100, (3, 17, 3))
    ours = posetrack_from_coco(coco)
    same = [0, 3, 4] + list(range(5, 17))
    np.testing.assert_array_equal(ours[:, same], coco[:, same])
    np.testing.assert_allclose(ours[:, 1:3], approximate_head(coco))
    assert not posetrack_from_coco(coco, head=False)[:, 1:3].any()
    back = coco_from_posetrack(ours)
    np.testing.assert_array_equal(back[:, same], coco[:, same])
    assert not back[:, 1:3].any()


def _video(version: int = 2018) -> PoseVideo:
    """Two frames: two people (one missing joints, one without a box or score), then nobody, unlabelled."""
    rng = np.random.default_rng(1)
    poses = np.round(rng.uniform(5, 200, (2, 17, 3)), 2)
    present = np.ones((2, 17), bool)
    present[:, EARS] = False
    present[1, [0, 9, 16]] = False
    poses[~present] = 0
    poses[:, :, 2] = np.where(present, np.round(rng.uniform(0.1, 1, (2, 17)), 3), 0)
    first = PoseFrame("images/v/000000.jpg", 7 if version == 2018 else 0, True, np.array([3, 11]), poses, present,
                      np.array([[10, 20, 40, 60], [100, 20, 130, 60.5]]), np.array([[5, 6, 70, 150], [np.nan] * 4]),
                      np.array([0.75, np.nan]), (np.array([[0, 0], [20, 0], [20, 30.5], [0, 30]]),),
                      {"frame_id": 7, "vid_id": "000001"} if version == 2018 else {"imgnum": [1]})
    second = PoseFrame.empty("images/v/000001.jpg", 8 if version == 2018 else 1, False,
                             **({"frame_id": 8} if version == 2018 else {}))
    return PoseVideo("v.json", version, [first, second])


def _assert_same(read: PoseVideo, written: PoseVideo, scores: bool, boxes: bool = True):
    assert read.version == written.version and len(read.frames) == len(written.frames)
    for a, b in zip(read.frames, written.frames):
        assert (a.name, a.image_id, a.labelled, a.extra) == (b.name, b.image_id, b.labelled, b.extra)
        np.testing.assert_array_equal(a.track_ids, b.track_ids)
        np.testing.assert_array_equal(a.present, b.present)
        np.testing.assert_allclose(a.poses[:, :, :2], b.poses[:, :, :2])
        np.testing.assert_allclose(a.poses[:, :, 2], np.where(b.present, b.poses[:, :, 2] if scores else 1.0, 0.0))
        np.testing.assert_allclose(a.head_boxes, b.head_boxes)
        if boxes:
            np.testing.assert_allclose(a.boxes, b.boxes)
        np.testing.assert_allclose(a.scores, b.scores)
        assert len(a.ignore_regions) == len(b.ignore_regions)
        for ra, rb in zip(a.ignore_regions, b.ignore_regions):
            np.testing.assert_allclose(ra, rb)


@pytest.mark.parametrize("predictions", [False, True])
def test_2018_round_trip(tmp_path, predictions):
    video = _video(2018)
    path = write_video(str(tmp_path / "sub" / "v.json"), video, predictions=predictions)
    doc = json.loads(open(path, encoding="utf-8").read())
    ann = doc["annotations"][1]
    assert ann["keypoints"][:3] == [0, 0, 0] and ann["keypoints"][3:6] == [video.frames[0].poses[1, 1, 0],
                                                                          video.frames[0].poses[1, 1, 1], 1]
    assert ("scores" in ann) == predictions and "bbox" not in ann and "score" not in ann
    assert doc["images"][0]["ignore_regions_y"] == [[0, 0, 30.5, 30]] and doc["images"][1]["is_labeled"] is False
    assert doc["categories"][0]["keypoints"] == list(POSETRACK_KEYPOINT_NAMES)
    _assert_same(read_video(path, predictions=predictions), video, scores=predictions)


@pytest.mark.parametrize("predictions", [False, True])
def test_2017_round_trip(tmp_path, predictions):
    video = _video(2017)
    path = write_video(str(tmp_path / "v.json"), video, predictions=predictions)
    frame = json.loads(open(path, encoding="utf-8").read())["annolist"][0]
    assert frame["image"] == [{"name": "images/v/000000.jpg"}] and frame["is_labeled"] == [1]
    rect = frame["annorect"][0]
    assert rect["track_id"] == [3] and rect["x1"] == [10] and rect["y2"] == [60] and rect["score"] == [0.75]
    point = rect["annopoints"][0]["point"][0]
    assert point["id"] == [0] and point["x"] == [video.frames[0].poses[0, 16, 0]]   # id 0: the right ankle
    assert ("score" in point) == predictions
    # 2017 keeps no person box.
    _assert_same(read_video(path, predictions=predictions), video, scores=predictions, boxes=False)


def test_2017_values_without_lists_and_2018_as_2017(tmp_path):
    doc = {"annolist": [{"image": {"name": "a.jpg"}, "annorect": [
        {"track_id": 2, "x1": 0, "y1": 0, "x2": 30, "y2": 40, "annopoints": [{"point": [
            {"id": 13, "x": 5.5, "y": 6, "score": 0.5}]}]}]}]}
    path = tmp_path / "a.json"
    path.write_text(json.dumps(doc))
    frame = read_video(str(path), predictions=True).frames[0]
    assert frame.labelled and frame.track_ids.tolist() == [2] and frame.present[0].nonzero()[0].tolist() == [0]
    np.testing.assert_allclose(frame.poses[0, 0], [5.5, 6, 0.5])
    converted = video_document(_video(2018), version=2017)
    assert len(converted["annolist"]) == 2 and converted["annolist"][1]["annorect"] == []


def _ann(**changes):
    ann = {"id": 4, "image_id": 1, "track_id": 0, "keypoints": [1.0, 2.0, 1] * 17, "scores": [0.5] * 17,
           "bbox_head": [0, 0, 10, 10]}
    ann.update(changes)
    return {key: value for key, value in ann.items() if value is not None}


@pytest.mark.parametrize("doc,predictions,words", [
    ({"images": []}, False, "not a PoseTrack file (neither 'annolist' of 2017 nor 'images' and 'annotations'"),
    ({"images": [{"id": 1}], "annotations": []}, False, "image 0 has no 'file_name'"),
    ({"images": [{"id": 1, "file_name": "a"}], "annotations": [_ann(keypoints=None)]}, False,
     "annotation 4 has no 'keypoints'"),
    ({"images": [{"id": 1, "file_name": "a"}], "annotations": [_ann(bbox_head=None)]}, False,
     "annotation 4 has labelled joints but no 'bbox_head'"),
    ({"images": [{"id": 1, "file_name": "a"}], "annotations": [_ann(scores=None)]}, True,
     "annotation 4 has no 'scores'"),
    ({"images": [{"id": 1, "file_name": "a"}], "annotations": [_ann(track_id=1000)]}, True,
     "annotation 4 has track_id 1000; PoseTrack's track ids are integers 0-999"),
    ({"images": [{"id": 1, "file_name": "a"}], "annotations": [_ann(), _ann(id=5)]}, False,
     "frame a has a track id twice"),
    ({"images": [{"id": 1, "file_name": "a"}], "annotations": [_ann(image_id=2)]}, False,
     "annotations of image_id 2, which is not in 'images'"),
    ({"images": [{"id": 1, "file_name": "a"}], "annotations": [_ann(keypoints=[1, 2, 1])]}, False,
     "annotation 4: 'keypoints' must be 17 × [x, y, v]"),
    ({"images": [{"id": 1, "file_name": "a"}], "annotations": [], "categories": [{"keypoints": ["nose"]}]}, False,
     "categories[0].keypoints must name PoseTrack's joints"),
    ({"annolist": [{"annorect": []}]}, False, "annolist[0] has no 'image'"),
    ({"annolist": [{"image": [{"name": "a"}], "annorect": [{"annopoints": []}]}]}, False,
     "annolist[0].annorect[0] has no 'track_id'"),
    ({"annolist": [{"image": [{"name": "a"}], "annorect": [{"track_id": [0], "annopoints": [{"point": [
        {"id": [15], "x": [1], "y": [2]}]}]}]}]}, False, "point 0 has id 15; PoseTrack 2017's are 0-14"),
    ({"annolist": [{"image": [{"name": "a"}], "annorect": [{"track_id": [0], "annopoints": [{"point": [
        {"id": [1], "x": [1], "y": [2]}]}]}]}]}, False, "has labelled joints but no head box x1, y1, x2, y2"),
])
def test_bad_files_are_one_line_naming_the_file_and_the_problem(tmp_path, doc, predictions, words):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(PoseTrackFormatError) as err:
        read_video(str(path), predictions=predictions)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and words in message and "\n" not in message


def test_unreadable_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="ground-truth file not found"):
        read_video(str(tmp_path / "none.json"))
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(PoseTrackFormatError, match="not valid JSON"):
        read_video(str(tmp_path / "bad.json"))


def _tracks(ids=(0, 1), names=("000001.jpg", "000002.jpg", "extra.jpg")):
    rng = np.random.default_rng(2)
    frames = []
    for k, name in enumerate(names):
        people = [{"track_id": i, "bbox": [1, 2, 3, 4], "score": 0.8, "box_score": 1.0,
                   "keypoints": np.column_stack([rng.uniform(0, 100, (17, 2)), np.full(17, 0.1 + 0.4 * p)])
                   .reshape(-1).tolist()} for p, i in enumerate(ids)]
        frames.append({"index": k, "file_name": name, "image_id": k + 1, "people": people})
    return {"video": "data/frames/seq007", "frames": frames}


def test_tracks_as_predictions_with_ground_truth():
    gt_frames = [PoseFrame.empty(f"frames/seq007/{k + 1:06d}.jpg", 100 + k, labelled=k != 2, frame_id=100 + k)
                 for k in range(4)]
    gt = PoseVideo("/data/gt/seq007.json", 2017, gt_frames)
    tracks = _tracks(ids=(5, 1200))
    video = predictions_from_tracks(tracks, gt, joint_thre=0.3)
    assert video.name == "seq007.json" and video.version == 2017
    assert [(f.name, f.image_id, f.labelled, f.extra) for f in video.frames] == \
        [(f.name, f.image_id, f.labelled, f.extra) for f in gt.frames]
    first = video.frames[0]
    assert first.track_ids.tolist() == [0, 1]                  # ids over 999: renumbered by first appearance
    coco = np.array(tracks["frames"][0]["people"][1]["keypoints"]).reshape(1, 17, 3)
    np.testing.assert_allclose(first.poses[1], posetrack_from_coco(coco)[0])
    assert not first.present[0].any() and first.present[1].all()   # scores 0.1 and 0.5 against 0.3
    np.testing.assert_allclose(first.boxes, [[1, 2, 3, 4]] * 2)
    assert len(video.frames[2].track_ids) == 0 and len(video.frames[3].track_ids) == 0
    with pytest.raises(PoseTrackFormatError, match="no frame of t.json is in /data/gt/seq007.json"):
        predictions_from_tracks(_tracks(names=("x.jpg",)), gt, tracks_path="t.json")


def test_tracks_as_predictions_without_ground_truth(tmp_path):
    video = predictions_from_tracks(_tracks(ids=(3, 4)))
    assert video.name == "seq007.json" and video.version == 2018 and len(video.frames) == 3
    assert [f.image_id for f in video.frames] == [0, 1, 2] and video.frames[0].track_ids.tolist() == [3, 4]
    assert video.frames[1].extra == {"frame_id": 1, "vid_id": "seq007", "nframes": 3}
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"frames": {}}))
    with pytest.raises(TrackingFilesError, match="not a tracks.json of track.py"):
        posetrack.write_predictions(str(path), str(tmp_path))


def test_command_writes_predictions_named_as_the_ground_truth(tmp_path, capsys):
    gt = PoseVideo("gt.json", 2018, [PoseFrame.empty("frames/seq007/000001.jpg", 1),
                                     PoseFrame.empty("frames/seq007/000002.jpg", 2)])
    gt_path = write_video(str(tmp_path / "gt" / "seq007.json"), gt)
    tracks_path = tmp_path / "out" / "tracks.json"
    tracks_path.parent.mkdir()
    tracks_path.write_text(json.dumps(_tracks()))
    assert run_cli(posetrack.main, ["--tracks", str(tracks_path), "--gt", gt_path, "--joint_thre", "0.2"]) == 0
    written = read_video(str(tmp_path / "out" / "seq007.json"), predictions=True)
    assert [len(f.track_ids) for f in written.frames] == [2, 2]
    assert written.frames[0].present[0].sum() == 0 and written.frames[0].present[1].sum() == 17
    assert run_cli(posetrack.main, ["--tracks", str(tracks_path), "--format", "2017", "--output",
                                    str(tmp_path / "o17")]) == 0
    assert read_video(str(tmp_path / "o17" / "seq007.json"), predictions=True).version == 2017
    assert run_cli(posetrack.main, ["--tracks", str(tmp_path / "none.json")]) == 2
    assert capsys.readouterr().err.startswith("error: tracks file not found: ")
    assert os.path.isfile(tmp_path / "o17" / "seq007.json")
