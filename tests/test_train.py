"""Training: schedule, a few real steps, checkpoints, resume, divergence guard, launchers, msrun."""
import csv
import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from src.callbacks import DivergenceGuard, Step, TrainingDiverged
from src.checkpoint import list_checkpoints, restore_training_state
from src.dataset import keypoint_dataset
from src.lr_generator import get_lr
from src.model import get_pose_net
from src.model_utils.config import get_config
from src.network_define import JointsMSELoss, WithLossCell
from tests.helpers import ROOT, TINY_CONFIG, free_port, run_launcher, run_script, start_msrun, subprocess_env


def tiny_args(root, ckpt_dir, *extra):
    return ["--config_path", TINY_CONFIG, "--dataset_path", str(root), "--ckpt_save_dir", str(ckpt_dir), *extra]


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ---- schedule -----------------------------------------------------------------------

def test_lr_schedule_hand_values():
    lr = get_lr(0, 4, 2, lr_init=0.1, factor=0.5, epoch_number_to_drop=[1, 3])
    np.testing.assert_allclose(lr, [0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025], rtol=1e-6)
    assert lr.dtype == np.float32


def test_lr_schedule_from_a_middle_epoch():
    full = get_lr(0, 140, 3, 0.001, 0.1, [90, 120])
    tail = get_lr(100, 140, 3, 0.001, 0.1, [90, 120])
    assert len(tail) == 40 * 3
    np.testing.assert_array_equal(tail, full[300:])
    np.testing.assert_allclose(tail[:3], 1e-4, rtol=1e-6)
    np.testing.assert_allclose(tail[-1], 1e-5, rtol=1e-6)
    np.testing.assert_allclose(get_lr(0, 2, 1, 0.01, 0.1, []), [0.01, 0.01])
    with pytest.raises(ValueError, match="steps_per_epoch"):
        get_lr(0, 2, 0)


# ---- a few real steps -------------------------------------------------------------------

def test_training_steps_lower_the_loss(synthetic_root):
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    ms.set_seed(0)
    cfg = get_config(tiny_args(synthetic_root, "unused"))
    dataset, _ = keypoint_dataset(cfg, train_mode=True, num_parallel_workers=1, shuffle=False)
    batch = next(dataset.create_tuple_iterator(num_epochs=1))
    net = get_pose_net(cfg, is_train=True)
    train_net = nn.TrainOneStepCell(WithLossCell(net, JointsMSELoss(True)),
                                    nn.Adam(net.trainable_params(), learning_rate=1e-3))
    train_net.set_train()   # BatchNorm in training mode, as Model.train does
    losses = [float(train_net(*batch).asnumpy()) for _ in range(15)]
    assert all(np.isfinite(losses))
    # Fitting one fixed batch: the loss roughly halves in 15 steps.
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses


# ---- checkpoints, CSV, resume -----------------------------------------------------------------

#: The run the resume tests must reproduce: 2 epochs straight, without sink mode.
STRAIGHT = ("--end_epoch", "2", "--TRAIN.LR_STEP", "[1]")


@pytest.fixture(scope="module")
def trained_two_epochs(synthetic_root, tmp_path_factory):
    ckpt_dir = tmp_path_factory.mktemp("ckpt")
    out = run_script("train.py", tiny_args(synthetic_root, ckpt_dir, *STRAIGHT, "--TRAIN.KEEP_CKPT_MAX", "5",
                                           "--TRAIN.SINK_MODE", "False"))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return ckpt_dir, out.stdout


def test_checkpoint_names_and_logs(trained_two_epochs):
    ckpt_dir, log = trained_two_epochs
    names = [os.path.basename(p) for p in list_checkpoints(str(ckpt_dir))]
    assert len(names) == 2 and names[0].startswith("simplepose-1_") and names[1].startswith("simplepose-2_")
    steps = int(names[0].split("_")[1].split(".")[0])
    assert names[1] == f"simplepose-2_{steps}.ckpt"
    assert not [n for n in os.listdir(ckpt_dir) if n.endswith(".tmp")]
    for line in ("loading dataset from", "start training, epoch size = 2", "epoch: 1 step: 1, loss is",
                 "per step time", "img/s"):
        assert line in log, line
    rows = read_csv(os.path.join(ckpt_dir, "loss_log.csv"))
    assert len(rows) == 2 * steps
    assert [int(r["global_step"]) for r in rows] == list(range(1, 2 * steps + 1))
    lrs = np.array([float(r["lr"]) for r in rows])
    np.testing.assert_allclose(lrs, get_lr(0, 2, steps, 0.001, 0.1, [1]), rtol=1e-6)


