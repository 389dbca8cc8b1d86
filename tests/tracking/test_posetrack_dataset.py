"""PoseTrack as a data set (src/tracking/posetrack_dataset.py): the split's files, person records of hand-made and
synthetic videos, detections by image id and file name, and the evaluation of poses by the benchmark's AP."""
import json
import os

import numpy as np
import pytest

from src.constants import NUM_POSETRACK_JOINTS
from src.errors import DatasetFormatError, DatasetNotFoundError, PoseTrackFormatError
from src.model_utils.config import get_config
from src.tracking import posetrack_dataset
from src.tracking.posetrack import PoseFrame, PoseVideo, read_video, write_video
from src.tracking.posetrack_dataset import (annotation_folder, detection_records, ground_truth_records,
                                            prediction_videos, read_split)
from src.tracking.posetrack_eval import pair_videos
from src.tracking.posetrack_eval import evaluate as benchmark_evaluate

J = NUM_POSETRACK_JOINTS
LABELLED = [j for j in range(J) if j not in (3, 4)]   # PoseTrack never labels the ears


def person_pose(x0: float, y0: float) -> np.ndarray:
    """A J×3 pose ``[x, y, 1]`` of distinct joints around ``(x0, y0)``."""
    pose = np.ones((J, 3))
    pose[:, 0] = x0 + 3 * np.arange(J)
    pose[:, 1] = y0 + 2 * np.arange(J)
    return pose


def make_frame(name, image_id, people, labelled=True, regions=()):
    """``people``: (track id, pose J×3, present J, box [x, y, w, h] or None)."""
    if not people:
        return PoseFrame.empty(name, image_id, labelled)._replace(ignore_regions=tuple(regions))
    poses = np.stack([p[1] for p in people])
    heads = np.array([[p[1][2, 0] - 5, p[1][2, 1] - 5, p[1][2, 0] + 5, p[1][2, 1] + 5] for p in people])
    boxes = np.array([p[3] if p[3] is not None else [np.nan] * 4 for p in people], np.float64)
    return PoseFrame(name, image_id, labelled, np.array([p[0] for p in people]), poses,
                     np.stack([p[2] for p in people]), heads, boxes, np.full(len(people), np.nan), tuple(regions))


def present(*missing):
    mask = np.zeros(J, bool)
    mask[LABELLED] = True
    mask[list(missing)] = False
    return mask


@pytest.fixture(name="root")
def fixture_root(tmp_path):
    """A PoseTrack root with the split ``val``: video a (3 frames) and video b (1 frame), written by the format's
    writer. Frame numbers: a/0 -> 0, a/1 -> 1, a/2 -> 2, b/0 -> 3."""
    region = np.array([[200.0, 0.0], [300.0, 0.0], [300.0, 100.0], [200.0, 100.0]])
    nobody = np.zeros(J, bool)
    a = PoseVideo("a.json", 2018, [
        # two people; the second has no box: its box is that of its joints and head box
        make_frame("images/val/a/000000.jpg", 10000, [(0, person_pose(10, 20), present(), [5, 15, 60, 50]),
                                                      (1, person_pose(100, 20), present(0), None)]),
        # not labelled: no records
        make_frame("images/val/a/000001.jpg", 10001, [(0, person_pose(10, 20), present(), [5, 15, 60, 50])],
                   labelled=False),
        # a person without labelled joints, one inside the ignore region, one with two joints inside it
        make_frame("images/val/a/000002.jpg", 10002, [(0, person_pose(10, 20), nobody, [5, 15, 60, 50]),
                                                      (1, person_pose(210, 10), present(), [205, 5, 60, 50]),
                                                      (2, person_pose(170, 10), present(), [165, 5, 60, 50])],
                   regions=[region])])
    b = PoseVideo("b.json", 2018, [make_frame("images/val/b/000000.jpg", 20000,
                                              [(4, person_pose(30, 40), present(), [25, 35, 60, 50])])])
    for video in (b, a):
        write_video(str(tmp_path / "annotations" / "val" / video.name), video)
    return str(tmp_path)


