"""Training checkpoints (src/training/checkpoint.py): names, the newest whole one found (damaged ones named and set
aside), KEEP_CKPT_MAX, the folder checked before training (writable, room, file size limit), where a resumed run
starts, the state restored, and the checks that name what does not fit. The saver inside a run: test_callbacks.py;
train.py's own checkpoints resumed: test_train.py."""
import os
from types import SimpleNamespace

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from src.errors import CheckpointDamagedError, CheckpointMismatchError, CheckpointWriteError, UserError
from src.network.weights import write_checkpoint
from src.training.checkpoint import (CheckpointSaver, checkpoint_epoch, checkpoint_name, find_resume_checkpoint,
                                     list_checkpoints, newest_whole_checkpoint, prepare_folder, restore_training_state,
                                     resume_step)
from src.training.steps import make_plan
from tests.helpers import damage_checkpoint, file_size_limit, read_only_folder


def scalars(**values):
    return {name: ms.Tensor(np.array([value], np.int32)) for name, value in values.items()}


def test_names_and_order_oldest_step_first(tmp_path):
    assert checkpoint_name(3, 120) == "simplepose-3_120.ckpt"
    for name in ("simplepose-10_2.ckpt", "simplepose-2_10.ckpt", "simplepose-2_9.ckpt", "simplepose_1-2_11.ckpt",
                 "simplepose-3_1.ckpt.tmp", "other-1_1.ckpt", "simplepose-1_1.ckpt.bak"):
        (tmp_path / name).write_bytes(b"")
    assert [os.path.basename(p) for p in list_checkpoints(str(tmp_path))] == [
        "simplepose-2_9.ckpt", "simplepose-2_10.ckpt", "simplepose_1-2_11.ckpt", "simplepose-10_2.ckpt"]
    assert list_checkpoints(str(tmp_path / "absent")) == []


def _cfg(resume="", pretrained="", model_resume=False, ckpt_save_dir=""):
    return SimpleNamespace(get=lambda key, default=None: resume if key == "resume" else default,
                           ckpt_save_dir=ckpt_save_dir,
                           MODEL=SimpleNamespace(PRETRAINED=pretrained, RESUME=model_resume))


def small_checkpoint(path, value=0.0):
    write_checkpoint([{"name": "w", "data": ms.Tensor(np.full((64, 64), value, np.float32))}], str(path))


def test_which_checkpoint_a_run_resumes_from(tmp_path):
    small_checkpoint(tmp_path / "simplepose-1_5.ckpt")
    small_checkpoint(tmp_path / "simplepose-2_5.ckpt")
    newest = str(tmp_path / "simplepose-2_5.ckpt")
    assert find_resume_checkpoint(_cfg("auto", ckpt_save_dir=str(tmp_path))) == newest
    assert find_resume_checkpoint(_cfg("AUTO"), directory=str(tmp_path)) == newest
    assert find_resume_checkpoint(_cfg("auto", ckpt_save_dir=str(tmp_path / "empty"))) is None   # a fresh start
    first = str(tmp_path / "simplepose-1_5.ckpt")
    assert find_resume_checkpoint(_cfg(first)) == first
    assert find_resume_checkpoint(_cfg(pretrained=first, model_resume=True)) == first   # the original's keys
    assert find_resume_checkpoint(_cfg(pretrained=first)) is None
    with pytest.raises(FileNotFoundError, match=r"not found: .*none.ckpt \(set by resume\)"):
        find_resume_checkpoint(_cfg(str(tmp_path / "none.ckpt")))
    with pytest.raises(FileNotFoundError, match=r"\(set by MODEL.PRETRAINED \(with MODEL.RESUME True\)\)"):
        find_resume_checkpoint(_cfg(pretrained=str(tmp_path / "none.ckpt"), model_resume=True))


