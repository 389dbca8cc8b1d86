"""preprocess.py → an inference backend → postprocess.py (the Ascend 310 path, through scripts/run_infer_310.sh
or step by step) gives eval.py's results exactly: the same AP line and the same results file, bit for bit.

Both halves are here: preprocess.py's batches only mean something through postprocess.py. The backend is the
MindSpore runner (src/deploy/mindir.py) on the exported tiny network, or the C++ app (ascend310_infer/, built
against a stub MindSpore Lite: only the wiring) on a copy of the runner's inputs. The launcher's own checks:
test_launchers.py; the app's: test_ascend310_infer.py.
"""
import json
import os
import shutil

import numpy as np
import pytest

from src.deploy import bin_files
from src.deploy.mindir import main as runner_main
from tests.helpers import INFER_BATCH, TINY_CONFIG, run_launcher, run_script

TINY = ["--config_path", TINY_CONFIG]
#: eval.py runs with EVAL_BATCH and the exported model with INFER_BATCH: the two split the boxes
#: differently and both end with a partial batch.
EVAL_BATCH = 4
BBOX_FILE = os.path.join("person_detection_results", "COCO_val2017_detections_AP_H_56_person.json")


def ap_line(stdout):
    lines = [line for line in stdout.splitlines() if line.startswith("AP: ")]
    assert lines, stdout[-2000:]
    return lines[-1]


def read_results(folder):
    with open(os.path.join(folder, "keypoints_results.json")) as f:
        return json.load(f)


def assert_same_results(ours, theirs):
    """The same people, keypoints and scores, bit for bit: the exported graph computes the heatmaps
    eval.py's stock-operator network computes, and both decode them with the same code."""
    assert len(ours) == len(theirs) > 0
    assert ours == theirs


def run_eval(ckpt, root, *extra):
    """eval.py with the stock operators (the exported graph's); the CPU fast path rounds differently."""
    out = run_script("eval.py", TINY + ["--eval_model_file", ckpt, "--dataset_path", root,
                                        "--coco_bbox_file", os.path.join(root, BBOX_FILE),
                                        "--TEST.BATCH_SIZE", str(EVAL_BATCH), "--MODEL.FAST_CPU", "False",
                                        *extra])
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return ap_line(out.stdout), read_results(os.path.join(os.path.splitext(ckpt)[0], "results"))


@pytest.fixture(scope="module")
def chain_dir(tiny_mindir, synthetic_root, tmp_path_factory):
    """run_infer_310.sh with the MindSpore runner (detections, flip test) in a fresh folder."""
    work = tmp_path_factory.mktemp("chain")
    out = run_launcher("run_infer_310.sh", [tiny_mindir, "y", "0", *TINY, "--dataset_path", synthetic_root,
                                            "--coco_bbox_file", os.path.join(synthetic_root, BBOX_FILE)],
                       cwd=str(work), env={"INFER_BACKEND": "mindspore"})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return str(work), out.stdout


@pytest.mark.slow
def test_chain_gives_the_ap_of_eval_py(tiny_ckpt, synthetic_root, chain_dir):
    work, stdout = chain_dir
    info = bin_files.read_info(os.path.join(work, "preprocess_Result"))
    assert info["batch_size"] == INFER_BATCH and info["flip_test"]
    assert info["num_samples"] % INFER_BATCH and info["num_samples"] % EVAL_BATCH, "both need a partial batch"
    with open(os.path.join(work, "acc.log")) as f:
        acc_ap = ap_line(f.read())
    assert ap_line(stdout) == acc_ap
    eval_ap, eval_results = run_eval(tiny_ckpt, synthetic_root)
    print(f"eval.py {eval_ap} | chain {acc_ap}")
    assert acc_ap == eval_ap
    assert_same_results(read_results(os.path.join(work, "results")), eval_results)
    assert os.path.isfile(os.path.join(work, "time_Result", "test_perform_static.txt"))


