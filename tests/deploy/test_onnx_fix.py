"""The ONNX repairs (src/deploy/onnx_fix.py): an exportable max-pool with the same values, and ConvTranspose nodes
rewritten so that onnxruntime gives the shape and values MindSpore meant. export.py's ONNX files: test_export.py."""
import sys

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from src.errors import MissingDependencyError, OnnxFixError
from src.model import get_pose_net
from src.model_utils.config import get_config
from src.deploy.onnx_fix import (ExportableMaxPool2d, fix_conv_transpose, import_onnx, mindspore_pads_to_onnx,
                                 replace_padded_max_pools, transpose_padding)
from tests.helpers import TINY_CONFIG
from tests.reference import loop_conv_transpose


@pytest.mark.parametrize("mode", [ms.GRAPH_MODE, ms.PYNATIVE_MODE])
def test_exportable_max_pool_equals_the_padded_max_pool(mode):
    ms.set_context(mode=mode)
    ms.set_device("CPU")
    x = ms.Tensor(np.random.default_rng(0).normal(-5.0, 1.0, (2, 3, 9, 6)).astype(np.float32))  # all negative
    expected = nn.MaxPool2d(3, 2, pad_mode="pad", padding=1)(x).asnumpy()
    np.testing.assert_array_equal(ExportableMaxPool2d((3, 3), (2, 2), (1, 1))(x).asnumpy(), expected)
    ms.set_context(mode=ms.GRAPH_MODE)


def test_network_with_exportable_max_pool_is_unchanged(tiny_ckpt):
    cfg = get_config(["--config_path", TINY_CONFIG])
    net = get_pose_net(cfg, is_train=False, ckpt_path=tiny_ckpt, fast_cpu=False)
    net.set_train(False)
    images = ms.Tensor(np.random.default_rng(1).normal(0, 1, (2, 3, 64, 32)).astype(np.float32))
    heatmaps = net(images).asnumpy()
    assert heatmaps.std() > 1e-3, "the test network should give heatmaps that vary"
    assert replace_padded_max_pools(net) == 1
    assert isinstance(net.maxpool, ExportableMaxPool2d)
    assert replace_padded_max_pools(net) == 0
    # Bit for bit: a maximum is exact whichever kernel takes it, and the layers around it are unchanged.
    np.testing.assert_array_equal(net(images).asnumpy(), heatmaps)


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


def test_mindspore_pads_are_reordered_for_onnx():
    assert mindspore_pads_to_onnx([1, 2, 3, 4]) == [1, 3, 2, 4]   # [top, bottom, left, right] → begins, ends
    assert mindspore_pads_to_onnx([1, 1]) == [1, 1]


@pytest.mark.numerics
def test_conv_transpose_node_is_rewritten_and_runs_in_onnxruntime():
    """A ConvTranspose as MindSpore writes it (N×C×H×W output_shape, pads in its own order, asymmetric):
    rewritten, onnxruntime gives the declared shape and PyTorch's values with the begin/end crops."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    helper = onnx.helper
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 4, 3)).astype(np.float32)
    w = rng.standard_normal((2, 3, 3, 3)).astype(np.float32)
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                            pads=[1, 0, 1, 0], output_shape=[1, 3, 8, 6])   # top 1, bottom 0, left 1, right 0
    graph = helper.make_graph([node], "deconv", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, x.shape)],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
                              [onnx.numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    assert fix_conv_transpose(model) == 1
    attrs = {a.name: helper.get_attribute_value(a) for a in model.graph.node[0].attribute}
    assert "output_shape" not in attrs and attrs["pads"] == [1, 1, 0, 0] and attrs["output_padding"] == [0, 0]
    assert fix_conv_transpose(model) == 0   # nothing left to repair
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": x})
    full = loop_conv_transpose(x, w, 2, 0, 0)   # 9×7 before the crops
    # onnxruntime's kernel against the float32 loop: measured at 1.2 % of this bound on AVX2 (Zen 3)
    np.testing.assert_allclose(y, full[:, :, 1:9, 1:7], rtol=1e-5, atol=1e-5)
