"""The .bin files between preprocess.py, the inference app and postprocess.py (src/deploy/bin_files.py): names,
the padding of the last batch, round trips, sizes checked."""
import os

import numpy as np
import pytest

from src.deploy import bin_files


def test_pad_batch_appends_zero_rows():
    rows = np.arange(6, dtype=np.float32).reshape(2, 3)
    padded = bin_files.pad_batch(rows, 4)
    np.testing.assert_array_equal(padded, [[0, 1, 2], [3, 4, 5], [0, 0, 0], [0, 0, 0]])
    assert padded.dtype == np.float32
    with pytest.raises(ValueError, match="larger than the batch size"):
        bin_files.pad_batch(rows, 1)


def test_written_batch_round_trips(tmp_path):
    pre = str(tmp_path)
    bin_files.make_dirs(pre)
    rng = np.random.default_rng(0)
    images = rng.normal(size=(2, 3, 8, 6)).astype(np.float32)
    center, scale = rng.uniform(0, 100, (2, 2)).astype(np.float32), rng.uniform(0, 2, (2, 2)).astype(np.float32)
    count = bin_files.write_batch(pre, 5, 3, images, center, scale, np.float32([0.9, 0.8]), np.int32([7, 8]),
                                    flip=True)
    assert count == 2
    data = np.fromfile(bin_files.data_path(pre, 3, 5), np.float32).reshape(3, 3, 8, 6)
    np.testing.assert_array_equal(data[:2], images)
    np.testing.assert_array_equal(data[2], 0)
    flipped = np.fromfile(bin_files.data_path(pre, 3, 5, flipped=True), np.float32).reshape(3, 3, 8, 6)
    np.testing.assert_array_equal(flipped[:2], images[:, :, :, ::-1])
    meta = bin_files.read_meta(pre, 3, 5)
    assert meta.count == 2
    np.testing.assert_array_equal(meta.center[:2], center)
    np.testing.assert_array_equal(meta.scale[:2], scale)
    np.testing.assert_array_equal(meta.image_id, [7, 8, 0])
    assert os.path.basename(bin_files.result_path("r", 3, 5, flipped=True)) == "sp_flip_bs3_5_0.bin"


def test_result_of_the_wrong_size_names_the_file(tmp_path):
    path = tmp_path / "sp_bs3_0_0.bin"
    np.zeros(10, np.float32).tofile(path)
    with pytest.raises(bin_files.InferFilesError, match="sp_bs3_0_0.bin holds 10"):
        bin_files.read_result(str(path), (3, 17, 16, 12))
