"""preprocess.py: eval.py's crops written as padded batches for an exported model (the layout of
src/deploy/bin_files.py), stale batches removed, a bad batch size refused. Its results through a backend and
postprocess.py: test_postprocess.py."""
import math

import numpy as np

import preprocess
from src.deploy import bin_files
from src.dataset import keypoint_dataset
from src.utils.cli import run_cli
from src.model_utils.config import get_config
from tests.helpers import TINY_CONFIG

BATCH = 4


def preprocess_args(synthetic_root, pre_dir, *extra):
    return ["--config_path", TINY_CONFIG, "--dataset_path", synthetic_root, "--TEST.USE_GT_BBOX", "True",
            "--INFER.PRE_RESULT_PATH", str(pre_dir), "--TEST.BATCH_SIZE", str(BATCH), *extra]


def test_batches_hold_evals_crops_padded_and_mirrored(synthetic_root, tmp_path):
    pre = tmp_path / "pre"
    (pre / "00_data").mkdir(parents=True)
    (pre / "00_data" / "sp_bs4_99.bin").write_bytes(b"stale")   # from an earlier, longer run
    (pre / "00_data" / "keep.txt").write_text("not ours")
    args = preprocess_args(synthetic_root, pre, "--TEST.FLIP_TEST", "True")
    assert preprocess.main(args) == 0

    cfg = get_config(args)
    dataset, generator = keypoint_dataset(cfg, train_mode=False, num_parallel_workers=1)
    crops = list(dataset.create_dict_iterator(output_numpy=True, num_epochs=1))
    images = np.concatenate([b["image"] for b in crops])
    ids = np.concatenate([b["id"] for b in crops]).reshape(-1)
    centers = np.concatenate([b["center"] for b in crops]).reshape(len(images), -1)[:, :2]
    n = len(generator)
    assert len(images) == n and n % BATCH, "the test needs a partial last batch"

    info = bin_files.read_info(str(pre))
    assert info == {"batch_size": BATCH, "image_size": list(cfg.MODEL.IMAGE_SIZE),
                    "num_batches": math.ceil(n / BATCH), "num_samples": n, "flip_test": True}
    width, height = cfg.MODEL.IMAGE_SIZE
    written, flipped, counts, written_ids, written_centers = [], [], [], [], []
    for i in range(info["num_batches"]):
        data = np.fromfile(bin_files.data_path(str(pre), BATCH, i), np.float32).reshape(BATCH, 3, height, width)
        mirror = np.fromfile(bin_files.data_path(str(pre), BATCH, i, flipped=True), np.float32)
        meta = bin_files.read_meta(str(pre), BATCH, i)
        written.append(data[:meta.count])
        flipped.append(mirror.reshape(BATCH, 3, height, width)[:meta.count])
        counts.append(meta.count)
        written_ids.append(meta.image_id[:meta.count])
        written_centers.append(meta.center[:meta.count])
        if meta.count < BATCH:   # the padding: zero images, zero metadata
            assert not data[meta.count:].any() and not meta.image_id[meta.count:].any()
    assert counts == [BATCH] * (n // BATCH) + [n % BATCH]
    np.testing.assert_array_equal(np.concatenate(written), images)
    np.testing.assert_array_equal(np.concatenate(flipped), images[..., ::-1])
    np.testing.assert_array_equal(np.concatenate(written_ids), ids)
    np.testing.assert_allclose(np.concatenate(written_centers), centers, rtol=1e-6)
    assert sorted(p.name for p in (pre / "00_data").iterdir()) == sorted(
        [bin_files.batch_name(BATCH, i, f) + ".bin" for i in range(info["num_batches"]) for f in (False, True)]
        + ["keep.txt"])


def test_without_flip_test_no_mirrored_batch(synthetic_root, tmp_path):
    pre = tmp_path / "pre"
    assert preprocess.main(preprocess_args(synthetic_root, pre, "--TEST.FLIP_TEST", "False")) == 0
    assert bin_files.read_info(str(pre))["flip_test"] is False
    assert not list((pre / "00_data").glob("sp_flip_*")) and list((pre / "00_data").glob("sp_bs4_*.bin"))


def test_a_bad_batch_size_is_one_error_line(synthetic_root, tmp_path, capsys):
    args = preprocess_args(synthetic_root, tmp_path / "pre")
    args[args.index("--TEST.BATCH_SIZE") + 1] = "0"
    assert run_cli(preprocess.main, args) == 2
    assert capsys.readouterr().err.strip() == "error: --TEST.BATCH_SIZE: expected an integer >= 1, got 0"
    assert not (tmp_path / "pre").exists()
