"""eval.py: one-line errors before any work; PoseTrack's evaluation end to end. Its COCO results end to end are the
reference the inference chain must equal, to rounding (test_postprocess.py); as a ModelArts job:
model_utils/test_modelarts.py; on a missing device: model_utils/test_device_adapter.py."""
import os
import shutil

import pytest

import eval as eval_script
from src.evaluate.posetrack_eval import pair_videos
from src.evaluate.posetrack_metrics import score_videos
from src.utils.cli import run_cli
from tests.helpers import TINY_CONFIG, run_script


def test_a_missing_checkpoint_is_one_line(tmp_path, capsys):
    common = ["--config_path", TINY_CONFIG, "--dataset_path", str(tmp_path)]
    assert run_cli(eval_script.main, common) == 2
    assert capsys.readouterr().err == ("error: no checkpoint to evaluate: pass --eval_model_file PATH "
                                       "(or set TEST.MODEL_FILE)\n")
    assert run_cli(eval_script.main, common + ["--eval_model_file", str(tmp_path / "none.ckpt")]) == 2
    assert capsys.readouterr().err == f"error: checkpoint not found: {tmp_path / 'none.ckpt'} (TEST.MODEL_FILE)\n"


def test_a_missing_dataset_is_one_line(tiny_ckpt, tmp_path, capsys):
    args = ["--config_path", TINY_CONFIG, "--eval_model_file", tiny_ckpt, "--dataset_path", str(tmp_path / "none")]
    assert run_cli(eval_script.main, args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: dataset root (DATASET.ROOT) not found: {tmp_path / 'none'}. ") and err.count("\n") == 1


@pytest.mark.slow
def test_posetrack_evaluation_prints_the_benchmark_table_and_ap(synthetic_posetrack, tiny_ckpt, tmp_path):
    """eval.py on the synthetic PoseTrack videos with their detection file: the benchmark's AP table, then the total
    AP as the last line; the predictions in PoseTrack's format in the results folder give the same AP."""
    ckpt = str(tmp_path / "net.ckpt")
    shutil.copy(tiny_ckpt, ckpt)
    out = run_script("eval.py", ["--config_path", TINY_CONFIG, "--eval_model_file", ckpt, "--DATASET.DATASET",
                                 "posetrack", "--dataset_path", synthetic_posetrack, "--DATASET.TEST_SET",
                                 "posetrack18", "--coco_bbox_file", "posetrack18_detections.json"])
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert lines[-4] == "Average Precision (AP), PCKh@0.5 (2 videos, 16 frames):"
    assert lines[-3].split() == ["Head", "Shou", "Elb", "Wri", "Hip", "Knee", "Ankl", "Total"]
    assert lines[-1].startswith("AP: ") and float(lines[-2].split()[-1]) == pytest.approx(float(lines[-1][4:]),
                                                                                         abs=0.05)
    results = os.path.join(tmp_path, "net", "results")
    assert sorted(os.listdir(os.path.join(results, "posetrack_predictions"))) == ["seq000.json", "seq001.json"]
    again = score_videos(pair_videos([os.path.join(synthetic_posetrack, "posetrack18")],
                                 [os.path.join(results, "posetrack_predictions")]), mot=False)
    assert f"AP: {again.total_ap:.4f}" == lines[-1]