def test_keep_ckpt_max(synthetic_root, tmp_path):
    out = run_script("train.py", tiny_args(synthetic_root, tmp_path, "--end_epoch", "2",
                                           "--TRAIN.KEEP_CKPT_MAX", "1"))
    assert out.returncode == 0, out.stderr[-2000:]
    names = [os.path.basename(p) for p in list_checkpoints(str(tmp_path))]
    assert len(names) == 1 and names[0].startswith("simplepose-2_")


def test_resume_restores_optimizer_state(trained_two_epochs, synthetic_root):
    ckpt_dir, _ = trained_two_epochs
    path = list_checkpoints(str(ckpt_dir))[-1]
    saved = ms.load_checkpoint(path)
    steps = int(saved["steps_per_epoch"].asnumpy())
    ms.set_context(mode=ms.GRAPH_MODE)
    cfg = get_config(tiny_args(synthetic_root, ckpt_dir))
    net = get_pose_net(cfg, is_train=False)
    optimizer = nn.Adam(net.trainable_params(), learning_rate=ms.Tensor(get_lr(0, 4, 7, 0.001)))
    train_net = nn.TrainOneStepCell(WithLossCell(net, JointsMSELoss(True)), optimizer)
    assert restore_training_state(train_net, optimizer, path, steps_per_epoch=steps) == 2 * steps
    # With another epoch length (batch size changed), the run continues at the next epoch's start.
    assert restore_training_state(train_net, optimizer, path, steps_per_epoch=7) == 14
    assert int(optimizer.global_step.asnumpy()[0]) == 14
    moment = optimizer.moment1[0]
    assert np.abs(saved[moment.name].asnumpy()).sum() > 0
    np.testing.assert_array_equal(moment.asnumpy(), saved[moment.name].asnumpy())
    np.testing.assert_array_equal(optimizer.beta1_power.asnumpy(), saved["beta1_power"].asnumpy())
    np.testing.assert_array_equal(net.final_layer.weight.asnumpy(), saved["final_layer.weight"].asnumpy())


def test_resume_auto_continues_to_end_epoch(trained_two_epochs, synthetic_root, tmp_path):
    ckpt_dir, _ = trained_two_epochs
    work = tmp_path / "ckpt"
    work.mkdir()
    for path in list_checkpoints(str(ckpt_dir)):
        os.link(path, work / os.path.basename(path))
    out = run_script("train.py", tiny_args(synthetic_root, work, "--end_epoch", "3", "--resume", "auto",
                                           "--TRAIN.LR_STEP", "[1]"))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "resumed after step" in out.stdout and "of epoch 2" in out.stdout
    names = [os.path.basename(p) for p in list_checkpoints(str(work))]
    assert names[-1].startswith("simplepose-3_") and len(names) == 3
    rows = read_csv(work / "loss_log.csv")
    assert {int(r["epoch"]) for r in rows} == {3}
    steps = len(rows)
    np.testing.assert_allclose([float(r["lr"]) for r in rows], 1e-4, rtol=1e-6)
    assert [int(r["global_step"]) for r in rows] == list(range(2 * steps + 1, 3 * steps + 1))


def test_resume_errors(synthetic_root, tmp_path):
    out = run_script("train.py", tiny_args(synthetic_root, tmp_path, "--resume", str(tmp_path / "none.ckpt")))
    assert out.returncode == 2
    assert "none.ckpt" in out.stderr and "Traceback" not in out.stderr


def final_difference(reference_dir, other_dir):
    """Largest difference between the last checkpoints of two runs, over every saved value."""
    first = ms.load_checkpoint(list_checkpoints(str(reference_dir))[-1])
    second = ms.load_checkpoint(list_checkpoints(str(other_dir))[-1])
    assert set(first) <= set(second)
    return max(float(np.abs(first[k].asnumpy().astype(np.float64) - second[k].asnumpy()).max()) for k in first)


def loss_rows(ckpt_dir):
    return [(r["epoch"], r["step"], r["global_step"], r["loss"]) for r in read_csv(os.path.join(ckpt_dir,
                                                                                             "loss_log.csv"))]


