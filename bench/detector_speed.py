"""What a person detector costs per frame in track.py (``--detector``), on randomly initialised stand-ins.

    python -m bench.detector_speed [--models yolox-tiny,yolox-s,yolov8n] [--rounds 10] [--frame 1280x720]
                                   [--pose_config demo_config.yaml --people 4] [--keep DIR]

No detector weights can be downloaded here, so each model is a stand-in built with ONNX's helpers:
plain convolution stages (3×3, stride 2, then 1×1/3×3 residual bottlenecks, SiLU), detection heads
at strides 8, 16 and 32 (YOLOX's decoupled head, or Ultralytics' box and class branches), random
He-scaled weights, and the output layout of the real model, sized so that its FLOPs (printed, as
2 × multiply-adds, the convention of both projects' tables) come near the real model's at its
input size. The op mix is not the real model's (no FPN/PAN upsampling, concatenations or DFL), so
the times are the cost of that much convolution in onnxruntime on this machine, not a measurement
of YOLOX or YOLOv8 themselves. The class and objectness biases start at -4.6 (a prior of 0.01, as
YOLOX initialises them), so random outputs give few candidates, as a real frame with a few people
does.

Per model: the median over ``--rounds`` frames of ``PersonDetector`` on one frame (letterbox,
onnxruntime, decoding, NMS) and of onnxruntime's ``run`` alone, the models taken in turn each round
so that other load on the machine falls on all alike. onnxruntime uses its default threads (one per
physical core). With ``--pose_config``, the pose network of that configuration (random weights,
``device_target`` CPU, graph mode) also runs in each round as the tracker runs it on a frame: the
evaluation's crop, flip test and decoding on ``--people`` boxes; each detector's time is then also
given as a multiple of that (the median of the per-round ratios).
"""
import argparse
import math
import os
import sys
import tempfile
import time
from collections import defaultdict
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from src.tracking.detector import DetectorSettings, PersonDetector


class Spec(NamedTuple):
    """A stand-in: input ``[W, H]``, channels of the stem and 4 stages, bottlenecks per stage, head width,
    output layout, classes, and the real model's GFLOPs at that input (its project's table)."""
    input_size: Tuple[int, int]
    channels: Tuple[int, ...]
    depths: Tuple[int, ...]
    head: int
    layout: str
    classes: int
    real_gflops: float


MODELS: Dict[str, Spec] = {
    "yolox-tiny": Spec((416, 416), (24, 48, 96, 192, 384), (2, 4, 4, 2), 96, "yolox", 80, 6.45),
    "yolox-s": Spec((640, 640), (32, 64, 128, 256, 512), (2, 4, 4, 2), 128, "yolox", 80, 26.8),
    "yolov8n": Spec((640, 640), (16, 32, 64, 128, 256), (2, 3, 3, 3), 64, "yolov8", 80, 8.7),
}
PRIOR_BIAS = -math.log((1 - 0.01) / 0.01)
#: Weight scales that keep random activations bounded without BatchNorm: the residual branches' last
#: convolution, and the prediction convolutions (their outputs stay near the biases).
RESIDUAL_GAIN, PREDICTION_GAIN = 0.3, 0.01


