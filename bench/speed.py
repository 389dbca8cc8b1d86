"""CPU throughput of SimplePoseNet: the CPU fast path against PyTorch, measured side by side.

    python -m bench.speed [--tasks infer,train] [--contenders fast,torch,onnx] [--rounds 7] [--warmup 2]
                          [--num_layers 50] [--deconv_filters 256] [--batch 8] [--height 256 --width 192]
                          [--mode GRAPH|PYNATIVE] [--torch_path SITE_PACKAGES] [--peak_gflops G] [--threads N]
                          [--max_isa AVX2|AVX512_CORE|...]

Contenders: ``fast`` (this project, ``MODEL.FAST_CPU True``: the oneDNN operators where they build, else
im2col), ``fast-nchw`` (the oneDNN operators with training passing N×C×H×W between layers through MindSpore's
BatchNorm instead of N×H×W×C through the project's: the training path before; its inference is ``fast``'s),
``fast-direct`` (the oneDNN operators with every convolution on oneDNN's direct kernels, in inference and in
training, ``POSE_ONEDNN_WINOGRAD=0``: the path before Winograd),
``im2col`` (``MODEL.FAST_CPU im2col``), ``stock`` (this project on MindSpore's stock operators, slow
on the CPU: give it few rounds), ``torch`` (the reference's PoseResNet in PyTorch, ``bench/reference.py``,
with the same weights; skipped with a note when PyTorch cannot be imported), ``onnx`` (inference only: ONNX
Runtime running the project's ONNX export of the same weights, as ``export.py --EXPORT.FILE_FORMAT ONNX``
writes it), ``int8`` (inference only: the project's int8 network, ``MODEL.PRECISION int8``, calibrated on the
timed batch itself; docs/int8.md), ``onnx-int8`` (inference only: ONNX Runtime's static quantization of that
ONNX export, ``quantize_static`` QDQ, per-channel int8 weights, u8 activations, opset 13, calibrated on the same
batch; :func:`onnx_int8_model`), ``bf16`` (inference only: the project's network on the same operators in bf16,
``MODEL.PRECISION bf16``; on an AVX-512 CPU without avx512_bf16 oneDNN emulates it, which the setting refuses: the
bench says so and measures it; on AVX2 it is skipped with a note). PyTorch is not a
requirement of the project: ``--torch_path`` appends the ``site-packages`` of another environment to
``sys.path`` (after this one's, so this environment's NumPy is the one loaded).

Inference is a forward pass in eval mode (PyTorch: ``torch.inference_mode``). Training is one step
as ``train.py`` runs it on the CPU: ``TrainStep(WithLossCell(net, JointsMSELoss(True)), nn.Adam)``;
PyTorch: forward, the same loss, backward, ``torch.optim.Adam``. All contenders of a task get the
same weights and the same random batch; after ``--warmup`` untimed calls each (the first compiles),
their calls alternate for ``--rounds`` rounds, each round starting with the next contender, so the load of other jobs on the machine falls on all
alike. Prints per contender the median images/s, seconds per batch, GFLOP/s and the fraction of
``--peak_gflops`` (by default the best rate of NumPy's float32 matrix product on this CPU, measured first), and
per task the median of the per-round ratios fast / other (> 1: the fast path is faster). GFLOP counts the convolutions' multiply-adds (×2) of a forward pass; a training step
counts three times that (forward, input gradient, weight gradient). With ``POSE_ONEDNN_PROFILE=1`` the oneDNN
operators' wall times per operator and shape, of the timed rounds only (the warm-up's forgotten), print at exit.

The first line names the instruction set oneDNN dispatches to (MindSpore's stock operators and the project's
oneDNN operators alike), since every figure depends on it. ``--max_isa AVX2`` caps it for the contenders
(``ONEDNN_MAX_CPU_ISA``, and ``ATEN_CPU_CAPABILITY=avx2`` for PyTorch), so a machine with AVX-512 measures what an
AVX2 machine would run (ONNX Runtime picks its kernels from the CPU alone: compare against it on an AVX2 machine).
"""
import argparse
import ctypes
import logging
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn

from bench.reference import torch_pose_resnet
from src.convert import convert_state_dict
from src.model import PoseResNet
from src.network import onednn
from src.network.cpu_path import WINOGRAD_ENV, CpuPath, Layout, cpu_path
from src.network.fast_ops import Conv2dTranspose
from src.network.onednn.isa import (ISA_ALIASES, ISA_NAMES, MAX_ISA_ENV, describe_cpu_isa, effective_isa, has_bf16,
                                    isa_name, runs_bf16)
