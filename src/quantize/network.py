"""A SimplePoseNet for inference in int8 or bf16 (or in float32 on the same operators, for calibration), built from a
float :class:`src.model.PoseResNet` (and, for int8, the calibrated activation ranges); the float network and its
checkpoint stay as they are.

The network is a list of layers (:func:`layer_plan`): each convolution with its BatchNorm folded, its ReLU and
residual addition fused, the max-pool, the transposed convolutions and the final convolution, named as in the
checkpoint (``conv1``, ``layer1.0.conv2``, ``layer1.0.down_sample_layer``, ``deconv_layers.deconv_0``,
``final_layer``). A quantized layer reads u8 (after a ReLU) or s8 activations and writes them for the next (or
float32 where only float layers read it); in bf16 a layer reads and writes bf16 in the same way; a float layer
(:data:`FLOAT_LAYERS`) reads and writes float32. Conversions are inserted where a layer's input has another type.
Activations are NHWC between the layers; the input is N×3×H×W float32 and the output N×J×Hh×Wh float32, as the
float network's.
"""
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from mindspore import Tensor, nn

from src.constants import DECONV_PADDING
from src.quantize import arithmetic as qa
from src.quantize.ops import QConv, QMaxPool, QReorder

#: Layers kept in float32 by default: measured on the demo network (docs/int8.md), quantizing the final 1×1
#: convolution, which writes the heatmaps, costs AP; quantizing the stem does not (trained demo network: AP 0.4351
#: against 0.4352 in float32), and in int8 it runs twice as fast, 7 % of the demo network's int8 time.
FLOAT_LAYERS = ("final_layer",)
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


#: How a layer computes: on integers (u8/s8 activations, int8 weights), in bf16 (float32 sums) or in float32.
INT8, BF16, FP32 = "int8", "bf16", "fp32"
#: The activations a layer computing in each way reads (int8: one of INTEGER_TYPES, by sign).
ACTIVATIONS = {BF16: "bfloat16", FP32: "float32"}
INTEGER_TYPES = ("uint8", "int8")


class Form(NamedTuple):
    """How a layer's output (or the network's input) is stored.

    Attributes:
        dtype: "float32", "uint8", "int8" or "bfloat16".
        scale: ``s`` of the quantized values (the scale it would have, where it is not an integer type).
        signed: the values may be negative (no ReLU ends the layer).
        compute: how the layer computes (:data:`INT8`, :data:`BF16` or :data:`FP32`).
    """
    dtype: str
    scale: float
    signed: bool
    compute: str

    @property
    def quantized(self) -> bool:
        """The layer computes in int8."""
        return self.compute == INT8

    @property
    def integer(self) -> bool:
        """The values are stored as integers (``s·q``)."""
        return self.dtype in INTEGER_TYPES


def reads(compute: str, signed: bool) -> str:
    """The activation type a layer computing as ``compute`` reads, for values that may be negative or not."""
    if compute == INT8:
        return "int8" if signed else "uint8"
    return ACTIVATIONS[compute]


def output_forms(plan: Sequence[Layer], ranges: Optional[Dict[str, float]], float_layers: Sequence[str],
                 precision: str = INT8) -> Tuple[Form, List[Form]]:
    """The form of the network's input and of each layer's output.

    Layers but ``float_layers`` compute at ``precision`` (:data:`INT8` with ``ranges``, :data:`BF16` or
    :data:`FP32`; ``ranges`` None turns int8 into float32, the calibration's program). A layer writes what the
    layers reading it read where they compute as it does (u8 after a ReLU or s8; bf16), else float32; a max-pool
    keeps its input's form.
    """
    if precision not in (INT8, BF16, FP32):
        raise ValueError(f"precision {precision!r}: {INT8}, {BF16} or {FP32}")
    quantized = precision == INT8 and ranges is not None

    def scale(name: str, signed: bool) -> float:
        return qa.activation_scale(ranges[name], "int8" if signed else "uint8") if quantized else 1.0

    reduced = precision if precision != INT8 or quantized else FP32
    compute = [reduced if layer.name not in float_layers else FP32 for layer in plan]
    for i, layer in enumerate(plan):
        if layer.kind == "pool":
            compute[i] = compute[layer.source]
    forms: List[Form] = []
    for i, layer in enumerate(plan):
        if layer.kind == "pool":
            forms.append(forms[layer.source])
            continue
        signed = not layer.relu
        same = any(compute[j] == compute[i] for j, other in enumerate(plan) if i in (other.source, other.residual))
        dtype = reads(compute[i], signed) if same else "float32"
        forms.append(Form(dtype, scale(layer.name, signed), signed, compute[i]))
    return Form("float32", scale(INPUT, True), True, FP32), forms


