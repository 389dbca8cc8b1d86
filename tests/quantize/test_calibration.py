"""src/quantize/calibration.py and calibrate.py: the calibration file's round trip; each kind of bad, stale or
mismatched file refused with one line naming it; the command end to end on the synthetic set, and eval.py in int8
with its file."""
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from src.errors import CalibrationError
from src.model_utils.config import get_config
from src.quantize import calibration
from tests.helpers import ROOT, TINY_CONFIG, needs_onednn, run_script, subprocess_env

LAYERS = ["input", "conv1", "final_layer"]
RANGES = {"input": 2.5, "conv1": 7.0, "final_layer": 0.5}


@pytest.fixture
def written(tmp_path):
    cfg = get_config(["--config_path", TINY_CONFIG])
    ckpt = tmp_path / "net.ckpt"
    ckpt.write_bytes(b"weights" * 100)
    path = calibration.default_path(str(ckpt))
    calibration.write(path, cfg, str(ckpt), RANGES, RANGES, 8, "test crops", "max")
    return cfg, str(ckpt), path


def test_round_trip(written):
    cfg, ckpt, path = written
    assert path.endswith("net.int8.json")
    assert calibration.read(path, cfg, ckpt, LAYERS) == RANGES
    with open(path, encoding="utf-8") as handle:
        record = json.load(handle)
    assert record["version"] == calibration.VERSION and record["samples"] == 8


def _edit(path, **changes):
    with open(path, encoding="utf-8") as handle:
        record = json.load(handle)
    record.update(changes)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(record, handle)


@pytest.mark.parametrize("damage, words", [
    ("missing", "not found"),
    ("not json", "cannot be read"),
    ("foreign", "is not a calibration file"),
    ("version", "version 99"),
    ("network", "another network"),
    ("image size", "input size"),
    ("checkpoint changed", "another checkpoint"),
    ("range missing", "lacks positive ranges"),
])
def test_refusals_name_the_file(written, damage, words):
    cfg, ckpt, path = written
    if damage == "missing":
        os.remove(path)
    elif damage == "not json":
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("{cut sho")
    elif damage == "foreign":
        _edit(path, format="something else")
    elif damage == "version":
        _edit(path, version=99)
    elif damage == "network":
        cfg = get_config(["--config_path", TINY_CONFIG, "--POSE_RESNET.NUM_LAYERS", "34"])
    elif damage == "image size":
        cfg = get_config(["--config_path", TINY_CONFIG, "--MODEL.IMAGE_SIZE", "[64,64]",
                          "--POSE_RESNET.HEATMAP_SIZE", "[16,16]"])
    elif damage == "checkpoint changed":
        with open(ckpt, "ab") as handle:
            handle.write(b"more")
    elif damage == "range missing":
        _edit(path, ranges={"input": 2.5, "conv1": 0.0})
    with pytest.raises(CalibrationError) as caught:
        calibration.read(path, cfg, ckpt, LAYERS)
    message = str(caught.value)
    assert words in message and path in message and "\n" not in message


needs_ops = needs_onednn("int8 operators")


@needs_ops
@pytest.mark.slow
def test_calibrate_then_evaluate_in_int8(synthetic_root, tiny_ckpt, random_weights, tmp_path):
    ckpt = str(tmp_path / "tiny.ckpt")
    shutil.copy(tiny_ckpt, ckpt)
    common = ["--config_path", TINY_CONFIG, "--dataset_path", synthetic_root]
    done = subprocess.run([sys.executable, "-m", "src.quantize.calibrate", *common, "--ckpt", ckpt, "--num", "8"],
                          cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "final_layer" in done.stdout  # the per-layer error report
    ranges = calibration.read(calibration.default_path(ckpt), get_config(common), ckpt, ["input", "final_layer"])
    assert all(v > 0 for v in ranges.values())
    bbox = os.path.join(synthetic_root, "person_detection_results", "COCO_val2017_detections_AP_H_56_person.json")
    # beside it, the file over another checkpoint (trained on, say): stale, refused in one line; both runs side by side
    stale = str(tmp_path / "stale.ckpt")
    shutil.copy(random_weights.checkpoint(seed=1), stale)
    shutil.copy(calibration.default_path(ckpt), calibration.default_path(stale))
    with ThreadPoolExecutor(2) as pool:
        done, refused = pool.map(lambda path: run_script("eval.py", [*common, "--coco_bbox_file", bbox,
                                                                     "--eval_model_file", path,
                                                                     "--MODEL.PRECISION", "int8"]), (ckpt, stale))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("AP: ")
    assert refused.returncode == 2
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "another checkpoint" in errors[0] and "stale.int8.json" in errors[0]


def test_precision_is_refused_off_the_cpu_and_in_training(tmp_path):
    from src.errors import ConfigError  # pylint: disable=import-outside-toplevel
    with pytest.raises(ConfigError, match="MODEL.PRECISION int8: reduced precision runs on device_target CPU only"):
        get_config(["--config_path", TINY_CONFIG, "--device_target", "GPU", "--MODEL.PRECISION", "int8"])
    done = run_script("train.py", ["--config_path", TINY_CONFIG, "--MODEL.PRECISION", "int8",
                                   "--ckpt_save_dir", str(tmp_path)])
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error: MODEL.PRECISION int8 is an inference precision")
