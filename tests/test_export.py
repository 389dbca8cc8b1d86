"""export.py: MINDIR and ONNX files equal the checkpoint's network; AIR and bad input fail clearly."""
import os
import sys

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

import export
from src.infer_mindir import mindir_input_shape
from src.model import get_pose_net
from src.model_utils.config import get_config
from src.errors import MissingDependencyError
from src.onnx_fix import (ExportableMaxPool2d, OnnxFixError, import_onnx,
                          replace_padded_max_pools, transpose_padding)
from tests.helpers import TINY_CONFIG, run_script

#: The tiny network; an input width that is a multiple of the backbone's stride 32, so that the
#: heatmaps are exactly a quarter of the input.
TINY = ["--config_path", TINY_CONFIG, "--device_target", "CPU", "--MODEL.IMAGE_SIZE", "[32,64]",
        "--POSE_RESNET.HEATMAP_SIZE", "[8,16]"]
BATCH = 2


def stock_network(ckpt_path=None, overrides=()):
    """The tiny network in eval mode with stock operators (the exported formulation)."""
    cfg = get_config(TINY + list(overrides))
    net = get_pose_net(cfg, is_train=False, ckpt_path=ckpt_path, fast_cpu=False)
    net.set_train(False)
    return net


def make_tiny_checkpoint(path, seed=0, overrides=()):
    """A random-weight checkpoint of the tiny network, with BatchNorm statistics and a head that
    make the heatmaps vary (the initial ones are nearly flat and near zero)."""
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    rng = np.random.default_rng(seed)
    net = stock_network(overrides=overrides)
    for name, param in net.parameters_and_names():
        shape = param.shape
        if name.endswith("moving_mean") or name.endswith("beta"):
            value = rng.normal(0.0, 0.1, shape)
        elif name.endswith("moving_variance"):
            value = rng.uniform(0.5, 2.0, shape)
        elif name.endswith("gamma"):
            value = rng.uniform(0.5, 1.5, shape)
        elif len(shape) == 4:  # convolution and deconvolution kernels, He-like scale
            fan_in = int(np.prod(shape[1:]))
            value = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
        else:
            value = rng.normal(0.0, 0.1, shape)
        param.set_data(ms.Tensor(value.astype(np.float32)))
    ms.save_checkpoint(net, str(path))
    return str(path)


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("export") / "tiny.ckpt")


@pytest.fixture(scope="module")
def reference(tiny_ckpt):
    """A random batch and the checkpoint network's heatmaps for it."""
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    images = np.random.default_rng(1).normal(0, 1, (BATCH, 3, 64, 32)).astype(np.float32)
    heatmaps = stock_network(tiny_ckpt)(ms.Tensor(images)).asnumpy()
    assert heatmaps.shape == (BATCH, 17, 16, 8)
    assert heatmaps.std() > 1e-3, "the test network should give heatmaps that vary"
    return images, heatmaps


def export_args(ckpt, name, file_format, *extra):
    return TINY + ["--eval_model_file", ckpt, "--EXPORT.FILE_NAME", str(name), "--EXPORT.FILE_FORMAT",
                   file_format, "--TEST.BATCH_SIZE", str(BATCH), *extra]


def assert_close(actual, expected, rel):
    """Equal within ``rel`` of the largest magnitude of ``expected``."""
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=rel, atol=rel * float(np.abs(expected).max()))


def test_mindir_equals_the_checkpoint_network(tiny_ckpt, reference, tmp_path):
    images, heatmaps = reference
    # FAST_CPU True on the command line: the export must still use the stock operators.
    assert export.main(export_args(tiny_ckpt, tmp_path / "tiny", "MINDIR", "--MODEL.FAST_CPU", "True")) == 0
    path = tmp_path / "tiny.mindir"
    assert path.is_file()
    graph = nn.GraphCell(ms.load(str(path)))
    assert_close(graph(ms.Tensor(images)).asnumpy(), heatmaps, 1e-5)


def test_mindir_input_shape_is_the_export_batch(tiny_ckpt, tmp_path):
    assert export.main(export_args(tiny_ckpt, tmp_path / "m.mindir", "MINDIR", "--TEST.BATCH_SIZE", "3")) == 0
    # An extension in EXPORT.FILE_NAME is not doubled.
    assert mindir_input_shape(str(tmp_path / "m.mindir")) == [3, 3, 64, 32]


