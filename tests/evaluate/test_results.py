"""Keypoint results files (src/evaluate/results.py): the evaluation's and infer.py's entries, written and read back."""
import json
import os

import numpy as np
import pytest

from src.errors import EvaluationError
from src.evaluate.results import (RESULTS_FILE, STATS_FILE, evaluation_entries, image_entries, read_results,
                                  results_dir, write_results, write_stats)


def test_the_results_folder_of_a_model_file():
    assert results_dir("/ckpt/simplepose-140_1170.ckpt") == "/ckpt/simplepose-140_1170/results"
    assert results_dir("net.mindir") == os.path.join("net", "results")


def test_entries_round_trip(tmp_path):
    preds = np.arange(2 * 17 * 3, dtype=np.float32).reshape(2, 17, 3) / 4
    boxes = np.array([[10, 20, 1.5, 2.0, 1.2e5, 0.9], [30, 40, 0.5, 0.75, 1.5e4, 0.8]])
    entries = evaluation_entries(preds, np.array([0.7, 0.6]), boxes, np.array([5, 6]))
    assert entries[1] == {"image_id": 6, "category_id": 1, "keypoints": preds[1].reshape(-1).tolist(),
                          "score": 0.6, "center": [30.0, 40.0], "scale": [0.5, 0.75]}
    path = str(tmp_path / RESULTS_FILE)
    write_results(path, entries + image_entries(preds[:1], [0.5], 8, "a.jpg"))
    back = read_results(path)
    assert back[:2] == entries
    assert back[2] == {"image_id": 8, "category_id": 1, "file_name": "a.jpg",
                       "keypoints": preds[0].reshape(-1).tolist(), "score": 0.5}
    write_stats(str(tmp_path / STATS_FILE), {"AP": 0.5, "Ap .5": 0.75})
    assert json.loads((tmp_path / STATS_FILE).read_text()) == {"AP": 0.5, "Ap .5": 0.75}
    assert sorted(os.listdir(tmp_path)) == [RESULTS_FILE, STATS_FILE]


@pytest.mark.parametrize("content", ['{"image_id": 1}', '[{"score": 1}]', '[{"image_id": 1, "keypoints": ['])
def test_bad_results_files_name_the_file(tmp_path, content):
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(EvaluationError, match=f"keypoint results file {path}"):
        read_results(str(path))
