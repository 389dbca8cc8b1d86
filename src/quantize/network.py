"""A SimplePoseNet for inference in int8 (or in float32 on the same operators, for calibration), built from a float
:class:`src.model.PoseResNet` and the calibrated activation ranges; the float network and its checkpoint stay as
they are.

The network is a list of layers (:func:`layer_plan`): each convolution with its BatchNorm folded, its ReLU and
residual addition fused, the max-pool, the transposed convolutions and the final convolution, named as in the
checkpoint (``conv1``, ``layer1.0.conv2``, ``layer1.0.down_sample_layer``, ``deconv_layers.deconv_0``,
``final_layer``). A quantized layer reads u8 (after a ReLU) or s8 activations and writes them for the next (or
float32 where only float layers read it); a float layer (:data:`FLOAT_LAYERS`) reads and writes float32.
Conversions between the two are inserted where a layer's input has the other form. Activations are NHWC
between the layers; the input is N×3×H×W float32 and the output N×J×Hh×Wh float32, as the float network's.
"""
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from mindspore import Tensor, nn

from src.constants import DECONV_PADDING
from src.quantize import arithmetic as qa
from src.quantize.ops import QConv, QMaxPool, QReorder

#: Layers kept in float32 by default: measured on the demo network (docs/int8.md), quantizing the final 1×1
#: convolution, which writes the heatmaps, costs AP; it and the stem are a small part of the work.
FLOAT_LAYERS = ("conv1", "final_layer")
#: The network's input in the calibration file.
INPUT = "input"


class Layer(NamedTuple):
    """One step of the network.

    Attributes:
        name: the layer's name in the checkpoint (a convolution's, without ``.weight``).
        kind: "conv", "deconv" or "pool".
        source: index of the layer whose output is the input (−1: the network's input).
        residual: index of the layer whose output is added before the ReLU (−2: none; −1: the network's input).
        relu: a ReLU ends the layer.
        conv, bn: the float network's Cells (None for the pool, or where there is no BatchNorm).
    """
    name: str
    kind: str
    source: int
    residual: int
    relu: bool
    conv: Optional[nn.Cell]
    bn: Optional[nn.Cell]


def layer_plan(net: nn.Cell) -> List[Layer]:
    """The layers of a :class:`src.model.PoseResNet`, in the order they run."""
    plan: List[Layer] = []

    def add(name, kind, source, conv=None, bn=None, relu=False, residual=-2) -> int:
        plan.append(Layer(name, kind, source, residual, relu, conv, bn))
        return len(plan) - 1

    last = add("conv1", "conv", -1, net.conv1, net.bn1, relu=True)
    last = add("maxpool", "pool", last)
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        for i, block in enumerate(getattr(net, stage)):
            prefix = f"{stage}.{i}"
            identity = last
            if block.down_sample_layer is not None:
                identity = add(f"{prefix}.down_sample_layer", "conv", last, block.down_sample_layer[0],
                               block.down_sample_layer[1])
            convs = [name for name in ("conv1", "conv2", "conv3") if hasattr(block, name)]
            out = last
            for j, name in enumerate(convs):
                final = j == len(convs) - 1
                out = add(f"{prefix}.{name}", "conv", out, getattr(block, name), getattr(block, f"bn{name[-1]}"),
                          relu=True, residual=identity if final else -2)
            last = out
    for name, cell in net.deconv_layers.name_cells().items():
        last = add(f"deconv_layers.{name}", "deconv", last, cell.deconv, cell.bn, relu=True)
    add("final_layer", "conv", last, net.final_layer)
    return plan


def folded_weights(layer: Layer) -> Tuple[np.ndarray, np.ndarray]:
    """The layer's float weights and bias with its BatchNorm folded in (MindSpore's weight layout)."""
    conv = layer.conv
    weight = conv.weight.asnumpy()
    bias = conv.bias.asnumpy() if conv.bias is not None else None
    out_axis = 1 if layer.kind == "deconv" else 0
    if layer.bn is None:
        return weight.astype(np.float32), (np.zeros(weight.shape[out_axis], np.float32) if bias is None else bias)
    bn = layer.bn
    return qa.fold_batchnorm(weight, bias, bn.gamma.asnumpy(), bn.beta.asnumpy(), bn.moving_mean.asnumpy(),
                             bn.moving_variance.asnumpy(), float(bn.eps), out_axis)


def _geometry(layer: Layer) -> Dict[str, int]:
    kernel = int(layer.conv.weight.shape[2])
    if layer.kind == "deconv":
        pad, output_padding = DECONV_PADDING[kernel]
        return dict(kernel=kernel, stride=2, pad=pad, output_padding=output_padding, deconv=True)
    return dict(kernel=kernel, stride=int(layer.conv.stride_hw[0]), pad=int(layer.conv.padding_hw[0]))


