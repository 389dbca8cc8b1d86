"""bench/int8_accuracy.py's ONNX Runtime network: fixed-batch sessions called with any number of crops."""
import mindspore as ms
import numpy as np
import onnx
from onnx import TensorProto, helper

from bench.int8_accuracy import OnnxNet


def doubling_model(path: str, batch: int) -> str:
    """An ONNX model of a fixed batch size that doubles its N×3×2×2 input."""
    node = helper.make_node("Add", ["x", "x"], ["y"])
    graph = helper.make_graph([node], "double", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 2, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 3, 2, 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_onnx_net_runs_more_and_fewer_crops_than_its_batch(tmp_path):
    # The flip test sends 2N crops in one call: a session exported for N must take them in slices.
    net = OnnxNet(doubling_model(str(tmp_path / "double.onnx"), 4), 4)
    for count in (1, 4, 5, 8, 11):
        crops = np.random.default_rng(count).standard_normal((count, 3, 2, 2)).astype(np.float32)
        out = net(ms.Tensor(crops)).asnumpy()
        assert out.shape == crops.shape
        np.testing.assert_array_equal(out, 2 * crops)
