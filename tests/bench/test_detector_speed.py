"""bench/detector_speed.py: the randomly initialised detector stand-ins have the real models' FLOPs and output
layouts, and the timing table prints."""
import numpy as np
import pytest

from src.tracking.detector import DetectorSettings, PersonDetector
from tests.helpers import TINY_CONFIG


@pytest.fixture(name="bench")
def fixture_bench():
    from bench import detector_speed  # pylint: disable=import-outside-toplevel
    return detector_speed


@pytest.mark.parametrize("name, layout", [("yolox-tiny", "yolox"), ("yolov8n", "yolov8")])
def test_stand_ins_have_the_real_flops_and_layout(bench, name, layout, tmp_path):
    spec = bench.MODELS[name]
    path = str(tmp_path / f"{name}.onnx")
    flops = bench.build(spec, path)
    assert flops / 1e9 == pytest.approx(spec.real_gflops, rel=0.02)
    found = PersonDetector(DetectorSettings(path))
    assert found.layout == layout and found.input_size == spec.input_size
    boxes, scores = found(np.zeros((90, 160, 3), np.uint8))
    assert len(boxes) == len(scores) == 0                      # scores stay near the prior of 0.01


def test_the_table_prints_with_the_pose_network_for_comparison(bench, capsys):
    args = ["--models", "yolox-tiny", "--rounds", "1", "--frame", "320x240", "--pose_config", TINY_CONFIG,
            "--people", "2"]
    assert bench.main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("320x240 frame") and lines[1].startswith("pose network") and "2 people" in lines[1]
    row = lines[-1].split()
    assert row[:4] == ["yolox-tiny", "416x416", "6.44", "6.45"] and len(row) == 7
    # One round: the ratio of the two times, which are printed to 0.05 ms and the ratio to 0.005.
    detector_ms, pose_ms = float(row[4]), float(lines[1].split()[-2])
    ratio = detector_ms / pose_ms
    assert float(row[6]) == pytest.approx(ratio, abs=ratio * (0.05 / detector_ms + 0.05 / pose_ms) + 0.005)