def test_the_annotation_folder_is_posetracks_else_the_split_itself(tmp_path, root):
    assert annotation_folder(root, "val") == os.path.join(root, "annotations", "val")
    (tmp_path / "posetrack18").mkdir()
    assert annotation_folder(str(tmp_path), "posetrack18") == str(tmp_path / "posetrack18")
    with pytest.raises(DatasetNotFoundError) as err:
        annotation_folder(root, "train")
    message = str(err.value)
    assert os.path.join(root, "annotations", "train") in message and os.path.join(root, "train") in message
    assert "DATASET.TRAIN_SET" in message and "posetrack.net" in message and "\n" not in message
    with pytest.raises(DatasetNotFoundError, match="PoseTrack root \\(DATASET.ROOT\\) not found"):
        annotation_folder(str(tmp_path / "none"), "val")
    with pytest.raises(DatasetFormatError, match="no PoseTrack annotation files"):
        read_split(str(tmp_path), "posetrack18")


def test_records_of_the_labelled_people_of_labelled_frames(root):
    split = read_split(root, "val")
    assert [v.name for v in split.videos] == ["a.json", "b.json"]
    assert split.frames == [(0, 0), (0, 1), (0, 2), (1, 0)]
    records = ground_truth_records(split)
    # a/0: both; a/1: unlabelled frame; a/2: only the third (no joints; all joints in the region); b/0: one.
    assert records.image_ids.tolist() == [0, 0, 2, 3]
    assert records.image_files == [os.path.join(root, "images/val/a/000000.jpg")] * 2 + [
        os.path.join(root, "images/val/a/000002.jpg"), os.path.join(root, "images/val/b/000000.jpg")]
    np.testing.assert_array_equal(records.boxes[[0, 3]], [[5, 15, 60, 50], [25, 35, 60, 50]])
    # Joints 1-16 but the ears span x 103-148, y 22-52; the head box round the head top (106, 24) adds x 101, y 19.
    np.testing.assert_allclose(records.boxes[1], [101, 19, 148 - 101, 52 - 19])
    assert records.joints.shape == records.joints_vis.shape == (4, J, 3)
    np.testing.assert_array_equal(records.joints_vis[[0, 1, 3], :, 0], np.stack([present(), present(0), present()]))
    assert (records.joints_vis == records.joints_vis[:, :, :1]).all() and not records.joints[:, :, 2].any()
    np.testing.assert_allclose(records.joints[0, :, :2], np.where(present()[:, None], person_pose(10, 20)[:, :2], 0))
    # The third person of a/2 keeps the joints outside the region (x = 170 + 3j < 200: j < 10, not the ears).
    assert np.flatnonzero(records.joints_vis[2, :, 0]).tolist() == [0, 1, 2, 5, 6, 7, 8, 9]
    np.testing.assert_array_equal(records.scores, 1)


def test_synthetic_records_are_the_labelled_people_of_the_coco_labels(synthetic_posetrack):
    """The synthetic set's PoseTrack records: one per person with keypoint labels in its COCO files (the others are
    ignore regions: their boxes), the body joints labelled as there but for those inside another's ignore box, head
    bottom and top where inside the frame."""
    split = read_split(synthetic_posetrack, "posetrack18")
    records = ground_truth_records(split)
    coco, ignored = [], []
    for name in ("seq000", "seq001"):
        with open(os.path.join(synthetic_posetrack, "annotations", name + ".json"), encoding="utf-8") as f:
            doc = json.load(f)
        for image in doc["images"]:
            anns = [a for a in doc["annotations"] if a["image_id"] == image["id"]]
            boxes = [a["bbox"] for a in anns if a["num_keypoints"] == 0]
            for ann in anns:
                if ann["num_keypoints"] > 0:
                    xy = np.array(ann["keypoints"], np.float64).reshape(17, 3)[:, :2]
                    coco.append(ann)
                    ignored.append(np.any([(xy[:, 0] > x) & (xy[:, 0] < x + w) & (xy[:, 1] > y) & (xy[:, 1] < y + h)
                                           for x, y, w, h in boxes], axis=0) if boxes else np.zeros(17, bool))
    assert len(split.frames) == 16 and len(records.image_files) == len(coco) == 26
    assert np.sum(ignored) > 0              # joints in the ignore boxes of small people (behind the labelled)
    body = [0] + list(range(5, 17))
    labels = np.array([a["keypoints"] for a in coco], np.float64).reshape(-1, 17, 3)
    labelled = (labels[:, :, 2] > 0) & ~np.array(ignored)
    np.testing.assert_array_equal(records.joints_vis[:, body, 0], labelled[:, body])
    np.testing.assert_allclose(records.joints[:, body, :2], np.where(labelled[:, body, None], labels[:, body, :2], 0),
                               atol=1e-3)
    assert not records.joints_vis[:, 3:5].any() and records.joints_vis[:, 1:3, 0].mean() > 0.5
    np.testing.assert_allclose(records.boxes, [a["bbox"] for a in coco], atol=1e-3)
    assert records.image_files[0] == os.path.join(synthetic_posetrack, "frames", "seq000", "000001.jpg")


