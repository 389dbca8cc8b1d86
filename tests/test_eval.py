"""eval.py: one-line errors before any work. Its results end to end are the reference the inference chain must
equal, bit for bit (test_postprocess.py); as a ModelArts job: model_utils/test_modelarts.py; on a missing
device: model_utils/test_device_adapter.py."""
import eval as eval_script
from src.utils.cli import run_cli
from tests.helpers import TINY_CONFIG


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
