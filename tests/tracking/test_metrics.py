"""Tracking metrics' pieces (src/tracking/metrics.py): COCO's OKS, the ground truth of a video, tracks files."""
import json

import numpy as np
import pytest

from src.errors import DatasetFormatError, TrackingFilesError
from src.tracking.metrics import as_poses, coco_oks, load_ground_truth


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
    assert as_poses([]).shape == (0, 17, 3)


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
