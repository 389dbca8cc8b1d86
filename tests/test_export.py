"""export.py: MINDIR and ONNX files equal the checkpoint's network; AIR and bad input fail clearly.
The ONNX repairs themselves: test_onnx_fix.py."""
import os

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

import export
from src.deploy.mindir import mindir_input_shape
from src.model import get_pose_net
from src.model_utils.config import get_config
from tests.helpers import TINY_CONFIG, run_script

#: The tiny network (tests/tiny_config.yaml: 32×64 input, a multiple of the backbone's stride 32, so that
#: the 8×16 heatmaps are exactly a quarter of it); its random checkpoint is conftest's ``tiny_ckpt``.
TINY = ["--config_path", TINY_CONFIG]
BATCH = 2


def stock_network(ckpt_path=None, overrides=()):
    """The tiny network in eval mode with stock operators (the exported formulation)."""
    cfg = get_config(TINY + list(overrides))
    net = get_pose_net(cfg, is_train=False, ckpt_path=ckpt_path, fast_cpu=False)
    net.set_train(False)
    return net


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


@pytest.mark.numerics
def test_mindir_equals_the_checkpoint_network(tiny_ckpt, reference, tmp_path):
    images, heatmaps = reference
    # FAST_CPU True on the command line: the export must still use the stock operators.
    assert export.main(export_args(tiny_ckpt, tmp_path / "tiny", "MINDIR", "--MODEL.FAST_CPU", "True")) == 0
    path = tmp_path / "tiny.mindir"
    assert path.is_file()
    graph = nn.GraphCell(ms.load(str(path)))
    # equal bit for bit on AVX2 (Zen 3), natively and under ONEDNN_MAX_CPU_ISA=SSE41: the same stock operators at
    # the same batch; the tolerance is for a CPU or a graph compiler that fuses them otherwise
    assert_close(graph(ms.Tensor(images)).asnumpy(), heatmaps, 1e-5)


def test_mindir_input_shape_is_the_export_batch(tiny_ckpt, tmp_path):
    assert export.main(export_args(tiny_ckpt, tmp_path / "m.mindir", "MINDIR", "--TEST.BATCH_SIZE", "3")) == 0
    # An extension in EXPORT.FILE_NAME is not doubled.
    assert mindir_input_shape(str(tmp_path / "m.mindir")) == [3, 3, 64, 32]


@pytest.mark.slow
@pytest.mark.numerics
@pytest.mark.parametrize("kernels", [None, "[3,3,3]", "[2,2,2]"])
def test_onnx_runs_in_onnxruntime_and_equals_the_network(tiny_ckpt, reference, random_weights, tmp_path, kernels):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    images, heatmaps = reference
    overrides = []
    if kernels:  # the other deconvolution kernels: asymmetric padding (3), no padding (2)
        overrides = ["--POSE_RESNET.NUM_DECONV_KERNELS", kernels]
        tiny_ckpt = random_weights.checkpoint(*overrides, seed=1)
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
    # onnxruntime's kernels against MindSpore's: 7.9e-7 of the largest heatmap value at most on AVX2 (Zen 3)
    assert_close(output, heatmaps, 1e-4)


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