@pytest.mark.slow
def test_one_epoch_then_resume_equals_two_straight(trained_two_epochs, synthetic_root, tmp_path):
    straight, _ = trained_two_epochs
    first = run_script("train.py", tiny_args(synthetic_root, tmp_path, *STRAIGHT[2:], "--end_epoch", "1"))
    assert first.returncode == 0, first.stderr[-2000:]
    out = run_script("train.py", tiny_args(synthetic_root, tmp_path, *STRAIGHT, "--resume", "auto"))
    assert out.returncode == 0, out.stderr[-2000:]
    assert final_difference(straight, tmp_path) <= 1e-6
    assert loss_rows(tmp_path) == loss_rows(straight)


@pytest.mark.slow
def test_sigkill_after_a_step_checkpoint_then_resume_equals_straight(trained_two_epochs, synthetic_root, tmp_path):
    """Killed right after a checkpoint in the middle of epoch 2, resumed: the run of the fixture, in sink mode."""
    straight, _ = trained_two_epochs
    args = tiny_args(synthetic_root, tmp_path, *STRAIGHT, "--TRAIN.SAVE_STEPS", "2", "--TRAIN.KEEP_CKPT_MAX", "10",
                     "--TRAIN.SINK_MODE", "True", "--TRAIN.SINK_SIZE", "2")
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "train.py"), *args], cwd=ROOT,
                            env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target = tmp_path / "simplepose-2_2.ckpt"
    deadline = time.time() + 600
    while not target.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    names = [os.path.basename(p) for p in list_checkpoints(str(tmp_path))]
    assert "simplepose-2_2.ckpt" in names and "simplepose-2_6.ckpt" not in names, names
    out = run_script("train.py", [*args, "--resume", "auto"])
    assert out.returncode == 0, out.stderr[-2000:]
    assert "dataset sink mode: 2 steps per sink" in out.stdout
    assert final_difference(straight, tmp_path) <= 1e-6
    assert loss_rows(tmp_path) == loss_rows(straight)   # no gap, no repeat


# ---- divergence guard ------------------------------------------------------------------------

@pytest.mark.parametrize("loss", [float("nan"), float("inf")])
def test_divergence_guard_names_epoch_and_step(loss):
    guard = DivergenceGuard("ckpt_dir")
    steps = [Step(24, 3, 4, 0.5, 1e-3), Step(25, 3, 5, loss, 1e-3), Step(26, 3, 6, 0.5, 1e-3)]
    context = SimpleNamespace(original_args=lambda: {"steps": steps}, request_stop=lambda: None)
    with pytest.raises(TrainingDiverged, match=r"epoch 3 step 5.*ckpt_dir"):
        guard.on_train_step_end(context)


def test_divergence_stops_training_without_saving(synthetic_root, tmp_path):
    out = run_script("train.py", tiny_args(synthetic_root, tmp_path, "--end_epoch", "2", "--TRAIN.LR", "1e30"))
    assert out.returncode == 3, out.stdout[-2000:] + out.stderr[-2000:]
    assert "training diverged" in out.stdout + out.stderr
    assert list_checkpoints(str(tmp_path)) == []


# ---- launchers --------------------------------------------------------------------------------

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
def test_launcher_argument_errors(script, args, words, tmp_path):
    out = run_launcher(script, args, cwd=str(tmp_path), timeout=60)
    assert out.returncode != 0
    for word in words:
        assert word in out.stderr, out.stderr


def test_bad_configuration_is_one_line(tmp_path):
    out = run_script("train.py", ["--config_path", TINY_CONFIG, "--dataset_path", str(tmp_path / "nowhere")])
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and "nowhere" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    out = run_script("train.py", ["--config_path", TINY_CONFIG, "--device_target", "TPU"])
    assert out.returncode == 2 and "device_target" in out.stderr and "Traceback" not in out.stderr


def test_missing_pretrained_is_one_line(synthetic_root, tmp_path):
    out = run_script("train.py", tiny_args(synthetic_root, tmp_path, "--MODEL.INIT_WEIGHTS", "True",
                                           "--MODEL.PRETRAINED", str(tmp_path / "resnet18.ckpt")))
    assert out.returncode == 2
    assert "resnet18.ckpt" in out.stderr and "Traceback" not in out.stderr


