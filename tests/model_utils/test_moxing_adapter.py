"""Copies in and out of OBS (src/model_utils/moxing_adapter.py), off ModelArts: local folders and file:// URLs
stand for OBS, processes with different DEVICE_ID for the devices of one server; moxing_wrapper around a run."""
import os
import subprocess
import sys
import types

import pytest

from src.errors import ConfigError, MoxingUnavailableError, SyncError, SyncTimeoutError, UserError
from src.model_utils import moxing_adapter
from src.utils.cli import run_cli
from src.model_utils.config import get_config
from src.model_utils.modelarts import CODE_DIR as REPO
from src.model_utils.moxing_adapter import copy_path, is_sync_process, moxing_wrapper, sync_data
from tests.model_utils.local_obs import job_config, tree, write

pytestmark = pytest.mark.usefixtures("one_job")


@pytest.mark.parametrize("device_id, rank_size, copies", [
    (0, 1, True), (0, 8, True), (3, 8, False), (8, 16, True), (9, 16, False), (1, 2, False), (5, 0, True)])
def test_one_process_per_server_copies(monkeypatch, device_id, rank_size, copies):
    monkeypatch.setenv("DEVICE_ID", str(device_id))
    monkeypatch.setenv("RANK_SIZE", str(rank_size))
    assert is_sync_process() is copies


# ----------------------------------------------------------------------------- copying

def test_sync_data_merges_local_folders(tmp_path):
    write(tmp_path / "src" / "a.txt", "a")
    write(tmp_path / "src" / "sub" / "b.txt", "b")
    write(tmp_path / "dst" / "keep.txt", "k")
    sync_data(str(tmp_path / "src"), str(tmp_path / "dst"))
    assert tree(tmp_path / "dst") == {"a.txt": "a", os.path.join("sub", "b.txt"): "b", "keep.txt": "k"}


def test_sync_data_accepts_file_urls_and_single_files(tmp_path):
    write(tmp_path / "my data" / "x.json", "{}")
    sync_data("file://" + str(tmp_path / "my%20data"), "file://" + str(tmp_path / "dst"))
    assert tree(tmp_path / "dst") == {"x.json": "{}"}
    copy_path(str(tmp_path / "my data" / "x.json"), str(tmp_path / "dst" / "sub") + os.sep)
    copy_path(str(tmp_path / "my data" / "x.json"), str(tmp_path / "one" / "y.json"))
    assert os.path.isfile(tmp_path / "dst" / "sub" / "x.json")
    assert os.path.isfile(tmp_path / "one" / "y.json")


def test_missing_source_is_a_user_error(tmp_path, capsys):
    def main(argv):
        sync_data(str(tmp_path / "nothing"), str(tmp_path / "dst"))

    assert run_cli(main, []) == 2
    assert str(tmp_path / "nothing") in capsys.readouterr().err


def test_obs_without_moxing_is_one_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "moxing", None)  # import moxing fails, as outside ModelArts
    with pytest.raises(MoxingUnavailableError, match="ModelArts") as info:
        sync_data("obs://bucket/coco", str(tmp_path / "dst"))
    assert isinstance(info.value, UserError)
    assert "local folder" in str(info.value)

    def main(argv):
        copy_path(str(tmp_path), "s3://bucket/out")

    assert run_cli(main, []) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "moxing" in err and "\n" not in err


def test_obs_is_copied_with_moxing(tmp_path, monkeypatch):
    calls = []
    file_api = types.SimpleNamespace(
        is_directory=lambda url: not url.endswith(".json"),
        exists=lambda url: True,
        copy_parallel=lambda src, dst: calls.append(("copy_parallel", src, dst)),
        copy=lambda src, dst: calls.append(("copy", src, dst)))
    monkeypatch.setitem(sys.modules, "moxing", types.SimpleNamespace(file=file_api))
    os.makedirs(tmp_path / "out")
    copy_path("obs://bucket/coco", str(tmp_path / "data"))
    copy_path("obs://bucket/det.json", "file://" + str(tmp_path / "det.json"))
    copy_path(str(tmp_path / "out"), "s3://bucket/train")
    assert calls == [("copy_parallel", "obs://bucket/coco", str(tmp_path / "data")),
                     ("copy", "obs://bucket/det.json", str(tmp_path / "det.json")),
                     ("copy_parallel", str(tmp_path / "out"), "s3://bucket/train")]


COPIER = "import sys; from src.model_utils.moxing_adapter import sync_data; sync_data(sys.argv[1], sys.argv[2])"


def test_other_devices_wait_for_the_copy(tmp_path, monkeypatch):
    write(tmp_path / "src" / "a.txt", "a")
    monkeypatch.setenv("RANK_SIZE", "2")
    monkeypatch.setenv("DEVICE_ID", "1")
    with pytest.raises(SyncTimeoutError, match="timed out"):
        sync_data(str(tmp_path / "src"), str(tmp_path / "dst"), timeout=0.2)
    assert not os.path.exists(tmp_path / "dst")

    # Device 0 of the same job, started now, copies while this process (device 1) waits.
    copier = subprocess.Popen([sys.executable, "-c", COPIER, str(tmp_path / "src"), str(tmp_path / "dst")],
                              cwd=REPO, env=dict(os.environ, DEVICE_ID="0", TMPDIR=str(tmp_path / "tmp"),
                                                 PYTHONPATH=REPO))
    sync_data(str(tmp_path / "src"), str(tmp_path / "dst"), timeout=60)
    assert copier.wait(timeout=60) == 0
    assert tree(tmp_path / "dst") == {"a.txt": "a"}


