"""The shell launchers (scripts/*.sh): exit codes, paths, several servers; with stand-ins for Python and mpirun
where the real thing would need an accelerator, and for real where the CPU can run it."""
import os
import stat
import subprocess
import sys

import mindspore as ms
import numpy as np
import pytest

from src.training.checkpoint import list_checkpoints
from tests.helpers import ROOT, TINY_CONFIG, run_launcher

# A stand-in for the Python interpreter: records its working directory, the launcher's environment
# and its arguments (one line per call), and exits with FAKE_EXIT_<RANK_ID> (default 0).
FAKE_PYTHON = r"""#!/usr/bin/env bash
echo "cwd=$(pwd)|DEVICE_ID=${DEVICE_ID:-}|RANK_ID=${RANK_ID:-}|RANK_SIZE=${RANK_SIZE:-}|CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-}|args=$*" >> "$FAKE_RECORD"
code="FAKE_EXIT_${RANK_ID:-none}"
exit "${!code:-0}"
"""

# A stand-in for every step of run_demo.sh (dataset, training, checkpoint list, evaluation, picture).
FAKE_DEMO_PYTHON = r"""#!/usr/bin/env bash
case "$1" in
    -m) if [ "$2" = src.synthetic ]; then
            mkdir -p "$4/train2017" "$4/annotations" && touch "$4/annotations/person_keypoints_val2017.json"
        elif [ -n "${FAKE_DRAW_FAIL:-}" ]; then
            echo "error: no person with score >= 0.3 to draw" >&2; exit 2
        else
            while [ $# -gt 0 ]; do [ "$1" = --output ] && touch "$2"; shift; done
        fi ;;
    -c) echo "$4/simplepose-1_3.ckpt" ;;
    */train.py) echo "training in $(pwd)"; exit "${FAKE_TRAIN_EXIT:-0}" ;;
    */eval.py) echo "AP: 0.25" ;;
esac
"""


def _executable(path, text):
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.fixture
def fake_python(tmp_path):
    record = tmp_path / "record.txt"
    python = _executable(tmp_path / "fake_python", FAKE_PYTHON)
    return python, record


def _calls(record):
    calls = []
    for line in record.read_text().splitlines():
        calls.append(dict(part.split("=", 1) for part in line.split("|")))
    return calls


# ---- relative paths -------------------------------------------------------------------------------

