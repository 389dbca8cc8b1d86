"""Repairs of MindSpore's ONNX export, so that standard runtimes load and run the file.

Two problems of MindSpore 2.10's ONNX exporter, one on each side of ``mindspore.export``:

* Before: ``nn.MaxPool2d(pad_mode='pad')`` (the stem's max-pool, PyTorch padding) becomes
  ``MaxPool3DWithArgmax``, which the exporter cannot write. :func:`replace_padded_max_pools`
  swaps each for :class:`ExportableMaxPool2d`: zero ``Pad``, then the most negative float32
  added on the padded border, then a ``valid`` max-pool; the same values as −∞ padding, bit for
  bit, since every window holds at least one input pixel.
* After: each ``ConvTranspose`` carries an ``output_shape`` attribute holding the whole
  N×C×H×W output shape; the ONNX operator expects only the spatial dims there, and
  onnxruntime refuses the model ("Attribute output_shape has incorrect size"). Its ``pads``
  are in MindSpore's order ``[top, bottom, left, right]``, not ONNX's ``[top, left, bottom,
  right]`` (this matters for the asymmetric padding of a kernel-3 head).
  :func:`fix_conv_transpose` writes what MindSpore meant: ``pads`` in ONNX order, and the
  ``output_padding`` (in place of ``output_shape``) that makes the ONNX output-size formula

      out = stride · (in − 1) + dilation · (kernel − 1) + 1 − pad_begin − pad_end + output_padding

  give the shape MindSpore declared. The input sizes come from ONNX shape inference, so the
  graph needs static shapes (export.py exports a fixed batch).

The ``onnx`` package is an optional dependency, needed only for the second step.
"""
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
from mindspore import Tensor, nn, ops

from src.errors import OnnxFixError, import_optional

#: Added on the padded border of a max-pool input: below any float32 input value.
_FLOAT32_LOWEST = float(np.finfo(np.float32).min)


def import_onnx() -> Any:
    return import_optional("onnx", "ONNX export", "pip install onnx (and onnxruntime to run the file)")


class ExportableMaxPool2d(nn.Cell):
    """Max-pool with −∞ padding on both sides of each axis, from operators the ONNX exporter knows.

    Args:
        kernel_size, stride: ``(along H, along W)``.
        padding: ``(along H, along W)``, each at most half the kernel (as PyTorch requires).

    Inputs:
        - **x** (Tensor) - N×C×H×W float32.

    Outputs:
        Tensor of shape N×C×Ho×Wo, ``Ho = (H + 2·pad_h − k_h) // s_h + 1``, equal to
        ``nn.MaxPool2d(kernel_size, stride, pad_mode='pad', padding=padding)``.
    """

    def __init__(self, kernel_size: Tuple[int, int], stride: Tuple[int, int], padding: Tuple[int, int]) -> None:
        super().__init__()
        pad_h, pad_w = padding
        self.pad = ops.Pad(((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)))
        self.pool = nn.MaxPool2d(kernel_size, stride, pad_mode="valid")

    def construct(self, x: Tensor) -> Tensor:
        border = 1.0 - self.pad(ops.ones((1, 1, x.shape[2], x.shape[3]), x.dtype))
        return self.pool(self.pad(x) + border * _FLOAT32_LOWEST)


def _spatial_pair(value: Any) -> Tuple[int, int]:
    """An int, or the last two entries of a tuple (MindSpore keeps 3-D pads for its 2-D pool)."""
    if isinstance(value, int):
        return value, value
    return int(value[-2]), int(value[-1])


def replace_padded_max_pools(net: nn.Cell) -> int:
    """Swaps every ``nn.MaxPool2d(pad_mode='pad')`` inside ``net`` for :class:`ExportableMaxPool2d`.

    Returns:
        The number of cells replaced.

    Raises:
        OnnxFixError: a padded max-pool with dilation or ``ceil_mode``, which the swap does not cover.
    """
    found = []
    for _, parent in net.cells_and_names():
        for name, child in parent.name_cells().items():
            if isinstance(child, nn.MaxPool2d) and str(getattr(child, "pad_mode", "")).upper() == "PAD":
                found.append((parent, name, child))
    for parent, name, child in found:
        attrs = getattr(getattr(child, "max_pool", None), "attrs", {}) or {}
        dilation = attrs.get("dilation", (1, 1, 1))
        if any(int(d) != 1 for d in np.ravel(dilation)) or attrs.get("ceil_mode", False):
            raise OnnxFixError(f"max-pool '{name}' uses dilation or ceil_mode, which ONNX export does not support")
        pool = ExportableMaxPool2d(_spatial_pair(child.kernel_size), _spatial_pair(child.stride),
                                   _spatial_pair(child.padding))
        parent.insert_child_to_cell(name, pool)
    return len(found)


