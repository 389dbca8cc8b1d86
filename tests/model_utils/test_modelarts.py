"""ModelArts jobs (src/model_utils/modelarts.py), off ModelArts: the dataset unzipped once per server, paths
under the job's folders, and train.py, eval.py and export.py run as jobs with local folders as OBS and a
zipped synthetic dataset. The copies themselves: test_moxing_adapter.py."""
import logging
import os
import subprocess
import sys
import threading
import time
import zipfile

import pytest

from src.errors import SyncError, SyncTimeoutError, UserError
from src.model_utils import modelarts
from src.evaluate.results import results_dir
from src.model_utils.modelarts import (CODE_DIR, eval_post_process, eval_pre_process, export_pre_process,
                                       find_dataset_root, resolve_input, train_pre_process, under_output,
                                       unzip_once)

from tests.model_utils.local_obs import job_config, tree, write

REPO = CODE_DIR
pytestmark = pytest.mark.usefixtures("one_job")


# ----------------------------------------------------------------------------- unzip

def _make_zip(path, top="coco", n=40) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{top}/annotations/person_keypoints_val2017.json", "{}")
        for i in range(n):
            archive.writestr(f"{top}/val2017/{i:06d}.jpg", f"image {i}" * 200)
    return str(path)


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_unzip_once_logs_progress_and_skips_the_second_time(tmp_path, monkeypatch):
    zip_path = _make_zip(tmp_path / "data" / "coco.zip")
    records = _Records()
    monkeypatch.setattr(modelarts.logger, "level", logging.INFO)
    modelarts.logger.addHandler(records)
    try:
        assert unzip_once(zip_path, str(tmp_path / "data")) is True
    finally:
        modelarts.logger.removeHandler(records)
    progress = [m for m in records.messages if "%" in m]
    assert len(progress) == 10 and progress[-1].endswith("100% (41/41 files)")
    assert len(os.listdir(tmp_path / "data" / "coco" / "val2017")) == 40
    assert not os.path.exists(tmp_path / "data" / ".coco.unzip.lock")
    assert unzip_once(zip_path, str(tmp_path / "data")) is False


def test_unzip_once_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        unzip_once(str(tmp_path / "data" / "nothing.zip"), str(tmp_path / "data"))
    write(tmp_path / "data" / "bad.zip", "not a zip")
    with pytest.raises(UserError, match="not a valid zip"):
        unzip_once(str(tmp_path / "data" / "bad.zip"), str(tmp_path / "data"))
    assert os.listdir(tmp_path / "data") == ["bad.zip"]  # no lock, no marker left


def test_unzip_waiters_see_a_stale_lock_or_a_failed_extractor(tmp_path):
    zip_path = _make_zip(tmp_path / "data" / "coco.zip")
    lock = write(tmp_path / "data" / ".coco.unzip.lock", "12345")
    with pytest.raises(SyncTimeoutError, match="stale lock"):
        unzip_once(zip_path, str(tmp_path / "data"), timeout=0.2)
    threading.Timer(0.2, os.remove, [lock]).start()  # the extractor gives up without its marker
    with pytest.raises(SyncError, match="stopped before finishing"):
        unzip_once(zip_path, str(tmp_path / "data"), timeout=30)


UNZIP_RACE = """
import os, sys, time
from src.model_utils.modelarts import unzip_once
go, zip_path, dest = sys.argv[1:4]
while not os.path.exists(go):
    time.sleep(0.005)
extracted = unzip_once(zip_path, dest, timeout=120)
files = len(os.listdir(os.path.join(dest, "coco", "val2017")))
print("RESULT", int(extracted), files)
"""


