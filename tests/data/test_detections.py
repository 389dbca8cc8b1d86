"""Detection files (src/data/detections.py): read by file name or image id, boxes with their scores, written back,
found under the data set root, and the one-line errors of a bad file or box list."""
import json

import numpy as np
import pytest

from src.data.detections import (DetectionIndex, as_boxes, find_detection_file, first_image_boxes, read_detections,
                                 write_detections)
from src.errors import BoxesError, DatasetNotFoundError

DETECTIONS = [
    {"image_id": 7, "category_id": 1, "bbox": [1, 2, 30, 40], "score": 0.9},
    {"image_id": 7, "category_id": 1, "bbox": [5, 6, 10, 20], "score": 0.2},
    {"image_id": 7, "category_id": 2, "bbox": [0, 0, 9, 9], "score": 1.0},      # not a person: dropped
    {"file_name": "frames/a.jpg", "bbox": [3, 4, 5, 6]},                        # person, score 1 by default
]


def test_round_trip_and_person_detections_only(tmp_path):
    path = str(tmp_path / "dets.json")
    write_detections(path, DETECTIONS)
    assert json.loads(open(path).read()) == DETECTIONS
    assert read_detections(path) == [DETECTIONS[0], DETECTIONS[1], DETECTIONS[3]]


def test_index_finds_an_image_by_base_name_else_by_id(tmp_path):
    path = str(tmp_path / "dets.json")
    write_detections(path, DETECTIONS)
    index = DetectionIndex(path)
    by_name = index.of_image("/elsewhere/a.jpg", 7)
    assert by_name == [DETECTIONS[3]] and index.image_id(by_name, 99) == 99
    by_id = index.of_image("000007.jpg", 7)
    assert by_id == DETECTIONS[:2] and index.image_id(by_id, 99) == 7
    boxes, scores = index.boxes(by_id, min_score=0.5)
    np.testing.assert_array_equal(boxes, [[1, 2, 30, 40]])
    np.testing.assert_array_equal(scores, [0.9])
    boxes, scores = index.boxes(index.of_image("b.jpg", 8), 0.0)
    assert boxes.shape == (0, 4) and scores.shape == (0,)


def test_box_lists_of_the_command_line():
    boxes, scores = first_image_boxes("[[1, 2, 3, 4, 0.4], [5, 6, 7, 8]]", min_score=0.5)
    np.testing.assert_array_equal(boxes, [[5, 6, 7, 8]])
    np.testing.assert_array_equal(scores, [1.0])
    boxes, _ = as_boxes([1, 2, 3, 4], "one box")
    np.testing.assert_array_equal(boxes, [[1, 2, 3, 4]])


@pytest.mark.parametrize("rows,words", [
    ([], "expected a non-empty list"), ([[1, 2, 3]], "4 numbers"), ([[1, 2, "x", 4]], "numbers"),
    ([[1, 2, 0, 4]], "widths and heights must be positive"),
])
def test_bad_box_lists(rows, words):
    with pytest.raises(BoxesError, match=words):
        as_boxes(rows, "given")


@pytest.mark.parametrize("content,words", [
    ('{"image_id": 1}', "expected a JSON list of detections"),
    ('[{"image_id": 1}]', "a detection lacks 'bbox' or both 'image_id' and 'file_name'"),
    ('[{"bbox": [1, 2, 3, 4]}]', "a detection lacks 'bbox' or both 'image_id' and 'file_name'"),
    ('[{"image_id": 1, "bbox": [1, 2, 3, 4]', "is not valid JSON"),
])
def test_bad_files_name_the_file(tmp_path, content, words):
    path = tmp_path / "dets.json"
    path.write_text(content)
    with pytest.raises(BoxesError) as err:
        DetectionIndex(str(path), "boxes file (TRACK.BOXES)")
    assert str(err.value).startswith(f"boxes file (TRACK.BOXES) {path}") and words in str(err.value)
    with pytest.raises(FileNotFoundError, match="boxes file not found"):
        read_detections(str(tmp_path / "none.json"))


def test_detection_file_is_found_under_the_dataset_root(tmp_path):
    root = tmp_path / "coco"
    (root / "person_detection_results").mkdir(parents=True)
    found = root / "person_detection_results" / "dets.json"
    found.write_text("[]")
    assert find_detection_file("x/dets.json", str(root)) == str(found)          # by its name, in the usual folder
    assert find_detection_file("person_detection_results/dets.json", str(root)) == str(found)   # relative to root
    assert find_detection_file(str(found), str(root)) == str(found)               # as given
    with pytest.raises(DatasetNotFoundError) as err:
        find_detection_file(str(tmp_path / "absent.json"), str(root))
    assert f"(tried {tmp_path / 'absent.json'})" in str(err.value) and "--TEST.USE_GT_BBOX True" in str(err.value)