def test_detections_by_image_id_or_file_name_on_labelled_frames(root, tmp_path, caplog):
    dets = [{"image_id": 10000, "bbox": [1, 2, 30, 40], "score": 0.9},
            {"image_id": 10000, "bbox": [1, 2, 30, 40], "score": 0.1},                     # below the threshold
            {"file_name": "images/val/b/000000.jpg", "bbox": [5, 6, 20, 30], "score": 0.8},
            {"image_id": 10001, "bbox": [1, 2, 30, 40], "score": 0.9},                     # an unlabelled frame
            {"image_id": 777, "bbox": [1, 2, 30, 40], "score": 0.9},                       # not in the split
            {"image_id": 10002, "category_id": 2, "bbox": [1, 2, 30, 40], "score": 0.9}]   # not a person
    path = tmp_path / "dets.json"
    path.write_text(json.dumps(dets))
    with caplog.at_level("INFO"):
        records = detection_records(read_split(root, "val"), str(path), min_score=0.5)
    assert records.image_ids.tolist() == [0, 3] and records.scores.tolist() == pytest.approx([0.9, 0.8])
    np.testing.assert_array_equal(records.boxes, [[1, 2, 30, 40], [5, 6, 20, 30]])
    assert records.joints.shape == (2, J, 3) and (records.joints_vis == 1).all()
    assert "1 detections in" in caplog.text and "name frames not in" in caplog.text
    assert "1 of unlabelled frames" in caplog.text


def test_posetrack_records_follow_the_configuration(root, tmp_path):
    (tmp_path / "dets.json").write_text(json.dumps([{"image_id": 20000, "bbox": [5, 6, 20, 30], "score": 0.8}]))
    common = ["--DATASET.DATASET", "posetrack", "--dataset_path", root, "--DATASET.TRAIN_SET", "val",
              "--DATASET.TEST_SET", "val"]
    records, source = posetrack_dataset.posetrack_records(get_config(common), train_mode=True)
    assert len(records.image_files) == 4 and source == os.path.join(root, "annotations", "val")
    gt_boxes = get_config(common + ["--TEST.USE_GT_BBOX", "True"])
    assert len(posetrack_dataset.posetrack_records(gt_boxes, train_mode=False)[0].image_files) == 4
    records, source = posetrack_dataset.posetrack_records(get_config(common + ["--coco_bbox_file", "dets.json"]),
                                                          train_mode=False, bbox_file=str(tmp_path / "dets.json"))
    assert records.image_ids.tolist() == [3] and source.startswith(str(tmp_path / "dets.json"))


def test_a_file_with_missing_keys_is_named(root):
    path = os.path.join(root, "annotations", "val", "a.json")
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    del doc["annotations"][1]["keypoints"]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    with pytest.raises(PoseTrackFormatError) as err:
        read_split(root, "val")
    assert str(err.value) == f"{path}: annotation 2 has no 'keypoints'"


# ---------------------------------------------------------------------------------------------- evaluation

