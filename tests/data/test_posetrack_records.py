"""PoseTrack's person records (src/data/posetrack_records.py): the split's files, records of hand-made
(tests/data/posetrack_split.py) and synthetic videos, detections by image id and file name, the records the
configuration asks for."""
import json
import os

import numpy as np
import pytest

from src.data.posetrack_records import (annotation_folder, detection_records, ground_truth_records,
                                        read_posetrack_records, read_split)
from src.data.records import RecordSettings
from src.errors import ConfigError, DatasetFormatError, DatasetNotFoundError, ImageReadError, PoseTrackFormatError
from src.model_utils.config import get_config
from tests.data.posetrack_split import J, person_pose, present, write_split


@pytest.fixture(name="root")
def fixture_root(tmp_path):
    return write_split(tmp_path)


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
    records = read_posetrack_records(RecordSettings.from_config(get_config(common), train=True))
    assert len(records.image_files) == 4 and records.origin == os.path.join(root, "annotations", "val")
    gt_boxes = RecordSettings.from_config(get_config(common + ["--TEST.USE_GT_BBOX", "True"]), train=False)
    # Evaluation names missing frames at once (the split has annotation files, no images yet).
    with pytest.raises(ImageReadError, match="3 evaluation images are missing") as err:
        read_posetrack_records(gt_boxes)
    assert "Check that DATASET.ROOT holds the images" in str(err.value)
    for name in set(records.image_files):
        os.makedirs(os.path.dirname(name), exist_ok=True)
        open(name, "wb").close()
    assert len(read_posetrack_records(gt_boxes).image_files) == 4
    settings = RecordSettings.from_config(get_config(common + ["--coco_bbox_file", "none.json"]), train=False,
                                          bbox_file=str(tmp_path / "dets.json"))
    records = read_posetrack_records(settings)
    assert records.image_ids.tolist() == [3] and records.origin.startswith(str(tmp_path / "dets.json"))
    with pytest.raises(ConfigError, match="COCO's files"):
        read_posetrack_records(RecordSettings.from_config(get_config(common), train=True, ann_file="a.json"))


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
