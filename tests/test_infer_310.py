"""The inference path: preprocess.py → app/runner → postprocess.py gives eval.py's AP exactly.

Also: the binary layout (padding of the last batch), the runner's checks, the C++ app's file
handling (compiled against stand-in headers), build.sh without a toolkit, the launcher's errors.
"""
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

import export
from src import infer_files
from src.infer_mindir import main as runner_main
from tests.helpers import ROOT, TINY_CONFIG, run_launcher, run_script, subprocess_env
from tests.test_export import make_tiny_checkpoint

#: The tiny network; an input width that is a multiple of the backbone's stride 32, so that the
#: heatmaps are exactly a quarter of the input.
TINY = ["--config_path", TINY_CONFIG, "--device_target", "CPU", "--MODEL.IMAGE_SIZE", "[32,64]",
        "--POSE_RESNET.HEATMAP_SIZE", "[8,16]"]
#: Batch of the exported model and of the .bin files; eval.py runs with EVAL_BATCH, so the two
#: split the boxes differently and both end with a partial batch.
INFER_BATCH, EVAL_BATCH = 3, 4
BBOX_FILE = os.path.join("person_detection_results", "COCO_val2017_detections_AP_H_56_person.json")


# ---- the binary layout ---------------------------------------------------------------------

def test_pad_batch_appends_zero_rows():
    rows = np.arange(6, dtype=np.float32).reshape(2, 3)
    padded = infer_files.pad_batch(rows, 4)
    np.testing.assert_array_equal(padded, [[0, 1, 2], [3, 4, 5], [0, 0, 0], [0, 0, 0]])
    assert padded.dtype == np.float32
    with pytest.raises(ValueError, match="larger than the batch size"):
        infer_files.pad_batch(rows, 1)


def test_written_batch_round_trips(tmp_path):
    pre = str(tmp_path)
    infer_files.make_dirs(pre)
    rng = np.random.default_rng(0)
    images = rng.normal(size=(2, 3, 8, 6)).astype(np.float32)
    center, scale = rng.uniform(0, 100, (2, 2)).astype(np.float32), rng.uniform(0, 2, (2, 2)).astype(np.float32)
    count = infer_files.write_batch(pre, 5, 3, images, center, scale, np.float32([0.9, 0.8]), np.int32([7, 8]),
                                    flip=True)
    assert count == 2
    data = np.fromfile(infer_files.data_path(pre, 3, 5), np.float32).reshape(3, 3, 8, 6)
    np.testing.assert_array_equal(data[:2], images)
    np.testing.assert_array_equal(data[2], 0)
    flipped = np.fromfile(infer_files.data_path(pre, 3, 5, flipped=True), np.float32).reshape(3, 3, 8, 6)
    np.testing.assert_array_equal(flipped[:2], images[:, :, :, ::-1])
    meta = infer_files.read_meta(pre, 3, 5)
    assert meta.count == 2
    np.testing.assert_array_equal(meta.center[:2], center)
    np.testing.assert_array_equal(meta.scale[:2], scale)
    np.testing.assert_array_equal(meta.image_id, [7, 8, 0])
    assert os.path.basename(infer_files.result_path("r", 3, 5, flipped=True)) == "sp_flip_bs3_5_0.bin"


def test_result_of_the_wrong_size_names_the_file(tmp_path):
    path = tmp_path / "sp_bs3_0_0.bin"
    np.zeros(10, np.float32).tofile(path)
    with pytest.raises(infer_files.InferFilesError, match="sp_bs3_0_0.bin holds 10"):
        infer_files.read_result(str(path), (3, 17, 16, 12))


# ---- the whole chain against eval.py --------------------------------------------------------

@pytest.fixture(scope="module")
def model(synthetic_root, tmp_path_factory):
    """A random tiny checkpoint and its MindIR export with batch INFER_BATCH."""
    folder = tmp_path_factory.mktemp("infer")
    ckpt = make_tiny_checkpoint(folder / "tiny.ckpt", seed=2)
    mindir = folder / "tiny.mindir"
    assert export.main(TINY + ["--eval_model_file", ckpt, "--EXPORT.FILE_NAME", str(mindir),
                               "--TEST.BATCH_SIZE", str(INFER_BATCH)]) == 0
    return ckpt, str(mindir)


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
def chain_dir(model, synthetic_root, tmp_path_factory):
    """run_infer_310.sh with the MindSpore runner (detections, flip test) in a fresh folder."""
    _, mindir = model
    work = tmp_path_factory.mktemp("chain")
    out = run_launcher("run_infer_310.sh", [mindir, "y", "0", *TINY, "--dataset_path", synthetic_root,
                                            "--coco_bbox_file", os.path.join(synthetic_root, BBOX_FILE)],
                       cwd=str(work), env={"INFER_BACKEND": "mindspore"})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return str(work), out.stdout


