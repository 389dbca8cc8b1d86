"""Parameter files of the network (src/network/weights.py): checkpoints written whole and checked when read (cut
short, changed bytes, files without a checksum), which ResNet a checkpoint holds, the one-line report of a
checkpoint that does not fit, and the model file of the scripts that load a network."""
import functools
import os
from types import SimpleNamespace

import mindspore as ms
import numpy as np
import pytest

from src.constants import COCO_KEYPOINT_NAMES
from src.data.posetrack_joints import POSETRACK_KEYPOINT_NAMES
from src.errors import CheckpointDamagedError, CheckpointMismatchError, CheckpointWriteError, ConfigError
from src.model import PoseResNet
from src.network.weights import (CHECKSUM_ENTRY, channel_sources, checkpoint_problem, first_entry_name,
                                 load_initial_weights, mismatch_report, read_checkpoint, require_model_file,
                                 resnet_depth, staging_paths, write_checkpoint)
from tests.helpers import ROOT, damage_checkpoint, file_size_limit, read_only_folder


def block_conv_names(bottleneck: bool, blocks) -> list:
    """The names ``layer<i>.<block>.conv<k>.weight`` of a ResNet with ``blocks`` per stage (He et al., Table 1)."""
    convs = (1, 2, 3) if bottleneck else (1, 2)
    return [f"layer{i + 1}.{b}.conv{k}.weight" for i, count in enumerate(blocks) for b in range(count) for k in convs]


@functools.lru_cache(maxsize=None)
def r18_shapes():
    """{name: shape} of this project's ResNet-18 network (256-channel head)."""
    return {p.name: tuple(p.shape) for p in PoseResNet(18, 17, (256, 256, 256), (4, 4, 4)).get_parameters()}


def reference_r50_shapes():
    """{name: shape} of the original ResNet-50 checkpoint (tests/data/simple_pose_r50_params.txt)."""
    with open(os.path.join(ROOT, "tests", "data", "simple_pose_r50_params.txt"), encoding="utf-8") as f:
        rows = [line.split() for line in f if line.strip()]
    return {name: tuple(int(d) for d in shape.split("x")) for name, shape, _ in rows}


def test_resnet_depth_of_parameter_names():
    assert resnet_depth(reference_r50_shapes()) == 50
    assert resnet_depth(r18_shapes()) == 18
    assert resnet_depth(block_conv_names(False, (3, 4, 6, 3))) == 34
    assert resnet_depth(block_conv_names(True, (3, 4, 23, 3))) == 101
    assert resnet_depth(block_conv_names(True, (3, 8, 36, 3))) == 152
    assert resnet_depth(block_conv_names(False, (3, 4, 23, 3))) is None   # 101's blocks without bottlenecks
    assert resnet_depth(["final_layer.weight", "deconv_layers.deconv_0.deconv.weight"]) is None
    partial = [n for n in reference_r50_shapes() if not n.startswith("layer4.2.")]   # a block short
    assert resnet_depth(partial) is None


def test_mismatch_report_counts_and_names_a_few():
    expected = {"a": (1,), "b": (2, 2), "c": (3,), "e": (5,)}
    found = {"a": (1,), "b": (2, 3), "d": (4,), "e": (5,)}
    assert mismatch_report(expected, found) == "1 missing (e.g. c); 1 with another shape (e.g. b (2, 3) instead of (2, 2))"
    assert mismatch_report(expected, found, unexpected=True).endswith("; 1 unexpected (e.g. d)")
    assert mismatch_report(expected, dict(expected)) == ""
    many = {f"w{i}": (1,) for i in range(5)}
    assert mismatch_report(many, {}, shown=2) == "5 missing (e.g. w0, w1, ...)"


def test_mismatch_report_names_the_depth_of_another_resnet():
    r18 = r18_shapes()
    report = mismatch_report(r18, reference_r50_shapes())
    assert report.endswith("; its blocks are those of a ResNet-50: set POSE_RESNET.NUM_LAYERS 50")
    assert report.startswith("24 with another shape (e.g. layer1.0.conv1.weight (64, 64, 1, 1) instead of "
                             "(64, 64, 3, 3), ") and "missing" not in report and len(report) < 500
    assert "its blocks" not in mismatch_report(r18, {k: v for k, v in r18.items() if k != "final_layer.bias"})