def test_prediction_videos_have_every_frame_and_the_people_by_score(root):
    split = read_split(root, "val")
    preds = np.stack([person_pose(10, 20), person_pose(50, 20), person_pose(30, 40)])
    videos = prediction_videos(split, preds, np.array([0.2, 0.7, 0.5]), np.array([0, 0, 3]))
    assert [v.name for v in videos] == ["a.json", "b.json"] and [len(v.frames) for v in videos] == [3, 1]
    first = videos[0].frames[0]
    assert first.name == "images/val/a/000000.jpg" and first.image_id == 10000
    assert first.track_ids.tolist() == [0, 1] and first.scores.tolist() == [0.7, 0.2]
    np.testing.assert_array_equal(first.poses[0], person_pose(50, 20))
    assert (first.present == present()).all()             # the ears are not written
    assert len(videos[0].frames[1].track_ids) == 0 and not videos[0].frames[1].labelled
    assert videos[1].frames[0].track_ids.tolist() == [0]


def _gt_rows(split, noise=0.0):
    """Predictions at the labelled joints (``noise`` pixels off; the others scoring 0), boxes of scale 1 (area
    200²)."""
    records = ground_truth_records(split)
    preds = records.joints.astype(np.float64).copy()
    preds[:, :, :2] += noise
    preds[:, :, 2] = 0.9 * records.joints_vis[:, :, 0]
    boxes = np.zeros((len(preds), 6))
    boxes[:, 2:4], boxes[:, 4], boxes[:, 5] = 1.0, 200.0 ** 2, 1.0
    return preds, boxes, records.image_ids


def test_the_labelled_poses_score_100_and_the_files_give_the_same_ap(root, tmp_path):
    split = read_split(root, "val")
    preds, boxes, numbers = _gt_rows(split)
    result = posetrack_dataset.evaluate(split, preds, str(tmp_path / "results"), boxes, numbers, 0.2, 0.9)
    assert result.total_ap == pytest.approx(100.0) and result.frames == 3 and np.isnan(result.total_mota)
    files = sorted(os.listdir(tmp_path / "results" / "posetrack_predictions"))
    assert files == ["a.json", "b.json"]
    again = benchmark_evaluate(pair_videos([os.path.join(root, "annotations", "val")],
                                           [str(tmp_path / "results" / "posetrack_predictions")]))
    np.testing.assert_array_equal(again.ap, result.ap)
    with open(tmp_path / "results" / "posetrack_metrics.json", encoding="utf-8") as f:
        assert json.load(f)["total"]["ap"] == pytest.approx(100.0)
    # 20 pixels off misses every joint (heads of 10 pixels: PCKh@0.5 is 0.6 × 14.1 × 0.5 = 4.2 pixels): AP 0.
    preds, boxes, numbers = _gt_rows(split, 20.0)
    assert posetrack_dataset.evaluate(split, preds, str(tmp_path / "far"), boxes, numbers, 0.2, 0.9).total_ap == 0.0


def test_duplicates_are_removed_by_oks_nms_over_the_labelled_joints(root, tmp_path):
    """Each person predicted twice: a copy half a pixel off scoring a little higher, whose ears (never labelled)
    are far away. OKS-NMS over the labelled joints keeps the copies only (AP 100); over all 17, or without NMS,
    the originals would be false positives ranked above other people's true ones."""
    split = read_split(root, "val")
    preds, boxes, numbers = _gt_rows(split)
    preds[:, :, 2] *= np.linspace(1.0, 0.3, len(preds))[:, None]
    copies = preds + [0.5, 0.5, 0.0]
    copies[:, :, 2] += 0.01 * (copies[:, :, 2] > 0)
    copies[:, 3:5, :2] = 1000.0
    result = posetrack_dataset.evaluate(split, np.concatenate([preds, copies]), str(tmp_path),
                                        np.concatenate([boxes, boxes]), np.concatenate([numbers, numbers]), 0.2, 0.9)
    assert result.total_ap == pytest.approx(100.0)
    video = read_video(str(tmp_path / "posetrack_predictions" / "a.json"), predictions=True)
    assert [len(frame.track_ids) for frame in video.frames] == [2, 0, 1]
    np.testing.assert_allclose(video.frames[0].poses[0, 0, :2], preds[0, 0, :2] + 0.5)       # a copy
    # The same predictions without NMS score lower: the test can tell.
    kept_all = posetrack_dataset.prediction_videos(split, np.concatenate([preds, copies]),
                                                   np.concatenate([preds, copies])[:, 0, 2],
                                                   np.concatenate([numbers, numbers]))
    assert benchmark_evaluate(list(zip(split.videos, kept_all)), mot=False).total_ap < 99.0
