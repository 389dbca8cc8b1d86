"""The inference path: preprocess.py → app/runner → postprocess.py gives eval.py's AP exactly.

Also: the binary layout (padding of the last batch), the runner's checks, the C++ app built by build.sh
against stub MindSpore Lite and MindSpore 310 packages (tests/ascend310_stub), build.sh's messages when a
runtime is missing, the launcher's errors.
"""
import json
import os
import shutil
import subprocess
import sys

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


# ---- the MindSpore runner -------------------------------------------------------------------

def test_runner_rejects_inputs_of_another_batch_size(model, tmp_path):
    np.zeros((2, 3, 64, 32), np.float32).tofile(tmp_path / "sp_bs2_0.bin")
    with pytest.raises(infer_files.InferFilesError, match=r"sp_bs2_0.bin holds .* the model takes 3×3×64×32"):
        runner_main(["--mindir_path", model[1], "--input0_path", str(tmp_path), "--output_dir", str(tmp_path)])


def test_runner_needs_input_files(model, tmp_path):
    with pytest.raises(infer_files.InferFilesError, match="no .bin files"):
        runner_main(["--mindir_path", model[1], "--input0_path", str(tmp_path)])


# ---- the C++ app against stub runtimes ------------------------------------------------------
# tests/ascend310_stub holds stand-ins for MindSpore's C++ headers and a stub runtime library. The tests make a
# fake MindSpore Lite package and a fake MindSpore 310 package from them, with different string ABIs, and build
# and run the app through build.sh and CMake as a user would.

STUB = os.path.join(ROOT, "tests", "ascend310_stub")
BUILD_SH = os.path.join(ROOT, "ascend310_infer", "build.sh")
#: The environment variables that point build.sh at a runtime or a toolkit.
RUNTIME_VARS = ("MS_LITE_HOME", "MINDSPORE_PATH", "ASCEND_HOME_PATH", "ASCEND_TOOLKIT_HOME", "CXX11_ABI")
#: The string ABIs of the two stub libraries: different on purpose, build.sh reads each from its library.
LITE_ABI, MS310_ABI = 1, 0


def runtime_env(**values):
    """The test environment without the user's runtime and toolkit locations, plus `values`."""
    env = {k: v for k, v in subprocess_env().items() if k not in RUNTIME_VARS}
    env.update({k: str(v) for k, v in values.items()})
    return env


@pytest.fixture
def no_runtime(monkeypatch):
    """Hides the user's runtime and toolkit locations from the launchers the test runs."""
    for name in RUNTIME_VARS:
        monkeypatch.delenv(name, raising=False)


def run_build(out_dir, env, *args):
    return subprocess.run(["bash", BUILD_SH, "--out", str(out_dir), *args], env=env, capture_output=True,
                          text=True, timeout=300)