from src.network.weights import load_parameters
from src.network_define import JointsMSELoss, WithLossCell
from src.training.train_step import TrainStep

NUM_JOINTS = 17
DECONV_FILTERS, DECONV_KERNELS = (256, 256, 256), (4, 4, 4)
#: Side of the square float32 matrix product that measures the CPU's attainable rate (``--peak_gflops 0``).
PEAK_MATRIX = 3072
LEARNING_RATE = 1e-3
#: glibc settings under which freed memory stays with the process: PyTorch's CPU tensors come from
#: malloc, which maps each large tensor afresh and gives it back when freed, so that every step pays
#: the page faults of its activations (on a virtual machine that backs memory lazily, up to 8x the
#: time of a 1x1 convolution). MindSpore keeps its own memory pool, so only PyTorch changes.
WARM_MALLOC = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(1 << 40), "MALLOC_TOP_PAD_": str(1 << 28)}


#: ``--max_isa`` values: oneDNN's names (``ONEDNN_MAX_CPU_ISA``).
MAX_ISAS = tuple(ISA_NAMES.values()) + ISA_ALIASES


def isa_env(max_isa: str) -> Dict[str, str]:
    """The environment that caps the contenders at ``max_isa`` (empty: no cap): oneDNN's cap, and PyTorch's
    own kernels' (``ATEN_CPU_CAPABILITY``) at AVX2."""
    if not max_isa:
        return {}
    env = {MAX_ISA_ENV: max_isa.upper()}
    if max_isa.upper() == "AVX2":
        env["ATEN_CPU_CAPABILITY"] = "avx2"
    return env


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="infer,train", help="comma-separated: infer, train")
    parser.add_argument("--contenders", default="fast,torch,onnx",
                        help="comma-separated: fast, fast-nchw, fast-direct, im2col, stock, torch, onnx, int8, "
                             "onnx-int8, bf16 (the last four inference only)")
    parser.add_argument("--rounds", type=int, default=7, help="timed calls of each contender, alternating")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls of each first (the first compiles)")
    parser.add_argument("--num_layers", type=int, default=50, choices=(18, 34, 50, 101, 152))
    parser.add_argument("--deconv_filters", type=int, default=256, help="channels of each deconvolution (demo: 128)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=192)
    parser.add_argument("--mode", default="GRAPH", choices=("GRAPH", "PYNATIVE"), type=str.upper)
    parser.add_argument("--torch_path", default="", help="a site-packages directory holding PyTorch, appended to sys.path")
    parser.add_argument("--peak_gflops", type=float, default=0.0,
                        help="the CPU's fp32 peak, for the fraction; 0 measures it: the best rate of NumPy's float32 "
                             "matrix product on this CPU")
    parser.add_argument("--threads", type=int, default=0,
                        help="threads of both frameworks (MindSpore runtime_num_threads, torch.set_num_threads); "
                             "0 keeps their defaults (one per core)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max_isa", default="", type=str.upper, choices=("",) + MAX_ISAS, metavar="ISA",
                        help=f"cap oneDNN's instruction set ({MAX_ISA_ENV}; with AVX2 PyTorch's too): "
                             + ", ".join(MAX_ISAS))
    parser.add_argument("--malloc", default="warm", choices=("warm", "default"),
                        help="warm: glibc keeps freed memory (see WARM_MALLOC); default: glibc's own settings")
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------------------------------
# Counting


def forward_flops(net: PoseResNet, height: int, width: int) -> float:
    """FLOPs (2 per multiply-add) of the convolutions and deconvolutions of one image's forward pass."""
    total = 0.0

    def conv(cell: Any, shape: tuple) -> tuple:
        nonlocal total
        out = cell.output_shape(shape)
        kernel = int(np.prod(cell.weight.shape[2:]))
        if isinstance(cell, Conv2dTranspose):  # every input pixel meets every tap
            total += 2.0 * shape[1] * out[1] * kernel * shape[2] * shape[3]
        else:
            total += 2.0 * out[1] * out[2] * out[3] * shape[1] * kernel
        return out

    shape = conv(net.conv1, (1, 3, height, width))
    shape = (1, shape[1], (shape[2] - 1) // 2 + 1, (shape[3] - 1) // 2 + 1)  # max-pool 3, stride 2, padding 1
    for layer in (net.layer1, net.layer2, net.layer3, net.layer4):
        for block in layer:
            block_in, out = shape, shape
            for name in ("conv1", "conv2", "conv3"):
                if hasattr(block, name):
                    out = conv(getattr(block, name), out)
            if block.down_sample_layer is not None:
                conv(block.down_sample_layer[0], block_in)
            shape = out
    for block in net.deconv_layers:
        shape = conv(block.deconv, shape)
    conv(net.final_layer, shape)
    return total


# ---------------------------------------------------------------------------------------------------
# The same weights in both frameworks


def copy_weights_from_torch(torch_net: Any, net: PoseResNet) -> None:
    """Gives the MindSpore network the PyTorch network's weights, through the project's converter."""
    state = {name: value.detach().numpy() for name, value in torch_net.state_dict().items()}
    load_parameters(list(net.get_parameters()), convert_state_dict(state), "the PyTorch network", "bench")


# ---------------------------------------------------------------------------------------------------
# Contenders: each is a call returning its result as NumPy (so it waits for it): the heatmaps, or the loss


def project_call(net: PoseResNet, task: str, batch: Dict[str, np.ndarray]) -> Callable:
    images, target, weight = (Tensor(batch[k]) for k in ("images", "target", "weight"))
    if task == "infer":
        net.set_train(False)
        return lambda: net(images).asnumpy()
    optimizer = nn.Adam(net.trainable_params(), learning_rate=LEARNING_RATE)
    step = TrainStep(WithLossCell(net, JointsMSELoss(use_target_weight=True)), optimizer)
    step.set_train(True)
    return lambda: step(images, target, weight).asnumpy()


def torch_call(torch: Any, torch_net: Any, task: str, batch: Dict[str, np.ndarray]) -> Callable:
    images, target, weight = (torch.from_numpy(batch[k]) for k in ("images", "target", "weight"))
    if task == "infer":
        torch_net.eval()

        def infer() -> Any:
            with torch.inference_mode():
                return torch_net(images).numpy()
        return infer
    torch_net.train()
    optimizer = torch.optim.Adam(torch_net.parameters(), lr=LEARNING_RATE)
    weight = weight.unsqueeze(-1)  # N×J×1×1

    def train() -> Any:
        optimizer.zero_grad(set_to_none=True)
        out = torch_net(images)
        loss = 0.5 * torch.mean((out * weight - target * weight) ** 2)
        loss.backward()
        optimizer.step()
        return np.float32(loss.item())
    return train


def onnx_model(net: PoseResNet, images: np.ndarray, folder: str) -> str:
    """The project's ONNX export of ``net`` (stock operators) for input ``images``, made as export.py makes it;
    returns its path."""
    from src.deploy.onnx_fix import (fix_conv_transpose, import_onnx,  # pylint: disable=import-outside-toplevel
                                     replace_padded_max_pools)
    net.set_train(False)
    replace_padded_max_pools(net)
    os.makedirs(folder, exist_ok=True)
    base = os.path.join(folder, "speed")
    ms.export(net, Tensor(images), file_name=base, file_format="ONNX")
    onnx = import_onnx()
    model = onnx.load(base + ".onnx")
    fix_conv_transpose(model)
    path = os.path.join(folder, "speed_fixed.onnx")
    onnx.save(model, path)
    return path


#: ONNX opset of the quantized model: per-channel QuantizeLinear/DequantizeLinear need 13.
INT8_OPSET = 13


def onnx_int8_model(path: str, calibration: Sequence[np.ndarray], folder: str) -> str:
    """ONNX Runtime's static quantization of the model at ``path``: QDQ, per-channel int8 weights, u8 activations
    (its defaults for the CPU), opset 13, activation ranges from ``calibration`` (batches of the model's input
    shape, N×3×H×W float32; ONNX Runtime's MinMax calibration). Returns the quantized model's path."""
    import onnx  # pylint: disable=import-outside-toplevel
    from onnx import version_converter  # pylint: disable=import-outside-toplevel
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat,  # pylint: disable=import-outside-toplevel
                                          QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process  # pylint: disable=import-outside-toplevel
    os.makedirs(folder, exist_ok=True)
    model = onnx.load(path)
    if max(op.version for op in model.opset_import if op.domain in ("", "ai.onnx")) < INT8_OPSET:
        model = version_converter.convert_version(model, INT8_OPSET)
    upgraded = os.path.join(folder, "int8_input.onnx")
    onnx.save(model, upgraded)
    prepared = os.path.join(folder, "int8_prepared.onnx")
    quant_pre_process(upgraded, prepared, skip_symbolic_shape=True)  # (the shapes are fixed)
    name = model.graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter(calibration)

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {name: batch}

    out = os.path.join(folder, "int8.onnx")
    quantize_static(prepared, out, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    nodes_to_exclude=padded_pool_nodes(onnx.load(prepared)))
    return out


def padded_pool_nodes(model: Any) -> List[str]:
    """The nodes of the export's max-pool with −∞ padding (``src.deploy.onnx_fix``: the input padded, plus the
    lowest float32 on the border, then a valid max-pool), kept in float32 by the quantization: calibrated, the
    border's −3.4e38 would set the range of the activation (measured: heatmaps 81 % off in RMS, against 5 %)."""
    producer = {name: node for node in model.graph.node for name in node.output}
    excluded: List[str] = []
    stack = [node for node in model.graph.node if node.op_type == "MaxPool"]
    while stack:
        node = stack.pop()
        excluded.append(node.name)
        for name in node.input:
            prev = producer.get(name)
            if prev is not None and prev.op_type not in ("Conv", "Relu") and prev.name not in excluded:
                stack.append(prev)
    return excluded


def onnx_session(path: str, threads: int) -> Any:
    import onnxruntime  # pylint: disable=import-outside-toplevel
    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def onnx_call(path: str, batch: Dict[str, np.ndarray], folder: str, threads: int, int8: bool = False) -> Callable:
    """ONNX Runtime on the ONNX model at ``path`` (:func:`onnx_model`); with ``int8``, on its static quantization
    (:func:`onnx_int8_model`) calibrated on the batch itself."""
    if int8:
        path = onnx_int8_model(path, [batch["images"]], folder)
    session = onnx_session(path, threads)
    name = session.get_inputs()[0].name
    return lambda: session.run(None, {name: batch["images"]})[0]


def int8_call(net: PoseResNet, batch: Dict[str, np.ndarray]) -> Callable:
    """The project's int8 network of ``net`` (:mod:`src.quantize`), calibrated on the batch itself."""
    from src.quantize.calibrate import activation_ranges  # pylint: disable=import-outside-toplevel
    from src.quantize.network import QuantizedPoseNet  # pylint: disable=import-outside-toplevel
    from src.quantize.precision import operators_library, quantized_network  # pylint: disable=import-outside-toplevel
    net.set_train(False)
    recorder = QuantizedPoseNet(net, operators_library(), None, record=True)
    qnet = quantized_network(net, activation_ranges(recorder, [batch["images"]])[0])
    images = Tensor(batch["images"])
    return lambda: qnet(images).asnumpy()


def bf16_call(net: PoseResNet, batch: Dict[str, np.ndarray]) -> Dict[str, Callable]:
    """``{"bf16": call}``: the project's bf16 network of ``net`` (:mod:`src.quantize`); nothing, with a note, where
    oneDNN has no bf16 kernels, and a note where it emulates them."""
    from src.quantize.precision import bf16_network  # pylint: disable=import-outside-toplevel
    isa = effective_isa()
    if not runs_bf16(isa):
        print(f"bf16: oneDNN has no bf16 kernels on {isa_name(isa)}: measuring without it", flush=True)
        return {}
    if not has_bf16(isa):
        print(f"bf16: emulated on {isa_name(isa)} (no avx512_bf16): MODEL.PRECISION bf16 refuses this CPU", flush=True)
    net.set_train(False)
    bnet = bf16_network(net)
    images = Tensor(batch["images"])
    return {"bf16": lambda: bnet(images).asnumpy()}


def report_agreement(first: Dict[str, np.ndarray]) -> None:
    """Prints how far each contender's first result is from the first one's (same weights, same batch)."""
    names = list(first)
    for name in names[1:]:
        base, other = np.asarray(first[names[0]], np.float64), np.asarray(first[name], np.float64)
        error = np.max(np.abs(other - base)) / max(np.max(np.abs(base)), 1e-30)
        print(f"first result of {name} against {names[0]}: max relative difference {error:.1e}", flush=True)


def import_torch(path: str) -> Optional[Any]:
    if path:
        sys.path.append(path)
    try:
        import torch  # pylint: disable=import-outside-toplevel
    except ImportError:
        return None
    return torch


def measure(args: argparse.Namespace, task: str, contenders: Sequence[str], torch: Optional[Any],
            folder: str) -> Dict[str, List[float]]:
    """Seconds per call of each contender, ``args.rounds`` rounds of alternating calls (``folder``: scratch files)."""
    rng = np.random.default_rng(args.seed)
    batch = {"images": rng.standard_normal((args.batch, 3, args.height, args.width)).astype(np.float32),
             "target": rng.uniform(0, 1, (args.batch, NUM_JOINTS, args.height // 4, args.width // 4)).astype(np.float32),
             "weight": np.ones((args.batch, NUM_JOINTS, 1), np.float32)}
    reference = PoseResNet(args.num_layers, NUM_JOINTS, (args.deconv_filters,) * 3, DECONV_KERNELS, fast=False)
    calls: Dict[str, Callable] = {}
    exported = None
    paths = {"fast": True, "fast-nchw": True, "fast-direct": True, "im2col": "im2col", "stock": False}
    if torch is not None:
        torch_net = torch_pose_resnet(torch, args.num_layers, args.deconv_filters, NUM_JOINTS)
        copy_weights_from_torch(torch_net, reference)
    for name in contenders:
        if name == "torch":
            calls[name] = torch_call(torch, torch_net, task, batch)
        elif name in ("onnx", "onnx-int8"):
            if task == "infer":
                if exported is None:  # (MindSpore exports a network once)
                    exported = onnx_model(reference, batch["images"], folder)
                calls[name] = onnx_call(exported, batch, os.path.join(folder, name), args.threads, name == "onnx-int8")
        elif name == "int8":
            if task == "infer":
                calls[name] = int8_call(reference, batch)
        elif name == "bf16":
            if task == "infer":
                calls.update(bf16_call(reference, batch))
        else:
            path = cpu_path(paths[name])
            layout = Layout.NHWC_INFERENCE if name == "fast-nchw" and path is CpuPath.ONEDNN else None
            saved = os.environ.get(WINOGRAD_ENV)
            if name == "fast-direct":  # read when the layers are built
                os.environ[WINOGRAD_ENV] = "0"
            try:
                net = PoseResNet(args.num_layers, NUM_JOINTS, (args.deconv_filters,) * 3, DECONV_KERNELS, fast=path,
                                 layout=layout)
            finally:
                if saved is None:
                    os.environ.pop(WINOGRAD_ENV, None)
                else:
                    os.environ[WINOGRAD_ENV] = saved
            for source, target in zip(reference.get_parameters(), net.get_parameters()):
                target.set_data(source.data.copy())
            calls[name] = project_call(net, task, batch)
    first = {}
    for name, call in calls.items():
        first[name] = call()
        for _ in range(args.warmup - 1):
            call()
    report_agreement(first)
    if os.environ.get("POSE_ONEDNN_PROFILE") and onednn.library_path():
        ctypes.CDLL(onednn.library_path()).pose_onednn_profile_reset()  # the same library MindSpore loaded
    times: Dict[str, List[float]] = {name: [] for name in calls}
    names = list(calls)
    for round_index in range(args.rounds):
        # Each round starts with the next contender, so that none always follows the same one: a runtime whose
        # threads spin a while after a call (ONNX Runtime's, PyTorch's OpenMP) slows whoever runs next.
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            call = calls[name]
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return times


#: OpenBLAS's kernels (``OPENBLAS_CORETYPE``) for the instruction set oneDNN dispatches, by a prefix of its name:
#: on a virtual CPU whose model OpenBLAS does not know it takes its SSE3 kernels ("Prescott"), at about a fifth of the
#: rate of its AVX-512 ones (a Xeon with AVX-512, 8 December 2026: 59 against 302 GFLOP/s).
OPENBLAS_CORES = (("AVX10", "SkylakeX"), ("AVX512", "SkylakeX"), ("AVX2", "Haswell"))
_PRODUCT_RATE = """
import sys, time
import numpy as np
size, repeats = int(sys.argv[1]), int(sys.argv[2])
a, b = (np.random.default_rng(0).standard_normal((size, size)).astype(np.float32) for _ in range(2))
best = float("inf")
for _ in range(repeats):
    start = time.perf_counter()
    np.matmul(a, b)
    best = min(best, time.perf_counter() - start)
print(2.0 * size ** 3 / best / 1e9)
"""


def matrix_product_gflops(size: int = PEAK_MATRIX, repeats: int = 5) -> Tuple[float, str]:
    """The best rate, in GFLOP/s, of NumPy's float32 ``size``×``size`` matrix product (its BLAS, all cores): what
    this CPU attains on the kind of work convolutions are made of, a peak that follows the machine the bench runs on
    (nominal peaks depend on clock boosts and on how many vector units a core really has, neither visible here).

    Measured in a child process, with OpenBLAS's kernels for the instruction set oneDNN dispatches here
    (:data:`OPENBLAS_CORES`; a BLAS other than OpenBLAS ignores the setting); returns the rate and what ran."""
    isa = isa_name(effective_isa())
    core = next((c for prefix, c in OPENBLAS_CORES if isa.startswith(prefix)), None)
    env = {**os.environ, "OPENBLAS_CORETYPE": core} if core else dict(os.environ)
    result = subprocess.run([sys.executable, "-c", _PRODUCT_RATE, str(size), str(repeats)], env=env, check=True,
                            capture_output=True, text=True)
    return float(result.stdout.split()[-1]), f"OpenBLAS's {core} kernels" if core else "its BLAS's own kernels"


def load_average() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    wanted = {**(WARM_MALLOC if args.malloc == "warm" else {}), **isa_env(args.max_isa)}
    if argv is None and any(os.environ.get(k) != v for k, v in wanted.items()):
        # glibc, oneDNN and PyTorch read these when the process starts or first dispatches: start again with them
        # (as a module again: sys.argv[0] is the file's path, and run as a file bench/ is not importable)
        os.execve(sys.executable, [sys.executable, "-m", "bench.speed"] + sys.argv[1:], {**os.environ, **wanted})
    os.environ.update(isa_env(args.max_isa))  # called as a function: in time where oneDNN has not dispatched yet
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ms.set_context(mode=getattr(ms, f"{args.mode}_MODE"))
    ms.set_device("CPU")
    if args.threads:
        ms.set_context(runtime_num_threads=args.threads)
    ms.set_seed(args.seed)
    contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    torch = import_torch(args.torch_path) if "torch" in contenders else None
    if "torch" in contenders and torch is None:
        print("PyTorch is not installed (or not on --torch_path): measuring without it", flush=True)
        contenders.remove("torch")
    elif torch is not None:
        torch.manual_seed(args.seed)
        if args.threads:
            torch.set_num_threads(args.threads)
    if args.peak_gflops <= 0:
        args.peak_gflops, kernels = matrix_product_gflops()
        peak_source = f"NumPy's float32 {PEAK_MATRIX}x{PEAK_MATRIX} matrix product with {kernels}, measured"
    else:
        peak_source = "given"
    flops = forward_flops(PoseResNet(args.num_layers, NUM_JOINTS, (args.deconv_filters,) * 3, DECONV_KERNELS),
                          args.height, args.width)
    versions = f"MindSpore {ms.__version__}" + (f", PyTorch {torch.__version__}" if torch is not None else "")
    print(f"SimplePoseNet ResNet-{args.num_layers}, input {args.batch}x3x{args.height}x{args.width}, {args.mode} mode, "
          f"CPU ({os.cpu_count()} cores, oneDNN dispatches {describe_cpu_isa()}), {versions}; forward {flops / 1e9:.2f} GFLOP/image, peak "
          f"{args.peak_gflops:.0f} GFLOP/s ({peak_source}); {args.rounds} alternating rounds", flush=True)
    for task in (t.strip() for t in args.tasks.split(",") if t.strip()):
        print(f"load average before {task}: {load_average()}", flush=True)
        with tempfile.TemporaryDirectory() as folder:
            times = measure(args, task, contenders, torch, folder)
        step_flops = flops * args.batch * (3 if task == "train" else 1)
        label = "inference" if task == "infer" else "training"
        for name, seconds in times.items():
            median = float(np.median(seconds))
            gflops = step_flops / median / 1e9
            print(f"{name:9s} {label:9s}: {args.batch / median:7.2f} img/s  ({median:.3f} s/batch, "
                  f"{gflops:5.1f} GFLOP/s, {100 * gflops / args.peak_gflops:3.0f} % of peak)", flush=True)
        for ours, other in (("fast", "torch"), ("fast", "onnx"), ("fast", "im2col"), ("fast", "fast-nchw"),
                            ("fast", "fast-direct"), ("fast-direct", "torch"), ("fast-direct", "onnx"),
                            ("int8", "fast"), ("int8", "onnx-int8"), ("onnx-int8", "onnx"), ("bf16", "fast")):
            if ours in times and other in times:
                ratio = float(np.median(np.array(times[other]) / np.array(times[ours])))
                print(f"{ours} / {other} {label}: {ratio:.2f}x (median of per-round ratios)", flush=True)
        print(f"load average after {task}: {load_average()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
