"""Export a SimplePoseNet checkpoint for inference.

    python export.py --eval_model_file CKPT [--EXPORT.FILE_FORMAT MINDIR|AIR|ONNX]
                     [--EXPORT.FILE_NAME simple_pose] [--TEST.BATCH_SIZE 32] [--key value ...]

Writes ``<EXPORT.FILE_NAME>.mindir`` (or ``.air``, ``.onnx``) for a fixed input of
``TEST.BATCH_SIZE × 3 × H × W`` float32 (``[W, H]`` = ``MODEL.IMAGE_SIZE``), the
normalised crops preprocess.py writes. The network is built with MindSpore's stock
operators whatever ``MODEL.FAST_CPU`` says: the exported graph must run on any backend.
AIR needs an Ascend device and is deprecated in MindSpore 2.10 (MINDIR is the format
MindSpore Lite reads). ONNX needs the ``onnx`` package; the padded max-pool is
spelled with exportable operators and the file is repaired after MindSpore's export so
that onnxruntime runs it (see ``src/deploy/onnx_fix.py``).
"""
import logging
import os
import stat
import sys
from typing import Any, Optional, Sequence

import mindspore as ms
import numpy as np

from src.deploy.onnx_fix import fix_conv_transpose, import_onnx, replace_padded_max_pools
from src.errors import UserError
from src.inference.loading import load_network
from src.model_utils.config import get_config
from src.model_utils.modelarts import export_pre_process
from src.model_utils.moxing_adapter import moxing_wrapper
from src.network.weights import require_model_file
from src.utils.cli import run_cli, setup_logging

logger = logging.getLogger("export")

EXTENSIONS = {"MINDIR": ".mindir", "AIR": ".air", "ONNX": ".onnx"}


def export_input(cfg: Any) -> ms.Tensor:
    """A zero batch of the exported input shape ``TEST.BATCH_SIZE × 3 × H × W``."""
    width, height = (int(v) for v in cfg.MODEL.IMAGE_SIZE)
    return ms.Tensor(np.zeros((int(cfg.TEST.BATCH_SIZE), 3, height, width), np.float32))


def repair_onnx(path: str) -> None:
    """Makes MindSpore's ONNX file loadable by onnxruntime (see ``src/deploy/onnx_fix.py``), in place."""
    onnx = import_onnx()
    model = onnx.load(path)
    fixed = fix_conv_transpose(model)
    onnx.checker.check_model(model)
    mode = stat.S_IMODE(os.stat(path).st_mode)
    os.chmod(path, mode | stat.S_IWUSR)  # MindSpore leaves its exports read-only
    onnx.save(model, path)
    os.chmod(path, mode)
    logger.info("ONNX graph repaired: %d ConvTranspose nodes given explicit pads and output_padding", fixed)


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(get_config(argv))


@moxing_wrapper(pre_process=export_pre_process)
def run(cfg: Any) -> int:
    """Exports with ``cfg`` (with ``enable_modelarts``, between ModelArts' copies in and out)."""
    setup_logging()
    file_format = cfg.EXPORT.FILE_FORMAT
    if file_format == "AIR":
        # mindspore.export (train/serialization.py): "AIR format is deprecated, and will be removed in a
        # future version, please use other format or use MindSpore Lite to do offline inference".
        logger.warning("AIR export is deprecated in MindSpore %s and will be removed in a future version; "
                       "prefer MINDIR (--EXPORT.FILE_FORMAT MINDIR), which MindSpore Lite and "
                       "scripts/run_infer_310.sh read", ms.__version__)
        if cfg.device_target != "Ascend":
            raise UserError(f"AIR export needs an Ascend device (device_target is {cfg.device_target}) and is "
                            f"deprecated in MindSpore {ms.__version__}; use --EXPORT.FILE_FORMAT MINDIR (or ONNX), "
                            f"or export on an Ascend machine")
    if file_format == "ONNX":
        import_onnx()  # fail before the network is built
    model_file = require_model_file(cfg, "export")
    # The CPU fast path is a runtime optimisation, never exported: the stock operators run on any backend.
    net = load_network(cfg, model_file, fast_cpu=False, precision=False)
    inputs = export_input(cfg)
    if file_format == "ONNX":
        replaced = replace_padded_max_pools(net)
        logger.info("%d padded max-pools spelled with ONNX-exportable operators", replaced)
    base = cfg.EXPORT.FILE_NAME
    if base.lower().endswith(EXTENSIONS[file_format]):
        base = base[:-len(EXTENSIONS[file_format])]
    if os.path.dirname(base):
        os.makedirs(os.path.dirname(base), exist_ok=True)
    ms.export(net, inputs, file_name=base, file_format=file_format)
    path = base + EXTENSIONS[file_format]
    if file_format == "ONNX":
        repair_onnx(path)
    logger.info("exported %s (input %s float32)", path, "x".join(str(d) for d in inputs.shape))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