def compile_library(source, library, include_dir, *flags):
    out = subprocess.run(["g++", "-std=c++17", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", *flags,
                          "-I", include_dir, source, "-o", library], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def make_stub_package(folder, lite, abi):
    """A fake runtime package in `folder`: the stub headers and the stub library built with string ABI `abi`.

    MindSpore Lite's layout: runtime/include/api/ and runtime/lib/libmindspore-lite.so (MS_LITE_HOME = folder);
    the 310 package's: include/api/ and lib/libmindspore.so (MINDSPORE_PATH = folder).
    """
    runtime = os.path.join(folder, "runtime") if lite else str(folder)
    shutil.copytree(os.path.join(STUB, "include"), os.path.join(runtime, "include"))
    os.makedirs(os.path.join(runtime, "lib"))
    library = os.path.join(runtime, "lib", "libmindspore-lite.so" if lite else "libmindspore.so")
    compile_library(os.path.join(STUB, "stub_runtime.cc"), library, runtime, f"-D_GLIBCXX_USE_CXX11_ABI={abi}",
                    *(["-DSTUB_LITE"] if lite else []))
    return str(folder)


@pytest.fixture(scope="module")
def stubs(tmp_path_factory):
    """Fake packages: MindSpore Lite ("lite"), the MindSpore 310 package ("ms310"), an Ascend toolkit folder."""
    for tool in ("g++", "cmake", "nm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    root = tmp_path_factory.mktemp("stubs")
    (root / "Ascend").mkdir()
    return {"root": root, "ascend": str(root / "Ascend"), "lite": make_stub_package(root / "lite", True, LITE_ABI),
            "ms310": make_stub_package(root / "ms310", False, MS310_ABI)}


def build_app(stubs, name, **env):
    out = run_build(stubs["root"] / name, runtime_env(**env))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return str(stubs["root"] / name / "main"), out.stdout


@pytest.fixture(scope="module")
def lite_app(stubs):
    """build.sh with MS_LITE_HOME set: (the app, build.sh's output)."""
    return build_app(stubs, "app_lite", MS_LITE_HOME=stubs["lite"])


@pytest.fixture(scope="module")
def ms310_app(stubs):
    """build.sh with MINDSPORE_PATH and ASCEND_HOME_PATH set: (the app, build.sh's output)."""
    return build_app(stubs, "app_ms310", MINDSPORE_PATH=stubs["ms310"], ASCEND_HOME_PATH=stubs["ascend"])


def runtime_lines(stdout):
    return [line for line in stdout.splitlines() if line.startswith("runtime: ")]


def write_inputs(folder, batches=3, shape=(2, 3, 4, 4)):
    """Random float32 batches as sp_bs<B>_<i>.bin in `folder`, beside a file that is not an input."""
    folder.mkdir()
    data = [np.random.default_rng(i).normal(size=shape).astype(np.float32) for i in range(batches)]
    for i, batch in enumerate(data):
        batch.tofile(folder / f"sp_bs{shape[0]}_{i}.bin")
    (folder / "notes.txt").write_text("not an input")
    return data


def stub_model(path, input_shape="2,3,4,4", output_shape="2,3,4,4"):
    path.write_text(f"stub-mindir {input_shape} {output_shape}\n")
    return str(path)


def run_app(app, model, inputs, output_dir, *flags):
    env = {k: v for k, v in os.environ.items() if k != "STUB_SHAPES"}
    return subprocess.run([app, f"--mindir_path={model}", f"--input0_path={inputs}", f"--output_dir={output_dir}",
                           *flags], capture_output=True, text=True, env=env, timeout=60)


def assert_results(output_dir, batches):
    """One result per input, named after it, holding the stub model's output (2 × input); the timing line."""
    results = sorted(os.listdir(output_dir / "result_Files"))
    assert results == [f"sp_bs2_{i}_0.bin" for i in range(len(batches))]
    for name, batch in zip(results, batches):
        np.testing.assert_array_equal(np.fromfile(output_dir / "result_Files" / name, np.float32),
                                      2 * batch.ravel())
    timing = (output_dir / "time_Result" / "test_perform_static.txt").read_text()
    assert f"ms per batch of 2 over {len(batches)} batches" in timing


def test_build_sh_names_the_lite_runtime_and_reads_its_abi(stubs, lite_app):
    app, stdout = lite_app
    runtime = os.path.join(stubs["lite"], "runtime")
    assert runtime_lines(stdout) == [
        f"runtime: MindSpore Lite at {runtime} (lib/libmindspore-lite.so, _GLIBCXX_USE_CXX11_ABI={LITE_ABI} "
        "read from its symbols); devices: Ascend, GPU, CPU"]
    with open(os.path.join(os.path.dirname(app), "env.sh")) as f:
        assert f.read().startswith(f'export LD_LIBRARY_PATH="{runtime}/lib$')


def test_build_sh_names_the_310_package_and_reads_its_abi(stubs, ms310_app):
    assert runtime_lines(ms310_app[1]) == [
        f"runtime: the MindSpore 310 package at {stubs['ms310']} (lib/libmindspore.so, "
        f"_GLIBCXX_USE_CXX11_ABI={MS310_ABI} read from its symbols); Ascend toolkit at {stubs['ascend']}; "
        "devices: Ascend"]


@pytest.mark.parametrize("target,device", [("CPU", "CPU"), ("GPU", "GPU 2"), ("Ascend", "Ascend 2")])
def test_lite_app_builds_from_the_file_on_each_device(lite_app, tmp_path, target, device):
    batches = write_inputs(tmp_path / "in")
    model = stub_model(tmp_path / "m.mindir")
    out = run_app(lite_app[0], model, tmp_path / "in", tmp_path / "out", f"--device_target={target}",
                  "--device_id", "2")
    assert out.returncode == 0, out.stderr
    assert f"runtime: MindSpore Lite (_GLIBCXX_USE_CXX11_ABI={LITE_ABI}), device {target} 2" in out.stdout
    assert f"Model::Build({model}, kMindIR) on {device}\n" in out.stderr
    assert_results(tmp_path / "out", batches)


def test_310_app_builds_from_the_loaded_graph_on_ascend(ms310_app, tmp_path):
    batches = write_inputs(tmp_path / "in")
    model = stub_model(tmp_path / "m.mindir")
    out = run_app(ms310_app[0], model, tmp_path / "in", tmp_path / "out", "--device_id=1")
    assert out.returncode == 0, out.stderr
    assert f"runtime: the MindSpore 310 package (_GLIBCXX_USE_CXX11_ABI={MS310_ABI}), device Ascend 1" in out.stdout
    assert f"Serialization::Load({model}) + Model::Build(GraphCell) on Ascend 1\n" in out.stderr
    assert_results(tmp_path / "out", batches)


@pytest.mark.parametrize("target", ["GPU", "CPU"])
def test_310_app_runs_on_ascend_only(ms310_app, tmp_path, target):
    write_inputs(tmp_path / "in")
    out = run_app(ms310_app[0], stub_model(tmp_path / "m.mindir"), tmp_path / "in", tmp_path / "out",
                  f"--device_target={target}")
    assert out.returncode != 0
    assert "built against the MindSpore 310 package, which runs on Ascend only" in out.stderr, out.stderr
    assert "MS_LITE_HOME" in out.stderr and not os.listdir(tmp_path / "out" / "result_Files")


@pytest.mark.parametrize("case,words", [
    ("no_model", "MindIR file not found"),
    ("wrong_size", "has 20 bytes but the model input x (2x3x4x4) takes 384"),
    ("no_inputs", "no .bin files"),
    ("not_a_model", "MindSpore Lite cannot build {model} for Ascend 0: {model} is not a stub model"),
    ("unknown_flag", "unknown flag --device (see --help)"),
    ("bad_target", "--device_target must be Ascend, GPU or CPU, got 'NPU'"),
    ("bad_id", "--device_id must be >= 0, got -1"),
])
def test_app_errors_name_the_problem(lite_app, tmp_path, case, words):
    inputs = tmp_path / "in"
    inputs.mkdir()
    if case != "no_inputs":
        np.zeros(5 if case == "wrong_size" else 96, np.float32).tofile(inputs / "sp_bs2_0.bin")
    model = tmp_path / "m.mindir"
    if case == "not_a_model":
        model.write_bytes(b"\x08\x01 not a stub model")
    elif case != "no_model":
        stub_model(model)
    flags = {"unknown_flag": ["--device=CPU"], "bad_target": ["--device_target=NPU"],
             "bad_id": ["--device_id=-1"]}.get(case, [])
    out = run_app(lite_app[0], model, inputs, tmp_path / "out", *flags)
    assert out.returncode != 0
    assert words.format(model=model) in out.stderr, out.stderr


def test_cxx11_abi_override_reaches_the_compiler(stubs, tmp_path):
    """CXX11_ABI beats the library's symbols. Against the stub library of the other ABI the link then fails
    (its Status::ToString returns the other std::string): what reading the ABI from the library prevents."""
    other = 1 - LITE_ABI
    out = run_build(tmp_path / "app", runtime_env(MS_LITE_HOME=stubs["lite"], CXX11_ABI=other))
    assert f"_GLIBCXX_USE_CXX11_ABI={other} set by CXX11_ABI" in out.stdout, out.stdout + out.stderr
    assert out.returncode != 0
    assert "undefined reference to `mindspore::Status::ToString" in out.stderr, out.stderr[-3000:]


# ---- build.sh when a runtime is missing -----------------------------------------------------

def error_lines(out):
    lines = out.stderr.splitlines()
    assert out.returncode == 2 and lines and all(line.startswith("error: ") for line in lines), out.stderr
    return lines


def test_build_sh_without_any_runtime_says_where_it_looked(tmp_path):
    if os.path.isdir("/usr/local/Ascend"):
        pytest.skip("an Ascend toolkit is installed here")
    runtime, toolkit = error_lines(run_build(tmp_path / "app", runtime_env()))
    import mindspore  # pylint: disable=import-outside-toplevel
    package = os.path.dirname(mindspore.__file__)
    assert "the MindSpore 310 package was not found (MS_LITE_HOME is unset, so MindSpore Lite was not tried)" \
        in runtime
    assert (f"looked at: MINDSPORE_PATH (unset); the mindspore package of {sys.executable}: {package} "
            "(no include/api/model.h, lib/libmindspore.so). Set MS_LITE_HOME") in runtime
    assert ("the Ascend toolkit (CANN), which the MindSpore 310 package needs, was not found; looked at: "
            "ASCEND_HOME_PATH (unset); ASCEND_TOOLKIT_HOME (unset); /usr/local/Ascend (no such folder)") in toolkit
    assert not (tmp_path / "app" / "main").exists()


@pytest.mark.parametrize("case,words", [
    ("unset", "MindSpore Lite not found: MS_LITE_HOME is unset. Download the cloud-inference package "
              "mindspore-lite-<version>-linux-<x64|aarch64>.tar.gz"),
    ("empty", "looked at: {home}/runtime (no such folder); {home} (no include/api/model.h, lib/libmindspore-lite.so)"),
    ("headers_only", "looked at: {home}/runtime (no lib/libmindspore-lite.so); {home} (no include/api/model.h, "),
    ("mindspore_chosen", "the MindSpore 310 package was not found (--mindspore chosen, so MindSpore Lite was not "
                         "tried); looked at: MINDSPORE_PATH (unset)"),
    ("unknown_argument", "unknown argument '--gpu' (usage: bash ascend310_infer/build.sh [--lite | --mindspore]"),
])
def test_build_sh_says_what_is_missing_in_one_line(tmp_path, case, words):
    home = tmp_path / "mindspore-lite"
    home.mkdir()
    if case == "headers_only":
        shutil.copytree(os.path.join(STUB, "include"), home / "runtime" / "include")
    args = {"unset": ["--lite"], "mindspore_chosen": ["--mindspore"], "unknown_argument": ["--gpu"]}.get(case, [])
    env = runtime_env() if case == "unset" else runtime_env(MS_LITE_HOME=home, ASCEND_HOME_PATH=tmp_path)
    lines = error_lines(run_build(tmp_path / "app", env, *args))
    assert len(lines) == 1 and words.format(home=home) in lines[0], lines


@pytest.mark.parametrize("abi,words", [
    ("", "cannot tell the C++ string ABI of {lib} from its symbols (0 with std::__cxx11, 0 with the old "
         "std::string); set CXX11_ABI=0 or 1"),
    ("2", "CXX11_ABI must be 0 or 1, got '2'"),
])
def test_build_sh_needs_a_known_string_abi(tmp_path, abi, words):
    if shutil.which("g++") is None or shutil.which("nm") is None:
        pytest.skip("g++ or nm is not installed")
    runtime = tmp_path / "lite" / "runtime"
    shutil.copytree(os.path.join(STUB, "include"), runtime / "include")
    (runtime / "lib").mkdir()
    source = tmp_path / "plain.cc"
    source.write_text('extern "C" int plain_function() { return 1; }\n')
    library = runtime / "lib" / "libmindspore-lite.so"
    compile_library(str(source), str(library), str(runtime))
    lines = error_lines(run_build(tmp_path / "app", runtime_env(MS_LITE_HOME=tmp_path / "lite", CXX11_ABI=abi)))
    assert lines == ["error: " + words.format(lib=library)]


# ---- run_infer_310.sh -----------------------------------------------------------------------

@pytest.mark.parametrize("args,env,words", [
    ([], {}, "usage: bash scripts/run_infer_310.sh [MINDIR_PATH] [NEED_PREPROCESS] [DEVICE_ID]"),
    (["missing.mindir", "y"], {}, "MINDIR_PATH"),
    (["{model}", "maybe"], {}, "NEED_PREPROCESS must be 'y' or 'n', got 'maybe'"),
    (["{model}", "y", "first"], {}, "DEVICE_ID must be an integer >= 0, got 'first'"),
    (["{model}", "y"], {"INFER_BACKEND": "tpu"}, "INFER_BACKEND must be 'ascend310' or 'mindspore'"),
    (["{model}", "y"], {"INFER_DEVICE": "NPU"}, "INFER_DEVICE must be 'Ascend', 'GPU' or 'CPU' for the C++ app"),
    (["{model}", "y"], {"INFER_BACKEND": "mindspore", "INFER_DEVICE": "Ascend"},
     "INFER_DEVICE must be 'CPU' or 'GPU' for the MindSpore runner, got 'Ascend'"),
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


@pytest.mark.slow
@pytest.mark.parametrize("device,words", [
    ("", "Ascend toolkit (CANN), which the MindSpore 310 package needs, was not found"),
    ("CPU", "MindSpore Lite not found: MS_LITE_HOME is unset"),
])
def test_launcher_stops_before_preprocessing_without_a_runtime(model, tmp_path, no_runtime, device, words):
    if os.path.isdir("/usr/local/Ascend"):
        pytest.skip("an Ascend toolkit is installed here")
    out = run_launcher("run_infer_310.sh", [model[1], "y"], cwd=str(tmp_path),
                       env={"INFER_DEVICE": device} if device else {})
    assert out.returncode != 0
    assert "build the C++ app failed" in out.stderr and words in out.stderr, out.stderr
    assert not (tmp_path / "preprocess.log").exists()


def run_chain_with_app(model, synthetic_root, chain_dir, work, env):
    """run_infer_310.sh with the C++ app on CPU in `work`, on a copy of chain_dir's input batches."""
    shutil.copytree(os.path.join(chain_dir[0], "preprocess_Result"), work / "preprocess_Result")
    return run_launcher("run_infer_310.sh", [model[1], "n", "0", *TINY, "--dataset_path", synthetic_root,
                                             "--coco_bbox_file", os.path.join(synthetic_root, BBOX_FILE)],
                        cwd=str(work), env={"INFER_DEVICE": "CPU", **env})


@pytest.mark.slow
def test_chain_runs_the_app_on_a_stub_lite_cpu(model, synthetic_root, chain_dir, stubs, tmp_path, no_runtime):
    """The wiring: the app is built against Lite, runs on the CPU and postprocess.py scores its results."""
    out = run_chain_with_app(model, synthetic_root, chain_dir, tmp_path,
                             {"MS_LITE_HOME": stubs["lite"], "STUB_SHAPES": "3,3,64,32 3,17,16,8"})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "runtime: MindSpore Lite at" in out.stdout and ap_line(out.stdout)
    with open(tmp_path / "infer.log") as f:
        assert f"Model::Build({model[1]}, kMindIR) on CPU\n" in f.read()
    batch = np.fromfile(tmp_path / "preprocess_Result" / "00_data" / "sp_bs3_0.bin", np.float32)
    result = np.fromfile(tmp_path / "result_Files" / "sp_bs3_0_0.bin", np.float32)
    np.testing.assert_array_equal(result, 2 * np.resize(batch, 3 * 17 * 16 * 8))


@pytest.mark.slow
def test_chain_on_a_real_lite_cpu_matches_the_mindspore_runner(model, synthetic_root, chain_dir, tmp_path):
    """Runs only where MS_LITE_HOME names a real MindSpore Lite package that reads MindSpore 2.10's MindIR."""
    if not os.environ.get("MS_LITE_HOME"):
        pytest.skip("MS_LITE_HOME is unset: no MindSpore Lite package to run the real app with")
    out = run_chain_with_app(model, synthetic_root, chain_dir, tmp_path, {})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    for name in sorted(os.listdir(os.path.join(chain_dir[0], "result_Files"))):
        np.testing.assert_allclose(np.fromfile(tmp_path / "result_Files" / name, np.float32),
                                   np.fromfile(os.path.join(chain_dir[0], "result_Files", name), np.float32),
                                   rtol=1e-4, atol=1e-5)
    assert ap_line(out.stdout)