class _Graph:
    """ONNX nodes and initialisers of a stand-in, with its FLOPs."""

    def __init__(self, seed: int):
        from onnx import helper, numpy_helper  # pylint: disable=import-outside-toplevel
        self.helper, self.numpy_helper = helper, numpy_helper
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.flops, self.count = [], [], 0, 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}{self.count}"

    def node(self, op: str, inputs: List[str], **attrs) -> str:
        out = self.name(op.lower())
        self.nodes.append(self.helper.make_node(op, inputs, [out], **attrs))
        return out

    def const(self, value: np.ndarray) -> str:
        name = self.name("c")
        self.inits.append(self.numpy_helper.from_array(np.asarray(value), name))
        return name

    def conv(self, x: str, cin: int, cout: int, kernel: int, stride: int, size: Tuple[int, int],
             act: bool = True, bias: float = 0.0, gain: float = 1.0) -> Tuple[str, Tuple[int, int]]:
        """Conv (+ SiLU) with He-scaled weights × ``gain``; ``size`` ``[W, H]`` in; returns the output and its size."""
        weight = gain * self.rng.normal(0, math.sqrt(2 / (cin * kernel * kernel)), (cout, cin, kernel, kernel))
        out_size = (math.ceil(size[0] / stride), math.ceil(size[1] / stride))
        self.flops += 2 * kernel * kernel * cin * cout * out_size[0] * out_size[1]
        y = self.node("Conv", [x, self.const(weight.astype(np.float32)), self.const(np.full(cout, bias, np.float32))],
                      kernel_shape=[kernel, kernel], strides=[stride, stride], pads=[kernel // 2] * 4)
        if act:
            y = self.node("Mul", [y, self.node("Sigmoid", [y])])
        return y, out_size


def build(spec: Spec, path: str, seed: int = 0) -> int:
    """Writes the stand-in of ``spec`` to ``path``; returns its FLOPs."""
    import onnx  # pylint: disable=import-outside-toplevel
    from onnx import TensorProto, helper  # pylint: disable=import-outside-toplevel
    g = _Graph(seed)
    # YOLOX takes pixels 0-255, the others 0-1: the stem's weights make both near unit scale.
    x, size = g.conv("images", 3, spec.channels[0], 3, 2, spec.input_size,
                     gain=1 / 255 if spec.layout == "yolox" else 1.0)
    levels = []
    for stage, (cin, cout, depth) in enumerate(zip(spec.channels, spec.channels[1:], spec.depths)):
        x, size = g.conv(x, cin, cout, 3, 2, size)
        for _ in range(depth):
            y, _ = g.conv(x, cout, cout // 2, 1, 1, size)
            y, _ = g.conv(y, cout // 2, cout, 3, 1, size, gain=RESIDUAL_GAIN)
            x = g.node("Add", [x, y])
        if stage >= 1:                                       # strides 8, 16, 32
            levels.append((x, cout, size))
    flat = []
    for x, channels, size in levels:
        if spec.layout == "yolox":                           # decoupled head: stem, cls and reg branches
            x, _ = g.conv(x, channels, spec.head, 1, 1, size)
            cls, reg = x, x
            for _ in range(2):
                cls, _ = g.conv(cls, spec.head, spec.head, 3, 1, size)
                reg, _ = g.conv(reg, spec.head, spec.head, 3, 1, size)
            box, _ = g.conv(reg, spec.head, 4, 1, 1, size, act=False, gain=PREDICTION_GAIN)
            obj, _ = g.conv(reg, spec.head, 1, 1, 1, size, act=False, bias=PRIOR_BIAS, gain=PREDICTION_GAIN)
            cls, _ = g.conv(cls, spec.head, spec.classes, 1, 1, size, act=False, bias=PRIOR_BIAS,
                            gain=PREDICTION_GAIN)
            parts = [box, g.node("Sigmoid", [obj]), g.node("Sigmoid", [cls])]
        else:                                                # Ultralytics: box and class branches
            box, cls = x, x
            widths = (spec.head, max(channels, spec.classes))
            for i in range(2):
                box, _ = g.conv(box, channels if i == 0 else widths[0], widths[0], 3, 1, size)
                cls, _ = g.conv(cls, channels if i == 0 else widths[1], widths[1], 3, 1, size)
            box, _ = g.conv(box, widths[0], 4, 1, 1, size, act=False, gain=PREDICTION_GAIN)
            cls, _ = g.conv(cls, widths[1], spec.classes, 1, 1, size, act=False, bias=PRIOR_BIAS,
                            gain=PREDICTION_GAIN)
            parts = [box, g.node("Sigmoid", [cls])]
        joined = g.node("Concat", parts, axis=1)
        flat.append(g.node("Reshape", [joined, g.const(np.array([1, -1, size[0] * size[1]], np.int64))]))
    out = g.node("Concat", flat, axis=2)                     # [1, 4 (+1) + C, N]
    if spec.layout == "yolox":
        out = g.node("Transpose", [out], perm=[0, 2, 1])     # [1, N, 5 + C]
    g.nodes.append(helper.make_node("Identity", [out], ["output"]))
    graph = helper.make_graph(
        g.nodes, "standin", [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                                           [1, 3, spec.input_size[1], spec.input_size[0]])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)], g.inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), path)
    return g.flops


def pose_estimator(config: str) -> Callable[[np.ndarray, np.ndarray, np.ndarray], Any]:
    """The tracker's pose estimator on the network of ``config``, with random weights."""
    # pylint: disable=import-outside-toplevel
    from src.inference.estimator import PoseEstimator
    from src.inference.loading import load_network
    from src.model_utils.config import get_config
    cfg = get_config(["--config_path", config, "--device_target", "CPU"])
    return PoseEstimator.from_config(cfg, load_network(cfg, None), pad_batches=True).estimate


def people_boxes(count: int, width: int, height: int) -> np.ndarray:
    """``count`` person-shaped boxes side by side across a ``width``×``height`` frame."""
    step = width / max(count, 1)
    return np.array([[i * step + step * 0.2, height * 0.2, step * 0.6, height * 0.6] for i in range(count)])


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {list(MODELS)}")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--frame", default="1280x720", help="frame size WxH")
    parser.add_argument("--keep", default="", help="folder to keep the stand-in ONNX files in")
    parser.add_argument("--pose_config", default="", help="also time the pose network of this configuration")
    parser.add_argument("--people", type=int, default=4, help="boxes a frame for the pose network")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; known: {list(MODELS)}")
    width, height = (int(v) for v in args.frame.lower().split("x"))
    frame = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    folder = args.keep or tempfile.mkdtemp(prefix="detectors")
    os.makedirs(folder, exist_ok=True)
    detectors, flops = {}, {}
    for name in names:
        path = os.path.join(folder, f"{name}-standin.onnx")
        flops[name] = build(MODELS[name], path)
        detectors[name] = PersonDetector(DetectorSettings(path))
        detectors[name](frame)                               # first runs: allocations, not counted
    tensor = {n: np.zeros((1, 3, d.input_size[1], d.input_size[0]), np.float32) for n, d in detectors.items()}
    estimate, boxes = None, people_boxes(args.people, width, height)
    if args.pose_config:
        estimate = pose_estimator(args.pose_config)
        for _ in range(2):                                   # the first call compiles the graph
            estimate(frame, boxes, np.ones(len(boxes)))
    whole, run, poses = defaultdict(list), defaultdict(list), []
    for _ in range(args.rounds):
        if estimate is not None:
            start = time.perf_counter()
            estimate(frame, boxes, np.ones(len(boxes)))
            poses.append(time.perf_counter() - start)
        for name, det in detectors.items():
            start = time.perf_counter()
            det(frame)
            whole[name].append(time.perf_counter() - start)
            start = time.perf_counter()
            det.session.run(None, {det.session.get_inputs()[0].name: tensor[name]})
            run[name].append(time.perf_counter() - start)
    print(f"{width}x{height} frame; {os.cpu_count()} CPUs; median of {args.rounds} rounds")
    if poses:
        print(f"pose network ({args.pose_config}), {args.people} people: {np.median(poses) * 1000:.1f} ms/frame")
    print(f"{'stand-in':<12} {'input':>9} {'GFLOPs':>7} {'real':>6} {'ms/frame':>9} {'ms run':>7}"
          + (" × pose" if poses else ""))
    for name in names:
        spec = MODELS[name]
        ratio = f" {np.median(np.array(whole[name]) / np.array(poses)):7.2f}" if poses else ""
        print(f"{name:<12} {spec.input_size[0]:>4}x{spec.input_size[1]:<4} {flops[name] / 1e9:7.2f} "
              f"{spec.real_gflops:6.2f} {np.median(whole[name]) * 1000:9.1f} {np.median(run[name]) * 1000:7.1f}"
              + ratio)
    return 0


if __name__ == "__main__":
    sys.exit(main())