@pytest.mark.slow
def test_chain_gives_the_ap_of_eval_py(model, synthetic_root, chain_dir):
    work, stdout = chain_dir
    info = infer_files.read_info(os.path.join(work, "preprocess_Result"))
    assert info["batch_size"] == INFER_BATCH and info["flip_test"]
    assert info["num_samples"] % INFER_BATCH and info["num_samples"] % EVAL_BATCH, "both need a partial batch"
    with open(os.path.join(work, "acc.log")) as f:
        acc_ap = ap_line(f.read())
    assert ap_line(stdout) == acc_ap
    eval_ap, eval_results = run_eval(model[0], synthetic_root)
    print(f"eval.py {eval_ap} | chain {acc_ap}")
    assert acc_ap == eval_ap
    assert_same_results(read_results(os.path.join(work, "results")), eval_results)
    assert os.path.isfile(os.path.join(work, "time_Result", "test_perform_static.txt"))


@pytest.mark.slow
def test_chain_by_hand_on_ground_truth_boxes_without_flip(model, synthetic_root, tmp_path):
    ckpt, mindir = model
    data = ["--dataset_path", synthetic_root, "--TEST.USE_GT_BBOX", "True", "--TEST.FLIP_TEST", "False",
            "--INFER.PRE_RESULT_PATH", str(tmp_path / "pre"), "--INFER.POST_RESULT_PATH", str(tmp_path / "result_Files")]
    out = run_script("preprocess.py", TINY + data + ["--TEST.BATCH_SIZE", str(INFER_BATCH)])
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert not list((tmp_path / "pre" / "00_data").glob("sp_flip_*"))
    assert runner_main(["--mindir_path", mindir, "--input0_path", str(tmp_path / "pre" / "00_data"),
                        "--output_dir", str(tmp_path)]) == 0
    out = run_script("postprocess.py", TINY + data)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    eval_ap, eval_results = run_eval(ckpt, synthetic_root, "--TEST.USE_GT_BBOX", "True", "--TEST.FLIP_TEST",
                                     "False")
    assert ap_line(out.stdout) == eval_ap
    assert_same_results(read_results(str(tmp_path / "results")), eval_results)


@pytest.mark.slow
def test_ascend310_backend_stops_at_the_missing_toolkit(model, chain_dir):
    if os.path.isdir("/usr/local/Ascend"):
        pytest.skip("an Ascend toolkit is installed here")
    work, _ = chain_dir
    out = run_launcher("run_infer_310.sh", [model[1], "n"], cwd=work, env=_without_ascend())
    assert out.returncode != 0
    assert "build the Ascend 310 app failed" in out.stderr and "Ascend toolkit" in out.stderr, out.stderr


# ---- the MindSpore runner -------------------------------------------------------------------

def test_runner_rejects_inputs_of_another_batch_size(model, tmp_path):
    np.zeros((2, 3, 64, 32), np.float32).tofile(tmp_path / "sp_bs2_0.bin")
    with pytest.raises(infer_files.InferFilesError, match=r"sp_bs2_0.bin holds .* the model takes 3×3×64×32"):
        runner_main(["--mindir_path", model[1], "--input0_path", str(tmp_path), "--output_dir", str(tmp_path)])


def test_runner_needs_input_files(model, tmp_path):
    with pytest.raises(infer_files.InferFilesError, match="no .bin files"):
        runner_main(["--mindir_path", model[1], "--input0_path", str(tmp_path)])


# ---- the C++ app, build.sh ------------------------------------------------------------------

def _without_ascend():
    env = {k: v for k, v in subprocess_env().items()
           if k not in ("ASCEND_HOME_PATH", "ASCEND_TOOLKIT_HOME", "MINDSPORE_PATH")}
    return env