def test_the_model_file_of_eval_export_and_infer(tmp_path):
    path = tmp_path / "a.ckpt"
    path.write_bytes(b"")
    assert require_model_file(SimpleNamespace(TEST=SimpleNamespace(MODEL_FILE=str(path))), "run") == str(path)
    with pytest.raises(ConfigError, match=r"^no checkpoint to evaluate: pass --eval_model_file PATH"):
        require_model_file(SimpleNamespace(TEST=SimpleNamespace(MODEL_FILE="")), "evaluate")
    with pytest.raises(FileNotFoundError, match=r"^checkpoint not found: .*b.ckpt \(TEST.MODEL_FILE\)$"):
        require_model_file(SimpleNamespace(TEST=SimpleNamespace(MODEL_FILE=str(tmp_path / "b.ckpt"))), "run")


def test_channel_sources_match_joints_by_name():
    assert channel_sources(COCO_KEYPOINT_NAMES, POSETRACK_KEYPOINT_NAMES).tolist() == [0, -1, -1] + list(range(3, 17))
    assert channel_sources(POSETRACK_KEYPOINT_NAMES, COCO_KEYPOINT_NAMES).tolist() == [0, -1, -1] + list(range(3, 17))
    assert channel_sources(COCO_KEYPOINT_NAMES, COCO_KEYPOINT_NAMES).tolist() == list(range(17))
    assert channel_sources(("a", "b", "c"), ("c", "x", "a")).tolist() == [2, -1, 0]


@pytest.mark.parametrize("target", ["posetrack", "reversed"])
def test_initial_weights_take_each_output_channel_from_its_joints_source(tmp_path, random_weights, target):
    """Every parameter is the checkpoint's but the heatmap layer's channels, each the checkpoint's channel of the
    same joint; a joint the checkpoint lacks keeps the network's initial values."""
    import mindspore as ms  # pylint: disable=import-outside-toplevel
    trained, fresh = PoseResNet(18, 17, (16,), (4,)), PoseResNet(18, 17, (16,), (4,))
    random_weights.randomize([trained], seed=3)
    path = str(tmp_path / "coco.ckpt")
    ms.save_checkpoint(trained, path)
    names = POSETRACK_KEYPOINT_NAMES if target == "posetrack" else COCO_KEYPOINT_NAMES[::-1]
    sources = channel_sources(COCO_KEYPOINT_NAMES, names)
    initial = {p.name: p.asnumpy().copy() for p in fresh.get_parameters()}
    load_initial_weights(fresh, path, sources)
    saved = {p.name: p.asnumpy() for p in trained.get_parameters()}
    final = [p.name for p in fresh.get_parameters() if p.name.startswith("final_layer.")]
    assert sorted(final) == ["final_layer.bias", "final_layer.weight"]
    for param in fresh.get_parameters():
        value = param.asnumpy()
        if param.name in final:
            for j, source in enumerate(sources):
                np.testing.assert_array_equal(value[j], saved[param.name][source] if source >= 0
                                              else initial[param.name][j])
        else:
            np.testing.assert_array_equal(value, saved[param.name])
    if target == "reversed":
        assert sources.tolist() == list(range(16, -1, -1))
    with pytest.raises(FileNotFoundError, match=r"checkpoint not found: .*none.ckpt.*\(TRAIN.INIT_FROM\)"):
        load_initial_weights(fresh, str(tmp_path / "none.ckpt"), sources)
    with pytest.raises(CheckpointMismatchError, match="TRAIN.INIT_FROM"):
        load_initial_weights(PoseResNet(34, 17, (16,), (4,)), path, sources)


# ---- the file: written whole, checked when read ------------------------------------------------------------

def entries(count=12, seed=0):
    rng = np.random.default_rng(seed)
    return [{"name": f"layer{i}.weight", "data": ms.Tensor(rng.standard_normal((32, 16, 3, 3)).astype(np.float32))}
            for i in range(count)]