@pytest.mark.parametrize("how", ["truncated", "truncated_between_entries", "zeroed"])
def test_resume_auto_skips_damaged_checkpoints_names_them_and_sets_them_aside(tmp_path, caplog, how):
    for step in (3, 4, 5):
        small_checkpoint(tmp_path / f"simplepose-1_{step}.ckpt", step)
    damage_checkpoint(str(tmp_path / "simplepose-1_5.ckpt"), how)
    damage_checkpoint(str(tmp_path / "simplepose-1_4.ckpt"), "zeroed")
    # A rank that only reads the folder skips them and leaves them in place.
    assert newest_whole_checkpoint(str(tmp_path)) == str(tmp_path / "simplepose-1_3.ckpt")
    assert len(list_checkpoints(str(tmp_path))) == 3
    caplog.clear()
    with caplog.at_level("WARNING"):
        found = find_resume_checkpoint(_cfg("auto"), str(tmp_path), set_aside=True)
    assert found == str(tmp_path / "simplepose-1_3.ckpt")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("resume auto: skipping")]
    assert len(lines) == 2 and lines[0].startswith(f"resume auto: skipping {tmp_path}/simplepose-1_5.ckpt: ")
    assert lines[1].startswith(f"resume auto: skipping {tmp_path}/simplepose-1_4.ckpt: checksum mismatch")
    assert lines[0].endswith("; renamed simplepose-1_5.ckpt.damaged")
    # Set aside, they neither count for KEEP_CKPT_MAX nor are found again.
    assert sorted(os.listdir(tmp_path)) == ["simplepose-1_3.ckpt", "simplepose-1_4.ckpt.damaged",
                                            "simplepose-1_5.ckpt.damaged"]


def test_resume_auto_refuses_a_folder_of_damaged_checkpoints(tmp_path):
    small_checkpoint(tmp_path / "simplepose-1_5.ckpt")
    damage_checkpoint(str(tmp_path / "simplepose-1_5.ckpt"), "truncated")
    (tmp_path / "simplepose-1_6.ckpt").write_bytes(b"")       # a file left empty by a crash
    with pytest.raises(CheckpointDamagedError, match=rf"^resume auto: none of the 2 checkpoints in {tmp_path} is "
                                                     r"whole; pass --resume PATH, or move them away to start "
                                                     r"afresh$"):
        newest_whole_checkpoint(str(tmp_path))


