"""Person records from COCO files (src/data/coco_records.py): the reference's filter, detections, file errors."""
import json
import logging
import os

import numpy as np
import pytest

from src.data.coco_records import (detection_records, ground_truth_records, load_annotations, read_coco_records,
                                   require_dir)
from src.data.records import RecordSettings
from src.errors import BoxesError, DatasetFormatError, DatasetNotFoundError
from tests.reference import loop_gt_records

J = 17
DETECTIONS = os.path.join("person_detection_results", "COCO_val2017_detections_AP_H_56_person.json")


def paths(root, split):
    return os.path.join(root, split), os.path.join(root, "annotations", f"person_keypoints_{split}.json")


def read(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# ----------------------------------------------------------------------------- annotations

@pytest.mark.parametrize("split", ["train2017", "val2017"])
def test_ground_truth_records_match_the_reference_filter(synthetic_root, split):
    image_dir, ann_file = paths(synthetic_root, split)
    records = ground_truth_records(image_dir, ann_file, J)
    want = loop_gt_records(ann_file)
    assert len(records.image_files) == len(want) > 0
    assert records.image_ids.tolist() == [ann["image_id"] for ann, _ in want]
    files = {img["id"]: img["file_name"] for img in read(ann_file)["images"]}
    assert records.image_files == [os.path.join(image_dir, files[ann["image_id"]]) for ann, _ in want]
    np.testing.assert_allclose(records.boxes, [box for _, box in want])
    keypoints = np.array([ann["keypoints"] for ann, _ in want], np.float32).reshape(-1, J, 3)
    np.testing.assert_array_equal(records.joints[:, :, :2], keypoints[:, :, :2])
    assert not records.joints[:, :, 2].any()
    np.testing.assert_array_equal(records.joints_vis, np.repeat(np.minimum(keypoints[:, :, 2:], 1), 3, axis=2))
    assert records.scores.tolist() == [1.0] * len(want)


def test_crowds_unlabelled_other_categories_and_empty_boxes_are_skipped(synthetic_root, tmp_path):
    image_dir, ann_file = paths(synthetic_root, "train2017")
    data = read(ann_file)
    n = len(loop_gt_records(ann_file))
    labelled = [a for a in data["annotations"] if a["num_keypoints"] > 0]
    first, second = labelled[0], labelled[1]
    first["iscrowd"] = 1
    second["num_keypoints"], second["keypoints"] = 0, [0] * (3 * J)
    data["annotations"].append(dict(first, id=999999, iscrowd=0, area=0))
    data["annotations"].append(dict(labelled[2], id=999998, category_id=2))
    edited = tmp_path / "ann.json"
    edited.write_text(json.dumps(data))
    records = ground_truth_records(image_dir, str(edited), J)
    assert len(records.image_files) == n - 2
    assert first["bbox"][:2] not in records.boxes[:, :2].tolist()


def test_boxes_are_clipped_to_the_image_as_the_reference_does(synthetic_root, tmp_path):
    image_dir, ann_file = paths(synthetic_root, "val2017")
    data = read(ann_file)
    image = data["images"][0]
    person = next(a for a in data["annotations"] if a["image_id"] == image["id"] and a["num_keypoints"] > 0)
    data["annotations"] = [dict(person, bbox=[-10.0, 5.0, image["width"] + 50.0, 20.0])]
    edited = tmp_path / "ann.json"
    edited.write_text(json.dumps(data))
    records = ground_truth_records(image_dir, str(edited), J)
    # x1 = max(0, x); x2 = min(width - 1, x1 + max(0, w - 1)); the box is [x1, y1, x2 - x1, y2 - y1]
    np.testing.assert_allclose(records.boxes, [[0.0, 5.0, image["width"] - 1.0, 19.0]])


# ----------------------------------------------------------------------------- detections

@pytest.mark.parametrize("thre", [0.0, 0.5])
def test_detection_records_keep_people_above_the_threshold(synthetic_root, thre):
    image_dir, ann_file = paths(synthetic_root, "val2017")
    bbox_file = os.path.join(synthetic_root, DETECTIONS)
    dets = read(bbox_file)
    records = detection_records(image_dir, ann_file, bbox_file, J, min_score=thre)
    kept = [d for d in dets if d["category_id"] == 1 and d["score"] >= thre]
    assert len(records.image_files) == len(kept) > 0
    assert thre == 0.0 or len(kept) < len(dets)
    np.testing.assert_allclose(records.scores, [d["score"] for d in kept], rtol=1e-6)
    np.testing.assert_allclose(records.boxes, [d["bbox"] for d in kept])
    assert records.image_ids.tolist() == [d["image_id"] for d in kept]
    assert records.joints_vis.min() == 1 and not records.joints.any()
    assert all(os.path.isfile(f) for f in records.image_files)


def test_detections_of_unknown_images_are_skipped_with_a_warning(synthetic_root, tmp_path, caplog):
    image_dir, ann_file = paths(synthetic_root, "val2017")
    dets = read(os.path.join(synthetic_root, DETECTIONS))
    known = len(dets)
    dets += [dict(dets[0], image_id=-5), dict(dets[0], image_id=-6)]
    bbox_file = tmp_path / "dets.json"
    bbox_file.write_text(json.dumps(dets))
    with caplog.at_level(logging.WARNING, logger="src.data.coco_records"):
        records = detection_records(image_dir, ann_file, str(bbox_file), J)
    assert len(records.image_files) == known
    assert f"2 boxes in {bbox_file} refer to images not in {ann_file}; skipped" in caplog.text


# ----------------------------------------------------------------------------- files that are missing or wrong

def test_missing_files_and_folders_say_how_to_get_the_data(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        load_annotations(str(tmp_path / "none.json"))
    message = str(err.value)
    assert message.startswith(f"annotation file not found: '{tmp_path / 'none.json'}'; ")
    assert "python -m src.synthetic --output DIR" in message and "cocodataset.org" in message
    with pytest.raises(DatasetNotFoundError, match="image folder not found: .*val2017"):
        require_dir(str(tmp_path / "val2017"), "image folder")


@pytest.mark.parametrize("content,words", [
    (b'{"images": [', "is not valid JSON (Expecting value at line 1, column 13)"),
    (b"\xff\xfe not text", "is not UTF-8 text"),
])
def test_unreadable_json_names_the_file(tmp_path, content, words):
    path = tmp_path / "ann.json"
    path.write_bytes(content)
    with pytest.raises(DatasetFormatError) as err:
        load_annotations(str(path))
    assert str(err.value).startswith(f"annotation file {path} ") and words in str(err.value)


def test_wrong_structure_names_the_file_and_entry(synthetic_root, tmp_path):
    image_dir, ann_file = paths(synthetic_root, "val2017")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"annotations": []}))
    with pytest.raises(DatasetFormatError, match=r"bad.json is not a COCO annotation file \(no 'images' list\)"):
        ground_truth_records(image_dir, str(path), J)
    data = read(ann_file)
    person = next(a for a in data["annotations"] if a["num_keypoints"] > 0)
    del person["bbox"]
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetFormatError, match=f"annotation {person['id']} of image {person['image_id']} lacks"):
        ground_truth_records(image_dir, str(path), J)
    path.write_text(json.dumps({"image_id": 1}))
    with pytest.raises(BoxesError, match="bad.json: expected a JSON list of detections"):
        detection_records(image_dir, ann_file, str(path), J)
    path.write_text(json.dumps([{"image_id": 1, "category_id": 1, "score": 0.5}]))
    with pytest.raises(BoxesError, match="bad.json: a detection lacks 'bbox'"):
        detection_records(image_dir, ann_file, str(path), J)
    path.write_text(json.dumps([{"file_name": "a.jpg", "category_id": 1, "bbox": [0, 0, 5, 5]}]))
    with pytest.raises(BoxesError, match="bad.json: a detection names no 'image_id'"):
        detection_records(image_dir, ann_file, str(path), J)
    path.write_text(json.dumps([{"image_id": 1, "bbox": [0, 0, "wide", 5]}]))
    with pytest.raises(BoxesError, match="bad.json: a 'bbox' or 'score' is not numbers"):
        detection_records(image_dir, ann_file, str(path), J)


def test_the_records_the_settings_ask_for(synthetic_root, tmp_path):
    settings = RecordSettings(train=False, root=synthetic_root, split="val2017", gt_boxes=True, bbox_file=DETECTIONS,
                              min_score=0.0, num_joints=J)
    labelled = read_coco_records(settings)
    want = ground_truth_records(*paths(synthetic_root, "val2017"), J)
    assert labelled.image_files == want.image_files and labelled.origin == paths(synthetic_root, "val2017")[1]
    detected = read_coco_records(RecordSettings(**{**settings.__dict__, "gt_boxes": False}))
    assert detected.image_files == detection_records(*paths(synthetic_root, "val2017"),
                                                     os.path.join(synthetic_root, DETECTIONS), J).image_files
    # Files given instead of the root's: the root is not needed.
    image_dir, ann_file = paths(synthetic_root, "val2017")
    elsewhere = RecordSettings(**{**settings.__dict__, "root": str(tmp_path / "none"), "ann_file": ann_file,
                                  "image_dir": image_dir})
    assert read_coco_records(elsewhere).image_files == want.image_files