@pytest.mark.slow
@pytest.mark.parametrize("kernels", [None, "[3,3,3]", "[2,2,2]"])
def test_onnx_runs_in_onnxruntime_and_equals_the_network(tiny_ckpt, reference, tmp_path, kernels):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    images, heatmaps = reference
    overrides = []
    if kernels:  # the other deconvolution kernels: asymmetric padding (3), no padding (2)
        overrides = ["--POSE_RESNET.NUM_DECONV_KERNELS", kernels]
        tiny_ckpt = make_tiny_checkpoint(tmp_path / "k.ckpt", 1, overrides)
        heatmaps = stock_network(tiny_ckpt, overrides)(ms.Tensor(images)).asnumpy()
    assert export.main(export_args(tiny_ckpt, tmp_path / "tiny", "ONNX", *overrides)) == 0
    path = str(tmp_path / "tiny.onnx")
    model = onnx.load(path)
    onnx.checker.check_model(model)
    deconvs = [n for n in model.graph.node if n.op_type == "ConvTranspose"]
    assert len(deconvs) == 3
    assert all("output_shape" not in [a.name for a in n.attribute] for n in deconvs)
    assert "MaxPool" in [n.op_type for n in model.graph.node]
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {session.get_inputs()[0].name: images})
    assert_close(output, heatmaps, 1e-4)


@pytest.mark.parametrize("mode", [ms.GRAPH_MODE, ms.PYNATIVE_MODE])
def test_exportable_max_pool_equals_the_padded_max_pool(mode):
    ms.set_context(mode=mode)
    ms.set_device("CPU")
    x = ms.Tensor(np.random.default_rng(0).normal(-5.0, 1.0, (2, 3, 9, 6)).astype(np.float32))  # all negative
    expected = nn.MaxPool2d(3, 2, pad_mode="pad", padding=1)(x).asnumpy()
    np.testing.assert_array_equal(ExportableMaxPool2d((3, 3), (2, 2), (1, 1))(x).asnumpy(), expected)
    ms.set_context(mode=ms.GRAPH_MODE)


def test_network_with_exportable_max_pool_is_unchanged(tiny_ckpt, reference):
    images, heatmaps = reference
    net = stock_network(tiny_ckpt)
    assert replace_padded_max_pools(net) == 1
    assert replace_padded_max_pools(net) == 0
    np.testing.assert_array_equal(net(ms.Tensor(images)).asnumpy(), heatmaps)


@pytest.mark.parametrize("in_size,out_size,kernel,pads,expected", [
    # The head's layers: kernel 4 / padding 1, kernel 3 / padding 1 + output padding 1, kernel 2.
    ([8, 6], [16, 12], [4, 4], [1, 1, 1, 1], ([1, 1, 1, 1], [0, 0])),
    ([8, 6], [16, 12], [3, 3], [1, 1, 1, 1], ([1, 1, 1, 1], [1, 1])),
    ([8, 6], [16, 12], [2, 2], [0, 0, 0, 0], ([0, 0, 0, 0], [0, 0])),
    # No pads given: chosen to fit, an odd pixel at the end.
    ([8, 6], [16, 12], [4, 4], [], ([1, 1, 1, 1], [0, 0])),
    ([8, 6], [16, 12], [3, 3], [], ([0, 0, 1, 1], [0, 0])),
])
def test_transpose_padding_hand_cases(in_size, out_size, kernel, pads, expected):
    assert transpose_padding(in_size, out_size, kernel, [2, 2], [1, 1], pads) == expected


def test_transpose_padding_rejects_an_impossible_shape():
    with pytest.raises(OnnxFixError, match="cannot produce"):
        transpose_padding([8], [20], [4], [2], [1], [1, 1])


def test_missing_onnx_package_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(MissingDependencyError, match="pip install onnx"):
        import_onnx()


def test_air_export_off_ascend_is_a_one_line_error(tiny_ckpt, tmp_path):
    out = run_script("export.py", export_args(tiny_ckpt, tmp_path / "tiny", "AIR"), cwd=str(tmp_path))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "AIR" in lines[0] and "Ascend" in lines[0], out.stderr
    assert "deprecated in MindSpore 2.10" in lines[0] and "MINDIR" in lines[0]
    assert "AIR export is deprecated" in out.stdout   # the warning an Ascend user sees before exporting
    assert not os.path.exists(tmp_path / "tiny.air")


@pytest.mark.parametrize("ckpt,words", [("", "--eval_model_file"), ("missing.ckpt", "missing.ckpt")])
def test_missing_checkpoint_is_a_clear_error(tmp_path, ckpt, words):
    args = TINY + (["--eval_model_file", str(tmp_path / ckpt)] if ckpt else [])
    out = run_script("export.py", args, cwd=str(tmp_path))
    assert out.returncode == 2
    assert out.stderr.startswith("error: ") and words in out.stderr, out.stderr
