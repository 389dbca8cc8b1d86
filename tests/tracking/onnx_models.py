"""Tiny ONNX "detectors" for the detector's tests: constant outputs of a chosen layout, plus (optionally)
the mean of one input channel added where a mask says, so that the input the detector was given
(channel order, scaling, padding) shows in its output."""
from typing import Dict, Optional, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def write_detector(path: str, output: np.ndarray, input_shape: Sequence = (1, 3, 64, 96),
                   mean_mask: Optional[np.ndarray] = None, metadata: Optional[Dict[str, str]] = None,
                   half: bool = False, extra_outputs: Sequence[np.ndarray] = ()) -> str:
    """Writes a model whose first output is ``output + mean(input[:, 0]) × mean_mask``.

    Args:
        path: File to write.
        output: The constant first output (float32, any shape).
        input_shape: ``[1, 3, H, W]``; strings for dynamic dimensions.
        mean_mask: Same shape as ``output`` (None: zeros); the input's first channel mean is scaled
            by it and added.
        metadata: Metadata properties, as exporters store them.
        half: A float16 input (cast to float inside).
        extra_outputs: Further constant outputs.

    Returns:
        ``path``.
    """
    output = np.asarray(output, np.float32)
    mask = np.zeros_like(output) if mean_mask is None else np.asarray(mean_mask, np.float32)
    inits = [numpy_helper.from_array(output, "constant"), numpy_helper.from_array(mask, "mask"),
             numpy_helper.from_array(np.array(0, np.int64), "channel")]
    nodes = []
    image = "images"
    if half:
        nodes.append(helper.make_node("Cast", ["images"], ["images_float"], to=TensorProto.FLOAT))
        image = "images_float"
    nodes += [helper.make_node("ReduceMean", [image], ["means"], axes=[2, 3], keepdims=1),   # 1×3×1×1
              helper.make_node("Gather", ["means", "channel"], ["mean0"], axis=1),           # 1×1×1
              helper.make_node("Mul", ["mean0", "mask"], ["scaled"]),
              helper.make_node("Add", ["constant", "scaled"], ["output0"])]
    outputs = [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output.shape))]
    for i, extra in enumerate(extra_outputs):
        name = f"extra{i}"
        inits.append(numpy_helper.from_array(np.asarray(extra, np.float32), f"{name}_value"))
        nodes.append(helper.make_node("Identity", [f"{name}_value"], [name]))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(np.shape(extra))))
    graph = helper.make_graph(nodes, "detector", [helper.make_tensor_value_info(
        "images", TensorProto.FLOAT16 if half else TensorProto.FLOAT, list(input_shape))], outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    for key, value in (metadata or {}).items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path