def test_standalone_cpu_launcher_trains(synthetic_root, tmp_path):
    out = run_launcher("run_standalone_train_cpu.sh",
                       ["ckpt", "4", "1", "--config_path", TINY_CONFIG, "--dataset_path", str(synthetic_root)],
                       cwd=str(tmp_path))
    assert out.returncode == 0, out.stdout[-2000:]
    assert list_checkpoints(str(tmp_path / "ckpt"))
    assert "start training" in (tmp_path / "logs" / "run_standalone_train_cpu.log").read_text()


# ---- data parallelism with msrun on the CPU ---------------------------------------------------------

@pytest.mark.slow
def test_msrun_two_workers_keep_identical_replicas_and_resume_per_rank(synthetic_root, tmp_path):
    """Two CPU workers, every rank saving into its own folder; then --resume auto finds each rank's folder."""
    env = {"MSRUN_PORT": str(free_port())}
    common = ["--config_path", TINY_CONFIG, "--dataset_path", str(synthetic_root), "--TRAIN.SAVE_ALL_RANKS", "True"]

    def launch(end_epoch, *extra):
        out = run_launcher("run_distribute_train_cpu.sh", ["ckpt", "2", "2", str(end_epoch), *common, *extra],
                           cwd=str(tmp_path), env=env, timeout=900)
        logs = "".join((tmp_path / "logs" / "msrun" / n).read_text()[-3000:]
                       for n in sorted(os.listdir(tmp_path / "logs" / "msrun")))
        assert out.returncode == 0, out.stdout[-2000:] + logs
        return logs

    logs = launch(1)
    assert "Now we use 2 devices" in logs
    logs = launch(2, "--resume", "auto")
    assert logs.count("resumed after step") == 2, logs
    ranks = [list_checkpoints(str(tmp_path / "ckpt" / f"rank_{r}")) for r in (0, 1)]
    assert [os.path.basename(p)[:13] for p in (ranks[0][-1], ranks[1][-1])] == ["simplepose-2_"] * 2, ranks
    first, second = ms.load_checkpoint(ranks[0][-1]), ms.load_checkpoint(ranks[1][-1])
    compared = 0
    for name, value in first.items():
        if name.startswith(("moment1.", "moment2.")) or name in ("beta1_power", "beta2_power", "global_step"):
            np.testing.assert_array_equal(value.asnumpy(), second[name].asnumpy(), err_msg=name)
            compared += 1
    cfg = get_config(["--config_path", TINY_CONFIG])
    net = get_pose_net(cfg, is_train=False)
    for param in net.trainable_params():
        np.testing.assert_array_equal(first[param.name].asnumpy(), second[param.name].asnumpy(),
                                      err_msg=param.name)
        compared += 1
    assert compared > 3 * len(net.trainable_params())


@pytest.mark.slow
def test_a_nan_on_one_rank_stops_every_rank(synthetic_root, tmp_path):
    """Two servers of one worker each; only rank 1 sees NaN targets (from epoch 2): both stop at once."""
    args = tiny_args(synthetic_root, tmp_path / "ckpt", "--run_distribute", "True", "--end_epoch", "3")
    port = free_port()
    nodes = [start_msrun("tests/entry/diverge_on_rank1.py", args, str(tmp_path / f"node{r}"), port,
                         worker_num=2, local_worker_num=1, node_rank=r) for r in (0, 1)]

    def logs():
        return {path.name: path.read_text(errors="replace") for path in tmp_path.glob("node*/worker_*.log")}

    deadline = time.time() + 600
    while not any("training diverged" in text for text in logs().values()):
        assert time.time() < deadline and all(n.poll() is None for n in nodes), logs()
        time.sleep(0.2)
    stopped = time.time() + 60
    for node in nodes:
        try:
            node.wait(timeout=max(1.0, stopped - time.time()))
        except subprocess.TimeoutExpired:
            for other in nodes:
                other.kill()
            pytest.fail(f"a rank still runs 60 s after the divergence: {logs()}")
    assert all(node.returncode != 0 for node in nodes)
    texts = logs()
    assert len(texts) == 2 and all("training diverged: the loss is nan at epoch 2 step 1" in t for t in texts.values())
    names = [os.path.basename(p) for p in list_checkpoints(str(tmp_path / "ckpt"))]
    assert names and all(n.startswith("simplepose-1_") for n in names)