class QuantizedPoseNet(nn.Cell):
    """The network of :func:`layer_plan` on the int8 operators.

    Args:
        net: the float network (weights loaded; it is only read).
        library: the compiled int8 operators.
        ranges: layer name (and :data:`INPUT`) -> the calibrated range max|x| of its output; None runs every
            layer in float32 (the reference the calibration records).
        float_layers: names of layers kept in float32.
        vnni: the CPU's int8 kernels multiply with VNNI (the weight grid, :func:`src.quantize.arithmetic.weight_grid`).
        record: return every layer's output (``[N×H×W×C …]`` in their own types) instead of the heatmaps.

    Inputs:
        - **x** (Tensor) - N×3×H×W float32, normalised.

    Outputs:
        Tensor N×J×Hh×Wh float32 (or, with ``record``, a tuple of every layer's output).
    """

    def __init__(self, net: nn.Cell, library: str, ranges: Optional[Dict[str, float]],
                 float_layers: Sequence[str] = FLOAT_LAYERS, vnni: bool = False, record: bool = False) -> None:
        super().__init__()
        self.plan = layer_plan(net)
        self.record = record
        quantized = [ranges is not None and layer.name not in float_layers for layer in self.plan]
        # the form of each layer's output: its type, scale, signedness; pools take their input's
        types, scales, signed = [], [], []
        consumers = [[j for j, other in enumerate(self.plan) if i in (other.source, other.residual)]
                     for i in range(len(self.plan))]
        for i, layer in enumerate(self.plan):
            if layer.kind == "pool":
                types.append(types[layer.source])
                scales.append(scales[layer.source])
                signed.append(signed[layer.source])
                quantized[i] = quantized[layer.source]
                continue
            is_signed = not layer.relu
            kind = "int8" if is_signed else "uint8"
            readers = consumers[i]
            if quantized[i] and readers and any(quantized[j] for j in readers):
                types.append(kind)
                scales.append(qa.activation_scale(ranges[layer.name], kind))
            else:
                types.append("float32")
                scales.append(qa.activation_scale(ranges[layer.name], kind) if ranges is not None else 1.0)
            signed.append(is_signed)
        input_scale = qa.activation_scale(ranges[INPUT], "int8") if ranges is not None else 1.0
        # the program: cells and the slots of their arguments; slot 0 is the input, slot k+1 the k-th cell's output
        cells, args, self.layer_slots = [], [], []
        converted: Dict[Tuple[int, str], int] = {}

        def slot_of(index: int) -> int:
            return 0 if index == -1 else self.layer_slots[index]

        def form(index: int, want: str) -> int:
            """The slot holding layer ``index``'s output (−1: the input) as ``want`` ("float32" or "int")."""
            have = "float32" if index == -1 else types[index]
            if (have == "float32") == (want == "float32"):
                return slot_of(index)
            key = (index, want)
            if key not in converted:
                src_nhwc = index != -1
                if want == "float32":
                    cell = QReorder(library, True, True, scales[index], 1.0, "float32")
                else:
                    is_signed = True if index == -1 else signed[index]
                    scale = input_scale if index == -1 else scales[index]
                    cell = QReorder(library, src_nhwc, True, 1.0, scale, "int8" if is_signed else "uint8")
                cells.append(cell)
                args.append((slot_of(index),))
                converted[key] = len(cells)
            return converted[key]

        for i, layer in enumerate(self.plan):
            if layer.kind == "pool":
                cells.append(QMaxPool(library, 3, 2, 1, types[layer.source]))
                args.append((slot_of(layer.source),))
                self.layer_slots.append(len(cells))
                continue
            want = "int" if quantized[i] else "float32"
            source = form(layer.source, want)
            residual = () if layer.residual == -2 else (form(layer.residual, "int" if types[i] != "float32" else "float32"),)
            weight, bias = folded_weights(layer)
            in_type = "float32" if not quantized[i] else ("int8" if (layer.source == -1 or signed[layer.source]) else "uint8")
            if quantized[i]:
                grid = qa.weight_grid(vnni, in_type == "int8")
                weight, w_scale = qa.quantize_weights(weight, 1 if layer.kind == "deconv" else 0, grid)
                src_scale = input_scale if layer.source == -1 else scales[layer.source]
            else:
                w_scale, src_scale = np.ones(bias.shape, np.float32), 1.0
            res_scale = 1.0 if layer.residual == -2 else (input_scale if layer.residual == -1 else scales[layer.residual])
            src_nhwc = not (layer.source == -1 and source == 0)
            cells.append(QConv(library, weight, bias, w_scale, relu=layer.relu, residual=bool(residual),
                               src_nhwc=src_nhwc, dst_nhwc=i != len(self.plan) - 1, src_scale=src_scale,
                               dst_scale=scales[i] if types[i] != "float32" else 1.0, res_scale=res_scale,
                               out_dtype=types[i], **_geometry(layer)))
            args.append((source,) + residual)
            self.layer_slots.append(len(cells))
        self.steps = nn.CellList(cells)
        self.args = args
        self.types, self.scales = types, scales

    def construct(self, x: Tensor):
        slots = [x]
        for cell, arg in zip(self.steps, self.args):
            if len(arg) == 1:
                slots.append(cell(slots[arg[0]]))
            else:
                slots.append(cell(slots[arg[0]], slots[arg[1]]))
        if self.record:
            return tuple(slots[s] for s in self.layer_slots)
        return slots[-1]

    def layer_values(self, outputs: Sequence[Tensor]) -> Dict[str, np.ndarray]:
        """Each layer's recorded output (``record``) as real values: N×C×H×W float32 arrays by layer name."""
        values = {}
        for layer, out, kind, scale in zip(self.plan, outputs, self.types, self.scales):
            array = out.asnumpy()
            real = array if kind == "float32" else array.astype(np.float32) * np.float32(scale)
            values[layer.name] = real if real.ndim != 4 or layer.name == "final_layer" else real.transpose(0, 3, 1, 2)
        return values