def test_a_failed_copy_stops_the_waiting_devices(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK_SIZE", "2")
    monkeypatch.setenv("DEVICE_ID", "0")
    with pytest.raises(FileNotFoundError):
        sync_data(str(tmp_path / "missing"), str(tmp_path / "dst"))
    monkeypatch.setenv("DEVICE_ID", "1")
    with pytest.raises(SyncError, match="FileNotFoundError"):
        sync_data(str(tmp_path / "missing"), str(tmp_path / "dst"), timeout=5)


def test_only_the_copying_device_decides_a_missing_source_is_skipped(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK_SIZE", "2")
    monkeypatch.setenv("DEVICE_ID", "0")
    sync_data(str(tmp_path / "earlier_outputs"), str(tmp_path / "dst"), missing_ok=True)
    write(tmp_path / "earlier_outputs" / "late.txt")  # appears before device 1 looks
    monkeypatch.setenv("DEVICE_ID", "1")
    sync_data(str(tmp_path / "earlier_outputs"), str(tmp_path / "dst"), missing_ok=True, timeout=5)
    assert not os.path.exists(tmp_path / "dst")


# ----------------------------------------------------------------------------- the wrapper

def test_wrapper_without_modelarts_only_runs(tmp_path):
    cfg = get_config(["--data_url", str(tmp_path / "obs"), "--train_url", str(tmp_path / "out"),
                      "--output_path", str(tmp_path / "cache")])
    calls = []
    wrapped = moxing_wrapper(pre_process=calls.append, post_process=calls.append)(lambda c, x: x * 2)
    assert wrapped(cfg, 21) == 42
    assert calls == [] and os.listdir(tmp_path) == ["tmp"]


def test_wrapper_syncs_in_and_out(tmp_path):
    write(tmp_path / "obs" / "data" / "annotations" / "a.json", "{}")
    write(tmp_path / "obs" / "ckpt" / "resnet.ckpt", "w")
    cfg = job_config(tmp_path, "--checkpoint_url", str(tmp_path / "obs" / "ckpt"))
    calls = []

    @moxing_wrapper(pre_process=lambda c: calls.append("pre"), post_process=lambda c: calls.append("post"))
    def run(c):
        calls.append("run")
        assert tree(c.data_path) == {os.path.join("annotations", "a.json"): "{}"}
        assert tree(c.load_path) == {"resnet.ckpt": "w"}
        write(os.path.join(c.output_path, "ckpt", "s-1_1.ckpt"), "c")
        return 0

    assert run(cfg) == 0
    assert calls == ["pre", "run", "post"]
    assert tree(tmp_path / "obs" / "out") == {os.path.join("ckpt", "s-1_1.ckpt"): "c"}

    # A second job with the same train_url gets the earlier outputs back (for --resume auto).
    cfg = job_config(tmp_path, "--output_path", str(tmp_path / "cache2"))
    moxing_wrapper()(lambda c: None)(cfg)
    assert tree(tmp_path / "cache2") == {os.path.join("ckpt", "s-1_1.ckpt"): "c"}


def test_wrapper_checks_the_configuration_pre_process_changed(tmp_path):
    os.makedirs(tmp_path / "obs" / "data")
    cfg = job_config(tmp_path)
    ran = []

    @moxing_wrapper(pre_process=lambda c: c.set("TRAIN.BEGIN_EPOCH", 500))   # fine alone, not with END_EPOCH
    def run(c):
        ran.append(c)

    with pytest.raises(ConfigError, match=r"TRAIN.BEGIN_EPOCH: expected an epoch below TRAIN.END_EPOCH \(140\)"):
        run(cfg)
    assert not ran


def test_wrapper_copies_outputs_after_a_failure(tmp_path):
    os.makedirs(tmp_path / "obs" / "data")
    cfg = job_config(tmp_path)
    calls = []

    @moxing_wrapper(post_process=lambda c: calls.append("post"))
    def run(c):
        write(os.path.join(c.output_path, "log.txt"), "what happened")
        raise RuntimeError("diverged")

    with pytest.raises(RuntimeError, match="diverged"):
        run(cfg)
    assert calls == []
    assert tree(tmp_path / "obs" / "out") == {"log.txt": "what happened"}


def test_wrapper_keeps_the_run_error_when_the_copy_fails(tmp_path, monkeypatch):
    os.makedirs(tmp_path / "obs" / "data")
    cfg = job_config(tmp_path, "--train_url", "obs://bucket/out")
    monkeypatch.setitem(sys.modules, "moxing", None)
    monkeypatch.setattr(moxing_adapter, "path_exists", lambda url: False)

    @moxing_wrapper()
    def run(c):
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        run(cfg)