def test_a_checkpoint_is_written_marked_and_with_its_checksum_and_reads_back(tmp_path):
    path = str(tmp_path / "net.ckpt")
    written = entries()
    write_checkpoint(written, path)
    assert os.listdir(tmp_path) == ["net.ckpt"]   # no staging file left
    with open(path, "rb") as f:
        data = f.read()
    assert first_entry_name(data[:256]) == CHECKSUM_ENTRY and data[-17:-10] == b"crc_num"
    assert checkpoint_problem(path) == ""
    read = read_checkpoint(path)
    assert list(read) == [e["name"] for e in written]   # the marker is not an entry of the network
    for entry in written:
        np.testing.assert_array_equal(read[entry["name"]].asnumpy(), entry["data"].asnumpy())
    # MindSpore's own loader verifies the same file with its crc_check.
    assert CHECKSUM_ENTRY in ms.load_checkpoint(path, crc_check=True)


@pytest.mark.parametrize("how,reason", [
    ("truncated", r"cut short \(\d+ bytes, no checksum at its end\)"),
    ("truncated_between_entries", r"cut short \(\d+ bytes, no checksum at its end\)"),
    ("zeroed", r"checksum mismatch \(CRC-32 [0-9a-f]{8}, written [0-9a-f]{8}\): its bytes changed after it was "
               r"written"),
])
def test_a_damaged_checkpoint_is_refused_with_one_line_naming_it(tmp_path, how, reason):
    path = str(tmp_path / "net.ckpt")
    write_checkpoint(entries(), path)
    damage_checkpoint(path, how)
    with pytest.raises(CheckpointDamagedError) as err:
        read_checkpoint(path, "network checkpoint")
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"network checkpoint {path} is damaged: ")
    assert __import__("re").search(reason, message), message


def test_a_checkpoint_cut_between_entries_parses_but_is_caught_by_its_first_entry(tmp_path):
    """The case MindSpore's crc_check lets through: it only warns that the file has no checksum."""
    path = str(tmp_path / "net.ckpt")
    write_checkpoint(entries(), path)
    damage_checkpoint(path, "truncated_between_entries")
    assert 1 < len(ms.load_checkpoint(path, crc_check=True)) < 13
    assert checkpoint_problem(path).startswith("cut short")


def test_checkpoints_without_a_checksum_still_load_and_unparsable_ones_are_refused(tmp_path):
    """The original port's checkpoints and earlier conversions: no marker, no trailer."""
    path = str(tmp_path / "old.ckpt")
    ms.save_checkpoint(entries(), path)
    assert checkpoint_problem(path) == "" and len(read_checkpoint(path)) == 12
    damage_checkpoint(path, "truncated")
    with pytest.raises(CheckpointDamagedError, match=r"old.ckpt is damaged: it does not parse as a MindSpore "
                                                      r"checkpoint; use another checkpoint$"):
        read_checkpoint(path)
    with pytest.raises(FileNotFoundError, match=r"^checkpoint not found: '.*none.ckpt'$"):
        read_checkpoint(str(tmp_path / "none.ckpt"))


def test_a_checkpoint_is_replaced_only_once_its_successor_is_whole(tmp_path):
    path = str(tmp_path / "net.ckpt")
    write_checkpoint(entries(seed=1), path)
    write_checkpoint(entries(seed=2), path)   # over a read-only file of the same name
    np.testing.assert_array_equal(read_checkpoint(path)["layer0.weight"].asnumpy(),
                                  entries(seed=2)[0]["data"].asnumpy())
    before = open(path, "rb").read()
    with file_size_limit(64 * 1024):          # the new file cannot be written: the old one stays
        with pytest.raises(CheckpointWriteError) as err:
            write_checkpoint(entries(seed=3), path)
    assert open(path, "rb").read() == before and os.listdir(tmp_path) == ["net.ckpt"]
    assert not any(os.path.exists(p) for p in staging_paths(path))
    message = str(err.value)
    assert message.startswith(f"cannot write checkpoint {path}: File too large (") and "\n" not in message
    assert f"free in {tmp_path}, a checkpoint needs about 219.3 KiB); the older checkpoints are intact" in message


def test_a_read_only_folder_is_named(tmp_path):
    folder = str(tmp_path / "ro")
    with read_only_folder(folder):
        with pytest.raises(CheckpointWriteError, match=rf"^cannot write checkpoint {folder}/net.ckpt: "
                                                       rf"(Read-only file system|Permission denied) \(.* free in "
                                                       rf"{folder}, a checkpoint needs about "):
            write_checkpoint(entries(), os.path.join(folder, "net.ckpt"))
        assert os.listdir(folder) == []