def test_keep_ckpt_max_removes_old_checkpoints_only_after_a_new_one_is_whole(tmp_path):
    net = nn.Dense(300, 300)        # ~1 MiB with Adam's moments: the overhead estimate is small beside it
    train_net = nn.TrainOneStepCell(nn.WithLossCell(net, nn.MSELoss()), nn.Adam(net.trainable_params()))
    saver = CheckpointSaver(train_net, str(tmp_path), make_plan(steps=4, first_step=0, end_epoch=2), keep_max=1)
    saver.save(1, 1, 1)
    saver.save(1, 2, 2)
    assert [os.path.basename(p) for p in list_checkpoints(str(tmp_path))] == ["simplepose-1_2.ckpt"]
    with file_size_limit(saver.size() // 2):
        with pytest.raises(CheckpointWriteError) as err:
            saver.save(1, 3, 3)
    assert sorted(os.listdir(tmp_path)) == ["simplepose-1_2.ckpt"]   # nothing half-written, the last good one kept
    assert str(err.value).endswith(f"; the older checkpoints are intact; --resume auto continues from "
                                   f"{tmp_path}/simplepose-1_2.ckpt")
    assert saver.last_saved == 2


def test_the_folder_is_checked_before_training(tmp_path):
    prepare_folder(str(tmp_path / "new"), 1000)
    assert os.listdir(tmp_path / "new") == []
    for name in ("simplepose-1_2.new.ckpt", "simplepose-1_2.new.tmp", "simplepose-1_2.tmp", "simplepose-1_2.ckpt"):
        (tmp_path / "new" / name).write_bytes(b"x")               # what killed writes leave, and a checkpoint
    prepare_folder(str(tmp_path / "new"), 1000)
    assert os.listdir(tmp_path / "new") == ["simplepose-1_2.ckpt"]
    with pytest.raises(CheckpointWriteError, match=r"^no room for a checkpoint: .* free in .*, a checkpoint needs "
                                                   r"about 1024.0 TiB; free some space or choose another "
                                                   r"ckpt_save_dir$"):
        prepare_folder(str(tmp_path), 2 ** 50)
    with file_size_limit(4096):
        with pytest.raises(CheckpointWriteError, match=r"^the file size limit \(ulimit -f\) is 4.0 KiB, a checkpoint "
                                                       r"needs about 9.8 KiB; raise it \(ulimit -f unlimited\)$"):
            prepare_folder(str(tmp_path), 10000)
    with read_only_folder(str(tmp_path / "ro")):
        with pytest.raises(CheckpointWriteError, match=rf"^the checkpoint folder {tmp_path}/ro is not writable: "
                                                       r"(Read-only file system|Permission denied); choose another "
                                                       r"ckpt_save_dir$"):
            prepare_folder(str(tmp_path / "ro"), 1000)


def test_where_a_resumed_run_starts():
    # Written by this project: the optimizer's global step; another epoch length restarts the epoch it is in.
    params = scalars(global_step=30, steps_per_epoch=12, epoch_num=3)
    assert resume_step("simplepose-3_6.ckpt", params, 12) == 30
    assert resume_step("simplepose-3_6.ckpt", params, 7) == 14
    # Written by an earlier version (no steps_per_epoch): at the end of epoch epoch_num, else of its name's epoch.
    assert resume_step("x.ckpt", scalars(epoch_num=4, global_step=99), 10) == 40
    assert resume_step("run/simplepose-5_100.ckpt", {}, 10) == 50
    assert checkpoint_epoch("simplepose-5_100.ckpt", scalars(epoch_num=2)) == 2
    with pytest.raises(UserError, match="cannot tell the epoch of weights.ckpt"):
        checkpoint_epoch("weights.ckpt", {})


def _training(seed):
    ms.set_seed(seed)
    net = nn.Dense(3, 2)
    optimizer = nn.Adam(net.trainable_params(), learning_rate=0.01)
    train_net = nn.TrainOneStepCell(nn.WithLossCell(net, nn.MSELoss()), optimizer)
    train_net.set_train()
    return net, optimizer, train_net


def test_restore_brings_back_the_network_and_the_optimizer(tmp_path):
    ms.set_context(mode=ms.PYNATIVE_MODE)
    net, optimizer, train_net = _training(0)
    x, y = ms.Tensor(np.ones((4, 3), np.float32)), ms.Tensor(np.zeros((4, 2), np.float32))
    for _ in range(3):
        train_net(x, y)
    path = CheckpointSaver(train_net, str(tmp_path), make_plan(steps=4, first_step=0, end_epoch=2)).save(1, 3, 3)
    assert os.path.basename(path) == "simplepose-1_3.ckpt"

    other, other_optimizer, other_train = _training(1)
    assert restore_training_state(other_train, other_optimizer, path, steps_per_epoch=4) == 3
    np.testing.assert_array_equal(other.weight.asnumpy(), net.weight.asnumpy())
    np.testing.assert_array_equal(other_optimizer.moment1[0].asnumpy(), optimizer.moment1[0].asnumpy())
    assert np.abs(other_optimizer.moment2[0].asnumpy()).sum() > 0
    assert int(other_optimizer.global_step.asnumpy()[0]) == 3
    # Both continue alike from there.
    np.testing.assert_allclose(other_train(x, y).asnumpy(), train_net(x, y).asnumpy(), rtol=1e-6)


def test_a_checkpoint_of_another_network_cannot_resume(tmp_path):
    _, _, train_net = _training(0)
    path = str(tmp_path / "simplepose-1_1.ckpt")
    ms.save_checkpoint(nn.Dense(3, 5), path)
    _, optimizer, other = _training(0)
    with pytest.raises(CheckpointMismatchError) as err:
        restore_training_state(other, optimizer, path, steps_per_epoch=4)
    message = str(err.value)
    assert message.startswith(f"{path} cannot resume this run: ") and "with another shape (e.g. " in message
    assert "missing (e.g. " in message and "Resume needs a training checkpoint" in message