def test_build_sh_without_the_toolkit_says_what_is_missing():
    if os.path.isdir("/usr/local/Ascend"):
        pytest.skip("an Ascend toolkit is installed here")
    out = subprocess.run(["bash", os.path.join(ROOT, "ascend310_infer", "build.sh")], env=_without_ascend(),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "Ascend toolkit" in out.stderr and "/usr/local/Ascend" in out.stderr, out.stderr
    assert "ASCEND_HOME_PATH (unset)" in out.stderr
    assert "MINDSPORE_PATH (unset)" in out.stderr and "libmindspore.so" in out.stderr, out.stderr


@pytest.fixture(scope="module")
def stub_app(tmp_path_factory):
    """The app compiled against tests/ascend310_stub (a fake model: output = 2 × input)."""
    compiler = shutil.which("g++")
    if compiler is None:
        pytest.skip("no C++ compiler")
    binary = str(tmp_path_factory.mktemp("app") / "main")
    src = os.path.join(ROOT, "ascend310_infer")
    out = subprocess.run([compiler, "-std=c++17", "-Wall", "-Wextra", "-Werror", "-I", src,
                          "-I", os.path.join(ROOT, "tests", "ascend310_stub"), os.path.join(src, "src", "main.cc"),
                          os.path.join(src, "src", "utils.cc"), "-o", binary], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return binary


def test_app_writes_one_result_per_input_and_the_timing(stub_app, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    batches = [np.random.default_rng(i).normal(size=(2, 3, 4, 4)).astype(np.float32) for i in range(3)]
    for i, batch in enumerate(batches):
        batch.tofile(inputs / f"sp_bs2_{i}.bin")
    (inputs / "notes.txt").write_text("not an input")
    (tmp_path / "m.mindir").write_bytes(b"")
    out = subprocess.run([stub_app, f"--mindir_path={tmp_path / 'm.mindir'}", f"--input0_path={inputs}",
                          f"--output_dir={tmp_path / 'out'}", "--device_id=1"], capture_output=True, text=True,
                         env={**os.environ, "STUB_INPUT_SHAPE": "2,3,4,4"})
    assert out.returncode == 0, out.stderr
    results = sorted(os.listdir(tmp_path / "out" / "result_Files"))
    assert results == ["sp_bs2_0_0.bin", "sp_bs2_1_0.bin", "sp_bs2_2_0.bin"]
    for i, batch in enumerate(batches):
        np.testing.assert_array_equal(np.fromfile(tmp_path / "out" / "result_Files" / results[i], np.float32),
                                      2 * batch.ravel())
    timing = (tmp_path / "out" / "time_Result" / "test_perform_static.txt").read_text()
    assert "ms per batch of 2 over 3 batches" in timing


@pytest.mark.parametrize("case,words", [
    ("no_model", "MindIR file not found"),
    ("wrong_size", "has 20 bytes but the model input x (2x3x4x4) takes 384"),
    ("no_inputs", "no .bin files"),
])
def test_app_errors_name_the_problem(stub_app, tmp_path, case, words):
    inputs = tmp_path / "in"
    inputs.mkdir()
    if case == "wrong_size":
        np.zeros(5, np.float32).tofile(inputs / "sp_bs2_0.bin")
    elif case == "no_model":
        np.zeros(96, np.float32).tofile(inputs / "sp_bs2_0.bin")
    model_path = tmp_path / "m.mindir"
    if case != "no_model":
        model_path.write_bytes(b"")
    out = subprocess.run([stub_app, f"--mindir_path={model_path}", f"--input0_path={inputs}",
                          f"--output_dir={tmp_path}"], capture_output=True, text=True)
    assert out.returncode != 0
    assert words in out.stderr, out.stderr


# ---- run_infer_310.sh arguments -------------------------------------------------------------

@pytest.mark.parametrize("args,env,words", [
    ([], {}, "usage: bash scripts/run_infer_310.sh [MINDIR_PATH] [NEED_PREPROCESS] [DEVICE_ID]"),
    (["missing.mindir", "y"], {}, "MINDIR_PATH"),
    (["{model}", "maybe"], {}, "NEED_PREPROCESS must be 'y' or 'n', got 'maybe'"),
    (["{model}", "y", "first"], {}, "DEVICE_ID must be an integer >= 0, got 'first'"),
    (["{model}", "y"], {"INFER_BACKEND": "tpu"}, "INFER_BACKEND must be 'ascend310' or 'mindspore'"),
    (["{model}", "y"], {"INFER_BACKEND": "mindspore", "INFER_DEVICE": "NPU"}, "INFER_DEVICE must be"),
])
def test_launcher_argument_errors(tmp_path, args, env, words):
    model_path = tmp_path / "m.mindir"
    model_path.write_bytes(b"")
    args = [a.replace("{model}", str(model_path)) for a in args]
    out = run_launcher("run_infer_310.sh", args, cwd=str(tmp_path), env=env)
    assert out.returncode != 0
    assert words in out.stderr, out.stderr


def test_launcher_rejects_a_file_that_is_not_a_mindir(tmp_path):
    (tmp_path / "m.mindir").write_bytes(b"not a model")
    out = run_launcher("run_infer_310.sh", [str(tmp_path / "m.mindir"), "n"], cwd=str(tmp_path))
    assert out.returncode != 0 and "cannot read the input shape" in out.stderr, out.stderr