class QuantizedPoseNet(nn.Cell):
    """The network of :func:`layer_plan` on the int8 operators, in int8 or in bf16.

    Args:
        net: the float network (weights loaded; it is only read).
        library: the compiled int8 operators.
        ranges: for int8, layer name (and :data:`INPUT`) -> the calibrated range max|x| of its output; None runs
            every layer in float32 (the reference the calibration records).
        float_layers: names of layers kept in float32.
        precision: :data:`INT8` (the default), :data:`BF16` (float32 sums; no ``ranges``) or :data:`FP32`.
        vnni: the CPU's int8 kernels multiply with VNNI (the weight grid, :func:`src.quantize.arithmetic.weight_grid`).
        record: return every layer's output (``[N×H×W×C …]`` in their own types) instead of the heatmaps.

    The network runs as a program: a list of Cells, each with the slots of its arguments (slot 0 the input, slot
    k + 1 the k-th Cell's output), the layers' in order with a conversion (:class:`QReorder`) before a layer whose
    input has another type than it reads (float32, integers or bf16), made once per value and type.

    Inputs:
        - **x** (Tensor) - N×3×H×W float32, normalised.

    Outputs:
        Tensor N×J×Hh×Wh float32 (or, with ``record``, a tuple of every layer's output).
    """

    def __init__(self, net: nn.Cell, library: str, ranges: Optional[Dict[str, float]],
                 float_layers: Sequence[str] = FLOAT_LAYERS, vnni: bool = False, record: bool = False,
                 precision: str = INT8) -> None:
        super().__init__()
        self.plan = layer_plan(net)
        self.record = record
        self.library, self.vnni = library, vnni
        if precision != INT8 and ranges is not None:
            raise ValueError(f"activation ranges are for int8, not {precision}")
        self.input_form, self.forms = output_forms(self.plan, ranges, float_layers, precision)
        self.cells_list: List[nn.Cell] = []
        self.args: List[Tuple[int, ...]] = []
        self.layer_slots: List[int] = []
        self._converted: Dict[Tuple[int, str], int] = {}
        for i, layer in enumerate(self.plan):
            if layer.kind == "pool":
                self._add(QMaxPool(library, 3, 2, 1, self.forms[layer.source].dtype), (self._slot(layer.source),))
            else:
                self._add_conv(i, layer)
            self.layer_slots.append(len(self.cells_list))
        self.steps = nn.CellList(self.cells_list)
        del self.cells_list
        # the float network's Cells are not needed any more: without them its float weights can be freed
        self.plan = [layer._replace(conv=None, bn=None) for layer in self.plan]

    def _form(self, index: int) -> Form:
        return self.input_form if index == -1 else self.forms[index]

    def _slot(self, index: int) -> int:
        return 0 if index == -1 else self.layer_slots[index]

    def _add(self, cell: nn.Cell, args: Tuple[int, ...]) -> int:
        self.cells_list.append(cell)
        self.args.append(args)
        return len(self.cells_list)

    def _value(self, index: int, compute: str) -> int:
        """The slot holding the output of layer ``index`` (−1: the input) as a layer computing as ``compute`` reads
        it."""
        form = self._form(index)
        dtype = reads(compute, form.signed)
        if form.dtype == dtype:
            return self._slot(index)
        if (index, dtype) not in self._converted:
            # the input arrives N×C×H×W, activations are N×H×W×C
            cell = QReorder(self.library, index != -1, True, form.scale if form.integer else 1.0,
                            form.scale if dtype in INTEGER_TYPES else 1.0, dtype)
            self._converted[(index, dtype)] = self._add(cell, (self._slot(index),))
        return self._converted[(index, dtype)]

    def _add_conv(self, i: int, layer: Layer) -> None:
        form, source = self.forms[i], self._form(layer.source)
        src = self._value(layer.source, form.compute)
        args = (src,)
        if layer.residual != -2:  # added to the output, in its type
            args += (self._value(layer.residual, form.compute if form.dtype != "float32" else FP32),)
        weight, bias = folded_weights(layer)
        w_scale = np.ones(bias.shape, np.float32)
        if form.quantized:
            grid = qa.weight_grid(self.vnni, source.signed)
            weight, w_scale = qa.quantize_weights(weight, 1 if layer.kind == "deconv" else 0, grid)
        self._add(QConv(self.library, weight, bias, w_scale, relu=layer.relu, residual=len(args) == 2,
                        src_nhwc=src != 0, dst_nhwc=i != len(self.plan) - 1,
                        src_scale=source.scale if form.quantized else 1.0,
                        dst_scale=form.scale if form.integer else 1.0,
                        res_scale=self._form(layer.residual).scale if len(args) == 2 and form.integer else 1.0,
                        out_dtype=form.dtype, **_geometry(layer)), args)

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
        for layer, out, form in zip(self.plan, outputs, self.forms):
            array = out.float().asnumpy() if form.dtype == "bfloat16" else out.asnumpy()  # NumPy has no bf16
            real = array.astype(np.float32) * np.float32(form.scale) if form.integer else array.astype(np.float32)
            values[layer.name] = real if real.ndim != 4 or layer.name == "final_layer" else real.transpose(0, 3, 1, 2)
        return values
