"""Annotation files (src/data/annotations.py): written and read back, images by id and by path, one-line errors."""
import os

import pytest

from src.data.annotations import image_files, images_by_id, read_annotations, write_annotations
from src.errors import DatasetFormatError, DatasetNotFoundError

DOC = {"images": [{"id": 3, "file_name": "a.jpg"}, {"id": 5, "file_name": "b.jpg"}],
       "annotations": [{"id": 1, "image_id": 3, "keypoints": [1, 2, 2] * 17}], "categories": []}


def test_round_trip_and_lookups(tmp_path):
    path = str(tmp_path / "ann.json")
    write_annotations(path, DOC)
    doc = read_annotations(path)
    assert doc == DOC and os.listdir(tmp_path) == ["ann.json"]
    assert images_by_id(doc, path) == {3: DOC["images"][0], 5: DOC["images"][1]}
    assert image_files(doc, path, "/imgs") == {3: os.path.join("/imgs", "a.jpg"), 5: os.path.join("/imgs", "b.jpg")}


@pytest.mark.parametrize("content,words", [
    ('{"annotations": []}', "is not a COCO annotation file (no 'images' list)"),
    ('[1, 2]', "is not a COCO annotation file (no 'images' list)"),
    ('{"images": [', "annotation file {path} is not valid JSON"),
])
def test_bad_files_name_the_file(tmp_path, content, words):
    path = tmp_path / "ann.json"
    path.write_text(content)
    with pytest.raises(DatasetFormatError) as err:
        read_annotations(str(path))
    assert str(path) in str(err.value) and words.format(path=path) in str(err.value)


def test_missing_files_and_entries(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"^ground-truth file not found: '.*none.json'; get it$"):
        read_annotations(str(tmp_path / "none.json"), "ground-truth file", "get it", DatasetNotFoundError)
    with pytest.raises(DatasetFormatError, match="x.json: an entry of 'images' has no 'id'"):
        images_by_id({"images": [{"file_name": "a.jpg"}]}, "x.json")
    with pytest.raises(DatasetFormatError, match="x.json: an entry of 'images' has no 'id' or 'file_name'"):
        image_files({"images": [{"id": 1}]}, "x.json", "/imgs")