def test_concurrent_processes_unzip_once(tmp_path):
    zip_path = _make_zip(tmp_path / "data" / "coco.zip", n=600)
    go = tmp_path / "go"
    env = dict(os.environ, PYTHONPATH=REPO)
    procs = [subprocess.Popen([sys.executable, "-c", UNZIP_RACE, str(go), zip_path, str(tmp_path / "data")],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(3)]
    time.sleep(0.5)  # all three are polling for the start signal
    go.touch()
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out
        results.append([line.split()[1:] for line in out.splitlines() if line.startswith("RESULT")][0])
    assert sorted(r[0] for r in results) == ["0", "0", "1"]  # exactly one extracted
    assert all(r[1] == "600" for r in results)  # and every process saw the whole dataset


# ----------------------------------------------------------------------------- paths

def test_find_dataset_root(tmp_path):
    assert find_dataset_root(str(tmp_path)) is None
    os.makedirs(tmp_path / "__MACOSX" / "annotations")
    os.makedirs(tmp_path / "coco2017" / "annotations")
    os.makedirs(tmp_path / "coco2017" / "train2017")
    assert find_dataset_root(str(tmp_path)) == str(tmp_path / "coco2017")
    os.makedirs(tmp_path / "annotations")
    assert find_dataset_root(str(tmp_path)) == str(tmp_path)


def test_under_output_and_resolve_input(tmp_path):
    cfg = job_config(tmp_path)
    out = str(tmp_path / "cache" / "train")
    assert under_output(cfg, "checkpoints") == os.path.join(out, "checkpoints")
    assert under_output(cfg, "./a/b") == os.path.join(out, "a", "b")
    assert under_output(cfg, os.path.join(out, "x")) == os.path.join(out, "x")
    assert under_output(cfg, "/elsewhere/ckpt/") == os.path.join(out, "ckpt")

    roots = [str(tmp_path / "r1"), str(tmp_path / "r2")]
    assert resolve_input("", roots) == "" and resolve_input("/abs/x.ckpt", roots) == "/abs/x.ckpt"
    assert resolve_input("./models/a.ckpt", roots) == str(tmp_path / "r1" / "models" / "a.ckpt")  # none exists
    write(tmp_path / "r2" / "a.ckpt")
    assert resolve_input("./models/a.ckpt", roots) == str(tmp_path / "r2" / "a.ckpt")
    write(tmp_path / "r2" / "models" / "a.ckpt")
    assert resolve_input("./models/a.ckpt", roots) == str(tmp_path / "r2" / "models" / "a.ckpt")


def test_train_paths(tmp_path):
    cfg = job_config(tmp_path, "--checkpoint_url", str(tmp_path / "obs" / "ckpt"), "--resume", "old/s-3_10.ckpt")
    os.makedirs(tmp_path / "cache" / "data" / "coco" / "annotations")
    write(tmp_path / "cache" / "ckpt" / "resnet50.ckpt")
    write(tmp_path / "cache" / "train" / "old" / "s-3_10.ckpt")
    train_pre_process(cfg)
    assert cfg.DATASET.ROOT == str(tmp_path / "cache" / "data" / "coco")
    assert cfg.ckpt_save_dir == str(tmp_path / "cache" / "train" / "checkpoints")
    assert cfg.MODEL.PRETRAINED == str(tmp_path / "cache" / "ckpt" / "resnet50.ckpt")
    assert cfg.resume == str(tmp_path / "cache" / "train" / "old" / "s-3_10.ckpt")


def test_eval_and_export_paths(tmp_path):
    cfg = job_config(tmp_path, "--eval_model_file", "simplepose-1_2.ckpt", "--EXPORT.FILE_NAME", "net",
               "--coco_bbox_file", "person_detection_results/det.json")
    os.makedirs(tmp_path / "cache" / "data" / "annotations")
    write(tmp_path / "cache" / "data" / "person_detection_results" / "det.json")
    write(tmp_path / "cache" / "data" / "simplepose-1_2.ckpt")
    eval_pre_process(cfg, results_dir)
    assert cfg.DATASET.ROOT == str(tmp_path / "cache" / "data")
    assert cfg.TEST.MODEL_FILE == str(tmp_path / "cache" / "data" / "simplepose-1_2.ckpt")
    assert cfg.TEST.COCO_BBOX_FILE == str(tmp_path / "cache" / "data" / "person_detection_results" / "det.json")
    export_pre_process(cfg)
    assert cfg.EXPORT.FILE_NAME == str(tmp_path / "cache" / "train" / "net")

    # The original resolved a relative checkpoint against the code directory.
    cfg = job_config(tmp_path, "--eval_model_file", "README.md")
    export_pre_process(cfg)
    assert cfg.TEST.MODEL_FILE == os.path.join(REPO, "README.md")


def test_eval_results_are_copied_to_output(tmp_path):
    cfg = job_config(tmp_path, "--eval_model_file", str(tmp_path / "cache" / "ckpt" / "s-1_2.ckpt"))
    write(tmp_path / "cache" / "ckpt" / "s-1_2" / "results" / "keypoints_results.json", "[]")
    eval_post_process(cfg, results_dir)
    assert tree(tmp_path / "cache" / "train") == {os.path.join("s-1_2", "results", "keypoints_results.json"): "[]"}


# ----------------------------------------------------------------------------- end to end
# The entry scripts as ModelArts jobs, with local folders as OBS and a zipped synthetic dataset.

TINY = ["--device_target", "CPU", "--POSE_RESNET.NUM_LAYERS", "18", "--MODEL.IMAGE_SIZE", "[64,64]",
        "--POSE_RESNET.HEATMAP_SIZE", "[16,16]", "--MODEL.INIT_WEIGHTS", "False"]
BBOX_FILE = "person_detection_results/COCO_val2017_detections_AP_H_56_person.json"


def _job_env(folder, **extra) -> dict:
    """The environment of one process of a fresh job whose markers live under ``folder``."""
    os.makedirs(os.path.join(folder, "tmp"), exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DEVICE_ID", "RANK_ID", "RANK_SIZE")}
    env.update(PYTHONPATH=REPO, TMPDIR=os.path.join(folder, "tmp"), JOB_ID=f"e2e-{time.monotonic_ns()}")
    env.update(extra)
    return env


def _job_args(folder, job, *extra) -> list:
    """ModelArts arguments: OBS is ``<folder>/obs``, the job's local cache ``<folder>/<job>``."""
    return ["--enable_modelarts", "True", "--data_url", os.path.join(folder, "obs", "data"),
            "--train_url", os.path.join(folder, "obs", job), "--data_path", os.path.join(folder, job, "data"),
            "--output_path", os.path.join(folder, job, "train"), "--load_path", os.path.join(folder, job, "ckpt"),
            "--modelarts_dataset_unzip_name", "synthetic", *extra]


def _run_script(script, args, env, timeout=600):
    """Runs an entry script from another directory (as ModelArts does; MindSpore's dumps stay out of the repo)."""
    out = subprocess.run([sys.executable, os.path.join(REPO, script), *args], cwd=env["TMPDIR"], env=env,
                         capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{script} failed:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    return out.stdout


@pytest.fixture(scope="module")
def zipped_job(tmp_path_factory) -> str:
    """A folder whose ``obs/data/synthetic.zip`` holds ``synthetic/{annotations,train2017,...}``."""
    folder = str(tmp_path_factory.mktemp("modelarts_job"))
    staging = os.path.join(folder, "staging", "synthetic")
    subprocess.run([sys.executable, "-m", "src.synthetic", "--output", staging, "--num_train", "8",
                    "--num_val", "4", "--seed", "5", "--workers", "1"], cwd=REPO, check=True, capture_output=True,
                   env=_job_env(folder))
    os.makedirs(os.path.join(folder, "obs", "data"))
    with zipfile.ZipFile(os.path.join(folder, "obs", "data", "synthetic.zip"), "w") as archive:
        for path, _, names in os.walk(staging):
            for name in names:
                full = os.path.join(path, name)
                archive.write(full, os.path.relpath(full, os.path.dirname(staging)))
    return folder


PRE_PROCESS_ONLY = """
import os, sys
from src.model_utils.config import get_config
from src.model_utils.modelarts import train_pre_process
from src.model_utils.moxing_adapter import moxing_wrapper

@moxing_wrapper(pre_process=train_pre_process)
def run(cfg):
    print("ROOT", cfg.DATASET.ROOT, len(os.listdir(os.path.join(cfg.DATASET.ROOT, "train2017"))), flush=True)
    return 0

sys.exit(run(get_config(sys.argv[1:])))
"""


def test_two_devices_copy_and_unzip_once(zipped_job, tmp_path):
    env = _job_env(str(tmp_path), RANK_SIZE="2")
    args = _job_args(zipped_job, "two_devices", "--train_url", str(tmp_path / "out"))
    procs = [subprocess.Popen([sys.executable, "-c", PRE_PROCESS_ONLY, *args], cwd=REPO, text=True,
                              env=dict(env, DEVICE_ID=str(device)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for device in (1, 0)]
    logs = [proc.communicate(timeout=120)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], logs
    everything = "".join(logs)
    assert everything.count("copying " + os.path.join(zipped_job, "obs", "data")) == 1  # device 0 copies
    assert everything.count("unzipping synthetic.zip (") == 1  # one of the two unzips
    root = os.path.join(zipped_job, "two_devices", "data", "synthetic")
    assert [line for log in logs for line in log.splitlines() if line.startswith("ROOT")] == [f"ROOT {root} 8"] * 2


@pytest.fixture(scope="module")
def trained_job(zipped_job) -> str:
    """train.py as a ModelArts job; returns its stdout."""
    return _run_script("train.py", _job_args(zipped_job, "train", *TINY, "--batch_size", "4", "--end_epoch", "1",
                                             "--TRAIN.NUM_WORKERS", "1"), _job_env(zipped_job))


def _checkpoints(folder) -> list:
    return sorted(name for name in os.listdir(folder) if name.endswith(".ckpt")) if os.path.isdir(folder) else []


@pytest.mark.slow
def test_train_as_modelarts_job(zipped_job, trained_job):
    assert "unzipping synthetic.zip" in trained_job
    assert "ModelArts: DATASET.ROOT = " + os.path.join(zipped_job, "train", "data", "synthetic") in trained_job
    ckpts = _checkpoints(os.path.join(zipped_job, "obs", "train", "checkpoints"))
    assert len(ckpts) == 1 and ckpts[0].startswith("simplepose-1_"), ckpts
    assert ckpts == _checkpoints(os.path.join(zipped_job, "train", "train", "checkpoints"))
    assert not os.path.exists(os.path.join(REPO, "checkpoints", ckpts[0]))


@pytest.mark.slow
def test_eval_as_modelarts_job(zipped_job, trained_job):
    ckpt_dir = os.path.join(zipped_job, "obs", "train", "checkpoints")
    ckpt = _checkpoints(ckpt_dir)[0]
    out = _run_script("eval.py", _job_args(zipped_job, "eval", *TINY, "--checkpoint_url", ckpt_dir,
                                           "--eval_model_file", ckpt, "--coco_bbox_file", BBOX_FILE,
                                           "--TEST.BATCH_SIZE", "4", "--TEST.DATALOADER_WORKERS", "1"),
                      _job_env(zipped_job))
    assert out.strip().splitlines()[-1].startswith("AP: "), out[-2000:]  # still the last line
    results = os.path.join(zipped_job, "obs", "eval", os.path.splitext(ckpt)[0], "results")
    assert os.path.isfile(os.path.join(results, "keypoints_results.json"))


@pytest.mark.slow
def test_export_as_modelarts_job(zipped_job, trained_job):
    ckpt_dir = os.path.join(zipped_job, "obs", "train", "checkpoints")
    _run_script("export.py", _job_args(zipped_job, "export", *TINY, "--checkpoint_url", ckpt_dir,
                                       "--eval_model_file", _checkpoints(ckpt_dir)[0], "--TEST.BATCH_SIZE", "1",
                                       "--EXPORT.FILE_NAME", "simple_pose"), _job_env(zipped_job))
    assert os.path.isfile(os.path.join(zipped_job, "obs", "export", "simple_pose.mindir"))


def test_entry_script_with_obs_outside_modelarts_is_one_line(tmp_path):
    code = ("import runpy, sys; sys.modules['moxing'] = None; sys.argv = ['train.py'] + sys.argv[1:]; "
            "runpy.run_path('train.py', run_name='__main__')")
    out = subprocess.run([sys.executable, "-c", code, "--enable_modelarts", "True", "--device_target", "CPU",
                          "--data_url", "obs://bucket/coco", "--data_path", str(tmp_path / "data")],
                         cwd=REPO, env=_job_env(str(tmp_path)), capture_output=True, text=True, timeout=300)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.strip().count("\n") == 0 and "ModelArts" in out.stderr