def _attrs(node: Any) -> Dict[str, Any]:
    onnx = import_onnx()
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _set_attr(node: Any, name: str, value: Any) -> None:
    onnx = import_onnx()
    _drop_attr(node, name)
    node.attribute.append(onnx.helper.make_attribute(name, value))


def _drop_attr(node: Any, name: str) -> None:
    kept = [a for a in node.attribute if a.name != name]
    del node.attribute[:]
    node.attribute.extend(kept)


def _spatial_shape(model: Any, tensor: str, rank: int) -> List[int]:
    """Static spatial dims of ``tensor`` (rank ``rank`` + 2) from ONNX shape inference."""
    onnx = import_onnx()
    inferred = onnx.shape_inference.infer_shapes(model)
    infos = list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
    for info in infos:
        if info.name == tensor:
            dims = [d.dim_value if d.HasField("dim_value") else None for d in info.type.tensor_type.shape.dim]
            if len(dims) == rank + 2 and all(d is not None for d in dims[2:]):
                return [int(d) for d in dims[2:]]
    raise OnnxFixError(f"shape inference gave no static shape for '{tensor}', the input of a ConvTranspose; "
                       f"export with a fixed input shape")


def transpose_padding(in_size: Sequence[int], out_size: Sequence[int], kernel: Sequence[int],
                      strides: Sequence[int], dilations: Sequence[int],
                      pads: Sequence[int] = ()) -> Tuple[List[int], List[int]]:
    """``(pads, output_padding)`` of a transposed convolution giving ``out_size``.

    Args:
        in_size, out_size, kernel, strides, dilations: per spatial axis (D values).
        pads: ONNX order ``[begin_1..begin_D, end_1..end_D]``; when empty, the
            padding is chosen (split evenly, any odd pixel at the end).

    Returns:
        ``pads`` (2D values) and ``output_padding`` (D values).

    Raises:
        OnnxFixError: no ``output_padding`` in ``[0, max(stride, dilation))`` fits.
    """
    rank = len(in_size)
    natural = [s * (i - 1) + d * (k - 1) + 1 for i, k, s, d in zip(in_size, kernel, strides, dilations)]
    if pads:
        pads = [int(p) for p in pads]
    else:
        total = [max(n - o, 0) for n, o in zip(natural, out_size)]
        pads = [t // 2 for t in total] + [t - t // 2 for t in total]
    output_padding = [o - (n - pads[a] - pads[a + rank]) for a, (n, o) in enumerate(zip(natural, out_size))]
    for a, extra in enumerate(output_padding):
        if not 0 <= extra < max(strides[a], dilations[a]):
            raise OnnxFixError(f"a ConvTranspose with input {list(in_size)}, kernel {list(kernel)}, strides "
                               f"{list(strides)} and pads {pads} cannot produce the declared output "
                               f"{list(out_size)}")
    return pads, output_padding


def mindspore_pads_to_onnx(pads: Sequence[int]) -> List[int]:
    """MindSpore writes a ConvTranspose's ``pads`` in its own order, ``[top, bottom, left, right]``;
    ONNX wants ``[top, left, bottom, right]`` (all begins, then all ends)."""
    pads = [int(p) for p in pads]
    if len(pads) != 4:
        return pads
    top, bottom, left, right = pads
    return [top, left, bottom, right]


def fix_conv_transpose(model: Any) -> int:
    """Rewrites every ``ConvTranspose`` of ``model`` in place (see the module docstring).

    Returns:
        The number of nodes rewritten.
    """
    nodes = [n for n in model.graph.node if n.op_type == "ConvTranspose"]
    targets = {}
    # Drop every output_shape first: shape inference must be able to walk the whole graph.
    for node in nodes:
        attrs = _attrs(node)
        if "output_shape" in attrs:
            targets[id(node)] = [int(v) for v in attrs["output_shape"]]
            _drop_attr(node, "output_shape")
    for node in nodes:
        if id(node) not in targets:
            continue
        attrs = _attrs(node)
        kernel = [int(k) for k in attrs["kernel_shape"]]
        rank = len(kernel)
        target = targets[id(node)]
        # MindSpore writes N×C×spatial; the ONNX form is spatial only.
        out_size = target[2:] if len(target) == rank + 2 else target
        strides = [int(s) for s in attrs.get("strides", [1] * rank)]
        dilations = [int(d) for d in attrs.get("dilations", [1] * rank)]
        in_size = _spatial_shape(model, node.input[0], rank)
        pads = mindspore_pads_to_onnx(attrs.get("pads", ()))
        pads, output_padding = transpose_padding(in_size, out_size, kernel, strides, dilations, pads)
        _drop_attr(node, "auto_pad")
        _set_attr(node, "pads", pads)
        _set_attr(node, "output_padding", output_padding)
    return len(targets)
