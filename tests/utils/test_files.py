"""Output files written whole (src/utils/files.py): the real name appears only when the writing ended normally."""
import os

import numpy as np
import pytest

from src.utils.files import partial_path, written_whole


def test_the_file_appears_only_when_written_whole(tmp_path):
    path = str(tmp_path / "heatmaps.bin")
    assert partial_path(path) == str(tmp_path / ".heatmaps.partial.bin")   # keeps the extension
    with written_whole(path) as temp:
        np.arange(4, dtype=np.float32).tofile(temp)
        assert not os.path.exists(path)
    np.testing.assert_array_equal(np.fromfile(path, np.float32), np.arange(4))
    with pytest.raises(RuntimeError):
        with written_whole(path) as temp:
            np.zeros(2, np.float32).tofile(temp)
            raise RuntimeError("killed mid-write")
    np.testing.assert_array_equal(np.fromfile(path, np.float32), np.arange(4))   # the old file, whole
    assert os.listdir(tmp_path) == ["heatmaps.bin"]
    with written_whole(str(tmp_path / "meta.npz")) as temp:
        np.savez(temp, a=np.ones(2))   # np.savez keeps a name that ends with .npz
    assert sorted(os.listdir(tmp_path)) == ["heatmaps.bin", "meta.npz"]
