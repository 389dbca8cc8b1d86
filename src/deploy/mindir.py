"""Runs an exported MindIR over a folder of ``.bin`` batches with MindSpore (CPU or GPU).

    python -m src.deploy.mindir --mindir_path MODEL.mindir --input0_path DIR
                               [--device_target CPU|GPU] [--device_id 0] [--output_dir .]

The same contract as the Ascend 310 app in ``ascend310_infer/``: every ``DIR/<name>.bin``
(float32, exactly the model's input shape) is one batch; output 0 is written to
``OUTPUT_DIR/result_Files/<name>_0.bin`` (float32) and the mean time per batch to
``OUTPUT_DIR/time_Result/test_perform_static.txt``. The model is run as exported
(``mindspore.load`` + ``nn.GraphCell``); nothing of the training code is used.
"""
import argparse
import logging
import os
import sys
import time
from typing import List, Optional, Sequence

import mindspore as ms
import numpy as np
from mindspore import nn
from mindspore.train import mind_ir_pb2  # the MindIR protobuf schema shipped with MindSpore

from src.errors import InferFilesError, shown_path
from src.deploy.bin_files import OUTPUT_SUFFIX, list_inputs
from src.utils.cli import run_cli, setup_logging, tool_parser
from src.utils.files import written_whole
from src.model_utils.device_adapter import set_device

logger = logging.getLogger("infer_mindir")

RESULT_DIR = "result_Files"
TIME_DIR = "time_Result"
TIME_FILE = "test_perform_static.txt"


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = tool_parser("python -m src.deploy.mindir", __doc__)
    parser.add_argument("--mindir_path", required=True, help="exported model (.mindir)")
    parser.add_argument("--input0_path", required=True, help="folder of input .bin files")
    parser.add_argument("--device_target", default="CPU", choices=["CPU", "GPU"])
    parser.add_argument("--device_id", type=int, default=0)
    parser.add_argument("--output_dir", default=".", help="where result_Files/ and time_Result/ go")
    return parser.parse_args(argv)


def load_model(mindir_path: str, device_target: str, device_id: int) -> nn.GraphCell:
    if not os.path.isfile(mindir_path):
        raise FileNotFoundError(f"MindIR file not found: {shown_path(mindir_path)} (--mindir_path); export one with "
                                f"export.py")
    ms.set_context(mode=ms.GRAPH_MODE)
    set_device(device_target, None if device_target == "CPU" else device_id)
    return nn.GraphCell(ms.load(mindir_path))


def read_input(path: str, shape: Sequence[int]) -> np.ndarray:
    """An input file as float32 of the model's input ``shape``; names both when they do not fit."""
    data = np.fromfile(path, dtype=np.float32)
    if data.size != int(np.prod(shape)):
        raise InferFilesError(
            f"{path} holds {data.size} float32 values but the model takes {'×'.join(map(str, shape))} "
            f"({int(np.prod(shape))}); run preprocess.py with the --TEST.BATCH_SIZE and --MODEL.IMAGE_SIZE "
            f"the model was exported with")
    return data.reshape(shape)


def run(model: nn.GraphCell, shape: Sequence[int], inputs: List[str], output_dir: str) -> float:
    """Predicts every input file; returns the mean milliseconds per batch (the model call only, the
    first call, which compiles the graph, left out when there are more)."""
    result_dir = os.path.join(output_dir, RESULT_DIR)
    os.makedirs(result_dir, exist_ok=True)
    elapsed = []
    for index, path in enumerate(inputs):
        batch = ms.Tensor(read_input(path, shape))
        start = time.perf_counter()
        output = model(batch)
        output = output[0] if isinstance(output, (tuple, list)) else output
        heatmaps = output.asnumpy()  # waits for the device
        elapsed.append(time.perf_counter() - start)
        logger.info("%d/%d %s: %.1f ms%s", index + 1, len(inputs), os.path.basename(path), 1000.0 * elapsed[-1],
                    " (with graph compilation)" if index == 0 else "")
        name = os.path.splitext(os.path.basename(path))[0]
        with written_whole(os.path.join(result_dir, name + OUTPUT_SUFFIX)) as temp:
            np.ascontiguousarray(heatmaps, dtype=np.float32).tofile(temp)
    timed = elapsed[1:] if len(elapsed) > 1 else elapsed
    return 1000.0 * float(np.mean(timed))


def mindir_input_shape(mindir_path: str) -> List[int]:
    """Shape of the model's first input, read from the MindIR file itself."""
    proto = mind_ir_pb2.ModelProto()
    with open(mindir_path, "rb") as f:
        proto.ParseFromString(f.read())
    if not proto.graph.input or not proto.graph.input[0].tensor:
        raise InferFilesError(f"{mindir_path} declares no input tensor; export the model again with export.py")
    return [int(d) for d in proto.graph.input[0].tensor[0].dims]


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    setup_logging()
    inputs = list_inputs(args.input0_path)
    model = load_model(args.mindir_path, args.device_target, args.device_id)
    shape = mindir_input_shape(args.mindir_path)
    mean_ms = run(model, shape, inputs, args.output_dir)
    batch = shape[0]
    time_dir = os.path.join(args.output_dir, TIME_DIR)
    os.makedirs(time_dir, exist_ok=True)
    with open(os.path.join(time_dir, TIME_FILE), "w", encoding="utf-8") as f:
        f.write(f"mean inference time: {mean_ms:.3f} ms per batch of {batch} over {len(inputs)} batches\n")
    logger.info("%d input files of %d images: %.3f ms per batch, %.1f images/s (%s); results in %s", len(inputs), batch,
                mean_ms, 1000.0 * batch / mean_ms, args.device_target,
                os.path.join(args.output_dir, RESULT_DIR))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
