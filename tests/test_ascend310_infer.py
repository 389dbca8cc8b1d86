"""The C++ inference app (ascend310_infer/): build.sh finds a runtime and its string ABI, the app built against
stub MindSpore Lite and MindSpore 310 packages (tests/ascend310_stub) runs on each device and names each
problem; build.sh says what is missing in one line. The app inside the whole chain: test_postprocess.py."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import LITE_ABI, MS310_ABI, STUB, compile_library, run_build, runtime_env


def build_app(stub_runtimes, name, **env):
    out = run_build(stub_runtimes["root"] / name, runtime_env(**env))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return str(stub_runtimes["root"] / name / "main"), out.stdout


@pytest.fixture(scope="module")
def lite_app(stub_runtimes):
    """build.sh with MS_LITE_HOME set: (the app, build.sh's output)."""
    return build_app(stub_runtimes, "app_lite", MS_LITE_HOME=stub_runtimes["lite"])


@pytest.fixture(scope="module")
def ms310_app(stub_runtimes):
    """build.sh with MINDSPORE_PATH and ASCEND_HOME_PATH set: (the app, build.sh's output)."""
    return build_app(stub_runtimes, "app_ms310", MINDSPORE_PATH=stub_runtimes["ms310"],
                     ASCEND_HOME_PATH=stub_runtimes["ascend"])


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


def test_build_sh_names_the_lite_runtime_and_reads_its_abi(stub_runtimes, lite_app):
    app, stdout = lite_app
    runtime = os.path.join(stub_runtimes["lite"], "runtime")
    assert runtime_lines(stdout) == [
        f"runtime: MindSpore Lite at {runtime} (lib/libmindspore-lite.so, _GLIBCXX_USE_CXX11_ABI={LITE_ABI} "
        "read from its symbols); devices: Ascend, GPU, CPU"]
    with open(os.path.join(os.path.dirname(app), "env.sh")) as f:
        assert f.read().startswith(f'export LD_LIBRARY_PATH="{runtime}/lib$')


def test_build_sh_names_the_310_package_and_reads_its_abi(stub_runtimes, ms310_app):
    assert runtime_lines(ms310_app[1]) == [
        f"runtime: the MindSpore 310 package at {stub_runtimes['ms310']} (lib/libmindspore.so, "
        f"_GLIBCXX_USE_CXX11_ABI={MS310_ABI} read from its symbols); Ascend toolkit at {stub_runtimes['ascend']}; "
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
    assert out.returncode == 1
    assert "built against the MindSpore 310 package, which runs on Ascend only" in out.stderr, out.stderr
    assert "MS_LITE_HOME" in out.stderr and not os.listdir(tmp_path / "out" / "result_Files")


@pytest.mark.parametrize("case,code,words", [
    # 2: the command line is wrong; 1: the inputs or the runtime failed.
    ("no_model", 2, "MindIR file not found"),
    ("wrong_size", 1, "has 20 bytes but the model input x (2x3x4x4) takes 384"),
    ("no_inputs", 2, "no .bin files"),
    ("not_a_model", 1, "MindSpore Lite cannot build {model} for Ascend 0: {model} is not a stub model"),
    ("unknown_flag", 2, "unknown flag --device (see --help)"),
    # A bad --device_target value is found when the model is built, and exits with 1 (not 2, as the
    # other flag errors do): reported, pinned here as it is.
    ("bad_target", 1, "--device_target must be Ascend, GPU or CPU, got 'NPU'"),
    ("bad_id", 2, "--device_id must be >= 0, got -1"),
])
def test_app_errors_name_the_problem(lite_app, tmp_path, case, code, words):
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
    assert out.returncode == code, out.stderr
    assert words.format(model=model) in out.stderr, out.stderr


def test_cxx11_abi_override_reaches_the_compiler(stub_runtimes, tmp_path):
    """CXX11_ABI beats the library's symbols. Against the stub library of the other ABI the link then fails
    (its Status::ToString returns the other std::string): what reading the ABI from the library prevents."""
    other = 1 - LITE_ABI
    out = run_build(tmp_path / "app", runtime_env(MS_LITE_HOME=stub_runtimes["lite"], CXX11_ABI=other))
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
