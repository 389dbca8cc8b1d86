"""Person boxes for infer.py (src/inference/images.py): from the command line, from a detection file, or the
whole image; image lists and ids. infer.py end to end: test_infer.py."""
import json
import os

import numpy as np
import pytest

from src.errors import BoxesError
from src.inference.images import boxes_for_images, image_id_of, list_images


def test_boxes_from_command_line_single_image(tmp_path):
    image = str(tmp_path / "a.jpg")
    found = boxes_for_images([image], "[[10, 20, 30, 40], [1, 2, 3, 4, 0.05]]", image_thre=0.1)
    np.testing.assert_allclose(found[image].boxes, [[10, 20, 30, 40]])
    np.testing.assert_allclose(found[image].scores, [1.0])
    assert boxes_for_images([image], "[5, 6, 7, 8]", 0.0)[image].boxes.shape == (1, 4)


def test_whole_image_when_no_boxes():
    assert boxes_for_images(["x/1.jpg", "x/b.png"], "", 0.0) == {"x/1.jpg": None, "x/b.png": None}


def test_boxes_from_detection_file_by_name_and_id(tmp_path):
    dets = [{"file_name": "dir/a.jpg", "bbox": [0, 0, 10, 20], "score": 0.9, "category_id": 1},
            {"image_id": 785, "bbox": [1, 1, 5, 5], "score": 0.8, "category_id": 1},
            {"image_id": 785, "bbox": [1, 1, 5, 5], "score": 0.01, "category_id": 1},
            {"image_id": 785, "bbox": [2, 2, 5, 5], "score": 0.99, "category_id": 2}]
    path = tmp_path / "dets.json"
    path.write_text(json.dumps(dets))
    images = ["i/a.jpg", "i/000000000785.jpg", "i/c.jpg"]
    found = boxes_for_images(images, str(path), image_thre=0.1)
    assert set(found) == {"i/a.jpg", "i/000000000785.jpg"}
    np.testing.assert_allclose(found["i/a.jpg"].scores, [0.9])
    assert found["i/000000000785.jpg"].image_id == 785
    np.testing.assert_allclose(found["i/000000000785.jpg"].boxes, [[1, 1, 5, 5]])


@pytest.mark.parametrize("boxes, message", [
    ("[[1, 2, 3]]", "4 numbers"),
    ("[[1, 2, 3", "not a JSON list"),
    ("[[1, 2, 0, 4]]", "positive"),
    ("[]", "non-empty"),
    ("[['a', 2, 3, 4]]", "not a JSON list"),
])
def test_bad_boxes(boxes, message):
    with pytest.raises(BoxesError, match=message):
        boxes_for_images(["a.jpg"], boxes, 0.0)


def test_bad_detection_file(tmp_path):
    path = tmp_path / "dets.json"
    path.write_text('{"not": "a list"}')
    with pytest.raises(BoxesError, match="JSON list"):
        boxes_for_images(["a.jpg"], str(path), 0.0)
    path.write_text("[{")
    with pytest.raises(BoxesError, match="not valid JSON"):
        boxes_for_images(["a.jpg"], str(path), 0.0)
    with pytest.raises(BoxesError, match="single image"):
        boxes_for_images(["a.jpg", "b.jpg"], "[[1, 2, 3, 4]]", 0.0)


def test_images_and_ids(tmp_path):
    (tmp_path / "b.png").write_bytes(b"x")
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    assert [os.path.basename(p) for p in list_images(str(tmp_path))] == ["a.jpg", "b.png"]
    assert image_id_of("d/000000000785.jpg", 3) == 785 and image_id_of("d/a.jpg", 3) == 3
    assert list_images(str(tmp_path / "b.png")) == [str(tmp_path / "b.png")]   # one file
    with pytest.raises(FileNotFoundError, match="img_path"):
        list_images(str(tmp_path / "missing.jpg"))