@pytest.mark.slow
def test_chain_by_hand_on_ground_truth_boxes_without_flip(tiny_ckpt, tiny_mindir, synthetic_root, tmp_path):
    data = ["--dataset_path", synthetic_root, "--TEST.USE_GT_BBOX", "True", "--TEST.FLIP_TEST", "False",
            "--INFER.PRE_RESULT_PATH", str(tmp_path / "pre"), "--INFER.POST_RESULT_PATH", str(tmp_path / "result_Files")]
    out = run_script("preprocess.py", TINY + data + ["--TEST.BATCH_SIZE", str(INFER_BATCH)])
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert not list((tmp_path / "pre" / "00_data").glob("sp_flip_*"))
    assert runner_main(["--mindir_path", tiny_mindir, "--input0_path", str(tmp_path / "pre" / "00_data"),
                        "--output_dir", str(tmp_path)]) == 0
    out = run_script("postprocess.py", TINY + data)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    eval_ap, eval_results = run_eval(tiny_ckpt, synthetic_root, "--TEST.USE_GT_BBOX", "True", "--TEST.FLIP_TEST",
                                     "False")
    assert ap_line(out.stdout) == eval_ap
    assert_same_results(read_results(str(tmp_path / "results")), eval_results)


# ---- the C++ app in the chain -----------------------------------------------------------------

def run_chain_with_app(mindir, synthetic_root, chain_dir, work, env):
    """run_infer_310.sh with the C++ app on CPU in `work`, on a copy of chain_dir's input batches."""
    shutil.copytree(os.path.join(chain_dir[0], "preprocess_Result"), work / "preprocess_Result")
    return run_launcher("run_infer_310.sh", [mindir, "n", "0", *TINY, "--dataset_path", synthetic_root,
                                             "--coco_bbox_file", os.path.join(synthetic_root, BBOX_FILE)],
                        cwd=str(work), env={"INFER_DEVICE": "CPU", **env})


@pytest.mark.slow
def test_chain_runs_the_app_on_a_stub_lite_cpu(tiny_mindir, synthetic_root, chain_dir, stub_runtimes, tmp_path,
                                               no_runtime):
    """The wiring: the app is built against Lite, runs on the CPU and postprocess.py scores its results."""
    out = run_chain_with_app(tiny_mindir, synthetic_root, chain_dir, tmp_path,
                             {"MS_LITE_HOME": stub_runtimes["lite"], "STUB_SHAPES": "3,3,64,32 3,17,16,8"})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "runtime: MindSpore Lite at" in out.stdout and ap_line(out.stdout)
    with open(tmp_path / "infer.log") as f:
        assert f"Model::Build({tiny_mindir}, kMindIR) on CPU\n" in f.read()
    batch = np.fromfile(tmp_path / "preprocess_Result" / "00_data" / "sp_bs3_0.bin", np.float32)
    result = np.fromfile(tmp_path / "result_Files" / "sp_bs3_0_0.bin", np.float32)
    np.testing.assert_array_equal(result, 2 * np.resize(batch, 3 * 17 * 16 * 8))


@pytest.mark.slow
def test_chain_on_a_real_lite_cpu_matches_the_mindspore_runner(tiny_mindir, synthetic_root, chain_dir, tmp_path):
    """Runs only where MS_LITE_HOME names a real MindSpore Lite package that reads MindSpore 2.10's MindIR."""
    if not os.environ.get("MS_LITE_HOME"):
        pytest.skip("MS_LITE_HOME is unset: no MindSpore Lite package to run the real app with")
    out = run_chain_with_app(tiny_mindir, synthetic_root, chain_dir, tmp_path, {})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    for name in sorted(os.listdir(os.path.join(chain_dir[0], "result_Files"))):
        np.testing.assert_allclose(np.fromfile(tmp_path / "result_Files" / name, np.float32),
                                   np.fromfile(os.path.join(chain_dir[0], "result_Files", name), np.float32),
                                   rtol=1e-4, atol=1e-5)
    assert ap_line(out.stdout)