@pytest.mark.parametrize("script,args", [
    ("run_standalone_train_cpu.sh", ["ckpt", "4", "1"]),
    ("run_standalone_train.sh", ["ckpt", "0", "4"]),
    ("run_standalone_train_gpu.sh", ["ckpt", "4", "1", "0"]),
    ("run_eval_cpu.sh", ["model.ckpt", "boxes.json"]),
    ("run_eval.sh", ["model.ckpt", "boxes.json", "0"]),
    ("run_eval_gpu.sh", ["model.ckpt", "boxes.json", "3"]),
])
def test_launchers_run_python_in_the_callers_directory(script, args, fake_python, tmp_path):
    python, record = fake_python
    work = tmp_path / "work"
    work.mkdir()
    (work / "model.ckpt").write_text("")
    (work / "boxes.json").write_text("[]")
    out = run_launcher(script, args + ["--dataset_path", "data", "--config_path", "my.yaml"], cwd=str(work),
                       env={"PYTHON": python, "FAKE_RECORD": str(record)}, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    (call,) = _calls(record)
    # The pass-through words arrive as written and Python runs where they mean what the user meant.
    assert call["cwd"] == str(work)
    assert call["args"].endswith("--dataset_path data --config_path my.yaml")
    assert f"{ROOT}/" in call["args"].split()[0]
    if "eval" in script:
        assert f"--eval_model_file {work}/model.ckpt --coco_bbox_file {work}/boxes.json" in call["args"]
    else:
        assert f"--ckpt_save_dir {work}/ckpt" in call["args"]
    if script == "run_eval_gpu.sh":   # the one visible GPU is device 0 of the process
        assert call["CUDA_VISIBLE_DEVICES"] == "3" and call["DEVICE_ID"] == "0"


@pytest.mark.slow
def test_relative_paths_through_a_launcher_are_found_from_the_callers_directory(synthetic_root, tmp_path):
    """For real: the CPU launcher trains, with a relative --config_path and --dataset_path typed in another folder
    than the repository."""
    work = tmp_path / "elsewhere"
    work.mkdir()
    os.symlink(synthetic_root, work / "data")
    (work / "tiny.yaml").write_text(open(TINY_CONFIG).read())
    out = run_launcher("run_standalone_train_cpu.sh", ["ckpt", "4", "1", "--config_path", "tiny.yaml",
                                                       "--dataset_path", "data"], cwd=str(work))
    log = (work / "logs" / "run_standalone_train_cpu.log").read_text()
    assert out.returncode == 0, log[-3000:]
    assert "loading dataset from data" in log and "start training" in log
    assert list_checkpoints(str(work / "ckpt"))
    # Not found: the error shows the absolute path it was taken as.
    out = run_launcher("run_standalone_train_cpu.sh", ["ckpt", "4", "1", "--config_path", "absent.yaml"],
                       cwd=str(work), timeout=120)
    assert out.returncode == 2
    assert f"configuration file not found: absent.yaml (= {work}/absent.yaml)" in out.stdout


# ---- argument errors -----------------------------------------------------------------------------

@pytest.mark.parametrize("script,args,words", [
    ("run_standalone_train.sh", ["ck", "0"], ["usage:"]),
    ("run_standalone_train.sh", ["ck", "x", "8"], ["DEVICE_ID", "'x'"]),
    ("run_standalone_train.sh", ["ck", "0", "0"], ["BATCH_SIZE", "'0'"]),
    ("run_standalone_train_gpu.sh", ["ck", "8", "-1", "0"], ["END_EPOCH", "'-1'"]),
    ("run_standalone_train_cpu.sh", ["ck", "four", "1"], ["BATCH_SIZE", "'four'"]),
    ("run_distribute_train.sh", ["/no/table.json", "ck", "8"], ["RANK_TABLE_FILE", "/no/table.json"]),
    ("run_distribute_train_gpu.sh", ["ck", "8", "1", "2", "0"], ["VISIBLE_DEVICES", "DEVICE_NUM"]),
    ("run_distribute_train_gpu.sh", ["ck", "8", "1", "1", "a"], ["VISIBLE_DEVICES", "'a'"]),
    ("run_distribute_train_cpu.sh", ["ck", "0", "8", "1"], ["WORKER_NUM", "'0'"]),
    ("run_eval.sh", ["/no/model.ckpt", "/no/boxes.json", "0"], ["TEST_MODEL_FILE", "/no/model.ckpt"]),
    ("run_eval_cpu.sh", ["/no/model.ckpt"], ["usage:"]),
])
def test_argument_errors(script, args, words, tmp_path):
    out = run_launcher(script, args, cwd=str(tmp_path), timeout=60)
    assert out.returncode == 2, out.stdout + out.stderr
    for word in words:
        assert word in out.stderr, out.stderr


# ---- the rank-table launcher -------------------------------------------------------------------------

def test_rank_table_launcher_returns_the_first_failing_ranks_code(fake_python, tmp_path):
    python, record = fake_python
    (tmp_path / "hccl.json").write_text("{}")
    env = {"PYTHON": python, "FAKE_RECORD": str(record), "FAKE_EXIT_2": "7", "FAKE_EXIT_3": "9"}
    out = run_launcher("run_distribute_train.sh", ["hccl.json", "ckpt", "4"], cwd=str(tmp_path), env=env, timeout=60)
    assert out.returncode == 7, out.stdout + out.stderr
    calls = sorted(_calls(record), key=lambda c: int(c["RANK_ID"]))
    assert [(c["DEVICE_ID"], c["RANK_ID"], c["RANK_SIZE"]) for c in calls] == [(str(i), str(i), "4") for i in range(4)]
    assert all(f"--ckpt_save_dir {tmp_path}/ckpt" in c["args"] for c in calls)
    assert all((tmp_path / f"train_parallel{i}" / "log.txt").is_file() for i in range(4))
    env.pop("FAKE_EXIT_2")
    record.unlink()
    out = run_launcher("run_distribute_train.sh", ["hccl.json", "ckpt", "4"], cwd=str(tmp_path), env=env, timeout=60)
    assert out.returncode == 9
    env.pop("FAKE_EXIT_3")
    out = run_launcher("run_distribute_train.sh", ["hccl.json", "ckpt", "4"], cwd=str(tmp_path), env=env, timeout=60)
    assert out.returncode == 0


def test_rank_table_launcher_on_a_second_server(fake_python, tmp_path):
    python, record = fake_python
    (tmp_path / "hccl_16p.json").write_text("{}")
    env = {"PYTHON": python, "FAKE_RECORD": str(record)}
    out = run_launcher("run_distribute_train.sh", ["hccl_16p.json", "ckpt", "16", "8", "8", "--TRAIN.LR", "0.002"],
                       cwd=str(tmp_path), env=env, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    calls = sorted(_calls(record), key=lambda c: int(c["RANK_ID"]))
    assert [(c["DEVICE_ID"], c["RANK_ID"]) for c in calls] == [(str(i), str(8 + i)) for i in range(8)]
    assert all(c["RANK_SIZE"] == "16" and c["args"].endswith("--TRAIN.LR 0.002") for c in calls)
    assert (tmp_path / "train_parallel15" / "log.txt").exists() and not (tmp_path / "train_parallel0").exists()


# ---- the mpirun launcher ---------------------------------------------------------------------------------

FAKE_MPIRUN = r"""#!/usr/bin/env bash
printf '%s\n' "$@" > "$FAKE_RECORD"
"""


def test_mpirun_launcher_takes_a_host_file(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _executable(bin_dir / "mpirun", FAKE_MPIRUN)
    record = tmp_path / "mpirun_args.txt"
    (tmp_path / "hosts.txt").write_text("node1 slots=8\nnode2 slots=8\n")
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_RECORD": str(record), "PYTHON": "/opt/py/bin/python"}
    out = run_launcher("run_distribute_train_gpu.sh", ["ckpt", "32", "165", "16", "0,1,2,3,4,5,6,7", "hosts.txt",
                                                       "--dataset_path", "/data/coco"], cwd=str(tmp_path), env=env,
                       timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    args = record.read_text().splitlines()
    assert args[:4] == ["-n", "16", "--hostfile", f"{tmp_path}/hosts.txt"]
    for name in ("CUDA_VISIBLE_DEVICES", "RANK_SIZE", "PATH", "PYTHONPATH"):
        assert args[args.index(name) - 1] == "-x", name
    tail = args[args.index("/opt/py/bin/python"):]
    assert tail == ["/opt/py/bin/python", f"{ROOT}/train.py", "--device_target", "GPU", "--run_distribute", "True",
                    "--ckpt_save_dir", f"{tmp_path}/ckpt", "--batch_size", "32", "--end_epoch", "165",
                    "--dataset_path", "/data/coco"]
    # Without a host file: one server, as before.
    out = run_launcher("run_distribute_train_gpu.sh", ["ckpt", "32", "165", "2", "0,1"], cwd=str(tmp_path), env=env,
                       timeout=60)
    assert out.returncode == 0 and "--hostfile" not in record.read_text().splitlines()


@pytest.mark.parametrize("script,args,words", [
    ("run_distribute_train_gpu.sh", ["ck", "8", "1", "16", "0,1,2", "hosts.txt"], ["DEVICE_NUM 16", "multiple"]),
    ("run_distribute_train_gpu.sh", ["ck", "8", "1", "16", "0,1", "absent.txt"], ["HOSTFILE", "/absent.txt"]),
    ("run_distribute_train.sh", ["hccl.json", "ck", "16", "8"], ["DEVICE_NUM"]),
    ("run_distribute_train.sh", ["hccl.json", "ck", "16", "12", "8"], ["RANK_START 12", "RANK_SIZE 16"]),
    ("run_distribute_train_msrun.sh", ["2", "1", "127.0.0.1", "8118", "0", "ck"], ["usage:"]),
    ("run_distribute_train_msrun.sh", ["3", "2", "127.0.0.1", "8118", "0", "ck", "CPU"], ["multiple"]),
    ("run_distribute_train_msrun.sh", ["4", "2", "127.0.0.1", "8118", "2", "ck", "CPU"], ["NODE_RANK", "'2'"]),
    ("run_distribute_train_msrun.sh", ["2", "4", "127.0.0.1", "8118", "0", "ck", "CPU"], ["LOCAL_WORKER_NUM 4"]),
    ("run_distribute_train_msrun.sh", ["2", "1", "127.0.0.1", "80", "0", "ck", "CPU"], ["MASTER_PORT", "'80'"]),
    ("run_distribute_train_msrun.sh", ["2", "1", "127.0.0.1", "8118", "0", "ck", "TPU"], ["DEVICE_TARGET", "'TPU'"]),
])
def test_multi_server_argument_errors(script, args, words, tmp_path):
    (tmp_path / "hosts.txt").write_text("node1 slots=8\n")
    (tmp_path / "hccl.json").write_text("{}")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _executable(bin_dir / "mpirun", FAKE_MPIRUN)
    out = run_launcher(script, args, cwd=str(tmp_path), env={"PATH": f"{bin_dir}:{os.environ['PATH']}"}, timeout=60)
    assert out.returncode == 2, out.stdout + out.stderr
    for word in words:
        assert word in out.stderr, out.stderr


# ---- run_infer_310.sh (the whole chain: test_postprocess.py) -------------------------------------------

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
def test_infer_310_argument_errors(tmp_path, args, env, words):
    model_path = tmp_path / "m.mindir"
    model_path.write_bytes(b"")
    args = [a.replace("{model}", str(model_path)) for a in args]
    out = run_launcher("run_infer_310.sh", args, cwd=str(tmp_path), env=env)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert words in lines[-1] and lines[-1].startswith(("error: ", "usage: ")), out.stderr


def test_infer_310_rejects_a_file_that_is_not_a_mindir(tmp_path):
    (tmp_path / "m.mindir").write_bytes(b"not a model")
    out = run_launcher("run_infer_310.sh", [str(tmp_path / "m.mindir"), "n"], cwd=str(tmp_path))
    assert out.returncode == 2 and out.stderr == (f"error: cannot read the input shape of MINDIR_PATH "
                                                  f"'{tmp_path / 'm.mindir'}' (is it a MindIR file from export.py?)\n")


@pytest.mark.slow
@pytest.mark.parametrize("device,words", [
    ("", "Ascend toolkit (CANN), which the MindSpore 310 package needs, was not found"),
    ("CPU", "MindSpore Lite not found: MS_LITE_HOME is unset"),
])
def test_infer_310_stops_before_preprocessing_without_a_runtime(tiny_mindir, tmp_path, no_runtime, device,
                                                               words):
    if os.path.isdir("/usr/local/Ascend"):
        pytest.skip("an Ascend toolkit is installed here")
    out = run_launcher("run_infer_310.sh", [tiny_mindir, "y"], cwd=str(tmp_path),
                       env={"INFER_DEVICE": device} if device else {})
    assert out.returncode == 2
    assert "build the C++ app failed" in out.stderr and words in out.stderr, out.stderr
    assert not (tmp_path / "preprocess.log").exists()


# ---- run_demo.sh -----------------------------------------------------------------------------------------

def _demo(tmp_path, env, *args):
    python = _executable(tmp_path / "fake_demo_python", FAKE_DEMO_PYTHON)
    return run_launcher("run_demo.sh", list(args), cwd=str(tmp_path),
                        env={"NO_VENV": "1", "PYTHON": python, "DEMO_NUM_TRAIN": "1", **env}, timeout=60)


def test_demo_says_when_training_fails(tmp_path):
    out = _demo(tmp_path, {"FAKE_TRAIN_EXIT": "2", "DEMO_DATA": "data", "DEMO_OUTPUT": "out"})
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1] == f"error: training failed, see {tmp_path}/out/train.log"


def test_demo_without_a_picture_still_ends_with_its_ap(tmp_path):
    out = _demo(tmp_path, {"FAKE_DRAW_FAIL": "1", "DEMO_DATA": "data", "DEMO_OUTPUT": "out"})
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().splitlines()[-1] == "AP: 0.25"
    assert "warning: no picture drawn: no person with score >= 0.3 to draw" in out.stderr
    # Relative DEMO_DATA and DEMO_OUTPUT are the caller's folders.
    assert (tmp_path / "data" / "annotations").is_dir() and (tmp_path / "out" / "train.log").is_file()


def test_demo_with_an_absolute_output_folder_names_it_as_it_is(tmp_path):
    out_dir = tmp_path / "abs" / "demo"
    out = _demo(tmp_path, {"DEMO_DATA": str(tmp_path / "data"), "DEMO_OUTPUT": str(out_dir)})
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[-1] == "AP: 0.25"
    assert lines[-2].endswith(f"predictions drawn to {out_dir}/predictions.png") and "//" not in lines[-2]
    assert (out_dir / "predictions.png").is_file()


@pytest.mark.slow
def test_demo_with_a_weak_network_ends_with_ap_and_exit_0(tmp_path):
    """For real: one short epoch of the tiny network, which finds nobody to draw."""
    env = {"NO_VENV": "1", "DEMO_DATA": "data", "DEMO_OUTPUT": "out", "DEMO_NUM_TRAIN": "8", "DEMO_NUM_VAL": "4"}
    out = run_launcher("run_demo.sh", ["--config_path", TINY_CONFIG, "--end_epoch", "1"], cwd=str(tmp_path),
                       env=env, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1].startswith("AP: ")
    # One epoch of 8 images leaves every person score far below the 0.3 the picture needs (AP 0.0 here).
    assert "warning: no picture drawn: no person with score >= 0.3 to draw" in out.stderr
    assert not (tmp_path / "out" / "predictions.png").exists()


# ---- run_tests.sh ----------------------------------------------------------------------------------------

# A stand-in for the suite's interpreter: answers the instruction-set question with FAKE_ISA, records each pytest
# call with the ONEDNN_MAX_CPU_ISA it ran under, exits with FAKE_FIRST_EXIT / FAKE_SECOND_EXIT; has pytest-xdist
# unless FAKE_NO_XDIST=1.
FAKE_TESTS_PYTHON = r"""#!/usr/bin/env bash
if [ "$1" = -c ]; then
    case "$2" in *xdist*) exit "${FAKE_NO_XDIST:-0}" ;; esac
    echo "$FAKE_ISA"; exit 0
fi
echo "isa=${ONEDNN_MAX_CPU_ISA:-}|args=$*" >> "$FAKE_RECORD"
case "$*" in
    *"-m numerics") exit "${FAKE_SECOND_EXIT:-0}" ;;
    *) exit "${FAKE_FIRST_EXIT:-0}" ;;
esac
"""


def _run_tests(tmp_path, isa, **env):
    # AVX2_PASS defaults to auto here, whatever the environment the suite itself runs in sets
    python = _executable(tmp_path / "fake_tests_python", FAKE_TESTS_PYTHON)
    out = run_launcher("run_tests.sh", ["-k", "word"], cwd=str(tmp_path), timeout=60,
                       env={"NO_VENV": "1", "PYTHON": python, "FAKE_RECORD": str(tmp_path / "record.txt"),
                            "FAKE_ISA": isa, "ONEDNN_MAX_CPU_ISA": "", "AVX2_PASS": "auto", "TEST_WORKERS": "1",
                            **env})
    return out, _calls(tmp_path / "record.txt")


def test_run_tests_spreads_both_passes_over_the_workers_asked_for(tmp_path):
    out, calls = _run_tests(tmp_path, "AVX512_CORE 1", TEST_WORKERS="3")
    assert out.returncode == 0 and "running the test suite in 3 worker processes..." in out.stdout
    assert calls == [{"isa": "", "args": "-m pytest -q -n 3 --dist worksteal tests -k word"},
                     {"isa": "AVX2", "args": "-m pytest -q -n 3 --dist worksteal tests -k word -m numerics"}]
    (tmp_path / "record.txt").unlink()
    out, calls = _run_tests(tmp_path, "AVX2 0", TEST_WORKERS="2", FAKE_NO_XDIST="1")
    assert "pytest-xdist is not installed" in out.stdout
    assert calls == [{"isa": "", "args": "-m pytest -q tests -k word"}]
    (tmp_path / "record.txt").unlink()
    out = run_launcher("run_tests.sh", [], cwd=str(tmp_path), timeout=60,
                       env={"NO_VENV": "1", "PYTHON": str(tmp_path / "fake_tests_python"), "TEST_WORKERS": "0"})
    assert out.returncode == 2 and not (tmp_path / "record.txt").exists()
    assert out.stderr.strip() == "error: TEST_WORKERS must be a positive whole number, got '0'"


@pytest.mark.parametrize("isa", ["AVX512_CORE 1", "AVX10_1_512_AMX 1"])
def test_run_tests_reruns_the_numerics_tests_under_avx2_on_a_cpu_beyond_it(tmp_path, isa):
    out, calls = _run_tests(tmp_path, isa)
    assert out.returncode == 0, out.stdout + out.stderr
    assert calls == [{"isa": "", "args": "-m pytest -q tests -k word"},
                     {"isa": "AVX2", "args": "-m pytest -q tests -k word -m numerics"}]
    assert f"under ONEDNN_MAX_CPU_ISA=AVX2 (oneDNN ran {isa.split()[0]} above)" in out.stdout


def test_run_tests_says_why_it_skips_the_avx2_pass(tmp_path):
    for isa, reason in (("AVX2 0", "oneDNN ran the pass above at AVX2 already"),
                        ("SSE41 0", "oneDNN ran the pass above at SSE41 already"),
                        ("unknown 0", "MindSpore's oneDNN library, which names the instruction set, was not found")):
        (tmp_path / "record.txt").unlink(missing_ok=True)
        out, calls = _run_tests(tmp_path, isa)
        assert out.returncode == 0 and len(calls) == 1, out.stdout + out.stderr
        assert f"numerics tests under ONEDNN_MAX_CPU_ISA=AVX2: skipped: {reason}" in out.stdout.splitlines()
    (tmp_path / "record.txt").unlink()
    out, calls = _run_tests(tmp_path, "AVX2 0", AVX2_PASS="1")   # forced: on an AVX2 CPU it repeats the first
    assert [c["isa"] for c in calls] == ["", "AVX2"]
    out, calls = _run_tests(tmp_path, "AVX512_CORE 1", AVX2_PASS="0")
    assert len(calls) == 3 and "skipped (AVX2_PASS=0)" in out.stdout


@pytest.mark.parametrize("first,second,status", [(0, 1, 1), (1, 0, 1), (2, 1, 2), (0, 5, 0)])
def test_run_tests_fails_when_either_pass_fails(tmp_path, first, second, status):
    """The first pass's failure wins; a second pass that selects no test (5) is no failure."""
    out, calls = _run_tests(tmp_path, "AVX512_CORE 1", FAKE_FIRST_EXIT=str(first), FAKE_SECOND_EXIT=str(second))
    assert len(calls) == 2 and out.returncode == status, out.stdout + out.stderr


# ---- several servers with msrun, on this machine ---------------------------------------------------------

@pytest.mark.slow
def test_msrun_two_servers_train_identical_replicas(synthetic_root, tmp_path):
    """Two msrun invocations (NODE_RANK 0 and 1, one CPU worker each) form one job on 127.0.0.1:
    both replicas end identical, rank 0 alone writes checkpoints into the folder both share, both log.

    msrun starts its scheduler where MASTER_ADDR is a local address; on a second real server it is
    not, here it is for both: server 1's msrun is told so (a test hook), as its own machine would.
    """
    port = str(8700 + os.getpid() % 500)
    shared = tmp_path / "shared_ckpt"
    dump = tmp_path / "final_state"
    # Each rank saves its whole training network after training (a test-only hook: train.py writes
    # rank 0's checkpoints only, and the comparison needs rank 1's state too).
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(TEST_HOOKS)
    servers = []
    for node in (0, 1):
        work = tmp_path / f"server{node}"
        work.mkdir()
        env = {"FOREGROUND": "1", "FINAL_STATE_DIR": str(dump), "MASTER_IS_REMOTE": str(node),
               "PYTHONPATH": f"{hook}{os.pathsep}{ROOT}", "PYTHON": sys.executable}
        args = ["2", "1", "127.0.0.1", port, str(node), str(shared), "CPU", "--config_path", TINY_CONFIG,
                "--dataset_path", str(synthetic_root), "--end_epoch", "2"]
        servers.append((work, subprocess.Popen(
            ["bash", os.path.join(ROOT, "scripts", "run_distribute_train_msrun.sh"), *args], cwd=str(work),
            env={**os.environ, "GLOG_v": "3", **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
    outputs = [proc.communicate(timeout=900)[0] for _, proc in servers]
    logs = {node: "".join(p.read_text() for p in sorted((work / "logs" / "msrun").glob("worker_*.log")))
            for node, (work, _) in enumerate(servers)}
    for node, (_, proc) in enumerate(servers):
        assert proc.returncode == 0, outputs[node][-3000:] + logs[node][-3000:]
    # Both ranks log (rank 1 in server 1's folder), as one job of two.
    assert "Now we use 2 devices! This is No.0" in logs[0] and "[rank 1] Now we use 2 devices! This is No.1" in logs[1]
    assert sorted(p.name for p in (servers[0][0] / "logs" / "msrun").glob("worker_*.log")) == ["worker_0.log"]
    assert sorted(p.name for p in (servers[1][0] / "logs" / "msrun").glob("worker_*.log")) == ["worker_1.log"]
    # Checkpoints from rank 0 only, in the shared folder.
    names = [os.path.basename(p) for p in list_checkpoints(str(shared))]
    assert names and names[-1].startswith("simplepose-2_"), names
    assert not [d for d in os.listdir(shared) if d.startswith("rank_")]
    # Identical replicas: every trainable parameter (those Adam keeps moments for) and the moments, bit for bit
    # (both ranks apply the same all-reduced gradients with the same code).
    # BatchNorm's running statistics are each rank's own (data parallelism does not average them).
    first, second = (ms.load_checkpoint(str(dump / f"rank_{r}.ckpt")) for r in (0, 1))
    assert set(first) == set(second)
    trainable = [name[len("moment1."):] for name in first if name.startswith("moment1.")]
    assert len(trainable) > 10 and "final_layer.weight" in trainable
    compared = trainable + [f"moment{i}.{name}" for name in trainable for i in (1, 2)] + ["global_step"]
    for name in compared:
        np.testing.assert_array_equal(first[name].asnumpy(), second[name].asnumpy(), err_msg=name)
    saved = ms.load_checkpoint(list_checkpoints(str(shared))[-1])
    np.testing.assert_array_equal(saved["final_layer.weight"].asnumpy(), first["final_layer.weight"].asnumpy())


TEST_HOOKS = '''
"""Test hooks. MASTER_IS_REMOTE=1: msrun treats MASTER_ADDR as another machine's (starts no scheduler).
FINAL_STATE_DIR: after Model.train, each rank saves its whole training network there."""
import os

if os.environ.get("MASTER_IS_REMOTE") == "1":
    from mindspore.parallel.cluster.process_entity import _api

    _api._is_local_ip = lambda address: False

if os.environ.get("FINAL_STATE_DIR") and os.environ.get("MS_ROLE", "MS_WORKER") == "MS_WORKER":
    import mindspore as ms
    from mindspore.train import Model

    _train = Model.train

    def _train_and_save(self, *args, **kwargs):
        result = _train(self, *args, **kwargs)
        from mindspore.communication import get_rank
        os.makedirs(os.environ["FINAL_STATE_DIR"], exist_ok=True)
        ms.save_checkpoint(self.train_network, os.path.join(os.environ["FINAL_STATE_DIR"], f"rank_{get_rank()}.ckpt"))
        return result

    Model.train = _train_and_save
'''
