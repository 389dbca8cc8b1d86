"""Parameter files of the network (src/network/weights.py): which ResNet a checkpoint holds, the one-line report
of a checkpoint that does not fit, and the model file of the scripts that load a network."""
import functools
import os
from types import SimpleNamespace

import numpy as np
import pytest

from src.constants import COCO_KEYPOINT_NAMES, POSETRACK_KEYPOINT_NAMES
from src.errors import CheckpointMismatchError, ConfigError
from src.model import PoseResNet
from src.network.weights import (channel_sources, load_initial_weights, mismatch_report, require_model_file,
                                 resnet_depth)
from tests.helpers import ROOT


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
