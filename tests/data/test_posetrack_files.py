"""PoseTrack's file formats (src/data/posetrack_files.py): 2017 and 2018 files written and read back, one-line
errors naming the file and the key, ignore regions, and which files of a folder are videos."""
import json

import numpy as np
import pytest

from src.data.posetrack_files import (PoseFrame, PoseVideo, inside_polygons, read_video, remove_ignored,
                                      video_document, video_files, write_video)
from src.data.posetrack_joints import POSETRACK_KEYPOINT_NAMES
from src.errors import PoseTrackFormatError

EARS = [3, 4]


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
    skeleton = doc["categories"][0]["skeleton"]          # 1-based, as PoseTrack's own files
    assert len(skeleton) == 19 and skeleton[0] == [16, 14] and skeleton[-1] == [5, 7]
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


def test_points_inside_polygons_by_the_even_odd_rule():
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], np.float64)
    triangle = np.array([[20, 0], [30, 0], [20, 10]], np.float64)
    points = [[5, 5], [15, 5], [21, 1], [29, 9], [-1, 5], [5, 10.5]]
    np.testing.assert_array_equal(inside_polygons(points, [square, triangle]), [1, 0, 1, 0, 0, 0])
    assert not inside_polygons(points, []).any()


def test_ignored_joints_and_the_people_left_without_joints_are_removed():
    frame = _video().frames[0]
    region = np.array([[-1000.0, -1000], [1000, -1000], [1000, 1000], [-1000, 1000]])
    assert len(remove_ignored(frame, [region]).track_ids) == 0
    assert remove_ignored(frame, []) is frame
    # Around the second person's nose alone: the first person keeps every joint; the second loses its nose.
    x, y = frame.poses[0, 0, :2]
    around = np.array([[x - 0.01, y - 0.01], [x + 0.01, y - 0.01], [x + 0.01, y + 0.01], [x - 0.01, y + 0.01]])
    kept = remove_ignored(frame, [around])
    assert kept.track_ids.tolist() == [3, 11] and not kept.present[0, 0] and kept.present[0, 1]
    np.testing.assert_array_equal(kept.present[1], frame.present[1])


def test_a_folders_videos_are_its_json_files_but_this_projects_own(tmp_path):
    for name in ("b.json", "a.json", "tracks.json", "posetrack_metrics.json", "notes.txt"):
        (tmp_path / name).write_text("{}")
    assert video_files(str(tmp_path)) == [str(tmp_path / "a.json"), str(tmp_path / "b.json")]
