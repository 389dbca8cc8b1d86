"""A picture of a training run from its ``loss_log.csv``, drawn with matplotlib (Agg, no display needed).

    python -m src.plot_loss --csv CKPT_DIR/loss_log.csv --output loss.png [--width 1000] [--height 700]

Top panel: the loss of every step (light) and the mean loss of each epoch (a dark step line
over that epoch's steps). Bottom panel: the learning rate per step. The x axis is the global
step. ``loss_log.csv`` is written by training (:class:`src.training.callbacks.LossCsvLogger`) with the
columns ``epoch, step, global_step, loss, lr``.
"""
import csv
import logging
import math
import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from src.errors import LossLogError, shown_path
from src.utils.cli import run_cli, setup_logging, tool_parser

logger = logging.getLogger(__name__)

COLUMNS = ("epoch", "step", "global_step", "loss", "lr")
STEP_LOSS, EPOCH_LOSS, LEARNING_RATE = "#96beeb", "#144696", "#e67828"
DPI = 100


def read_loss_log(path: str) -> Dict[str, np.ndarray]:
    """The columns of a ``loss_log.csv`` as float64 arrays (an empty ``lr`` is NaN), rows by global step.

    Raises:
        FileNotFoundError: no file at ``path``.
        LossLogError: naming the missing columns, or the line of a malformed value.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"loss log not found: '{shown_path(path)}' (training writes "
                                "<ckpt_save_dir>/loss_log.csv)")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise LossLogError(f"{path} is not a loss log: missing column(s) {', '.join(missing)} "
                               f"(expected the header {','.join(COLUMNS)})")
        rows: List[List[float]] = []
        for row in reader:
            try:
                # The learning rate is empty where the schedule was not known (resumed runs).
                rows.append([math.nan if c == "lr" and not row[c] else float(row[c]) for c in COLUMNS])
            except (TypeError, ValueError) as err:
                raise LossLogError(f"{path}, line {reader.line_num}: a value is not a number ({err})") from err
    if not rows:
        raise LossLogError(f"{path} has a header but no steps; train at least one step first")
    table = np.array(rows, dtype=np.float64)
    table = table[np.argsort(table[:, 2], kind="stable")]
    return {name: table[:, i] for i, name in enumerate(COLUMNS)}


def epoch_means(epoch: np.ndarray, global_step: np.ndarray,
                loss: np.ndarray) -> List[Tuple[float, float, float]]:
    """``(first step, last step, mean loss)`` of each epoch, in order of epochs."""
    spans = []
    for value in np.unique(epoch):
        mask = epoch == value
        spans.append((float(global_step[mask].min()), float(global_step[mask].max()), float(loss[mask].mean())))
    return spans


def plot_loss(log: Dict[str, np.ndarray], width: int = 1000, height: int = 700) -> Figure:
    """The two-panel figure (``width``×``height`` pixels at :data:`DPI`) of a loss log from :func:`read_loss_log`."""
    if width < 300 or height < 300:
        raise LossLogError(f"the picture must be at least 300×300 pixels, got {width}×{height}")
    # Agg truncates the pixel size; half a pixel more keeps float rounding from losing one.
    fig = Figure(figsize=((width + 0.5) / DPI, (height + 0.5) / DPI), dpi=DPI, layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [62, 38]})
    steps, loss = log["global_step"], log["loss"]
    spans = epoch_means(log["epoch"], steps, loss)
    # Each epoch's mean spans its steps, half a step either side, so that the epochs join up.
    epoch_x = np.array([[first - 0.5, last + 0.5] for first, last, _ in spans]).reshape(-1)
    epoch_y = np.repeat([mean for _, _, mean in spans], 2)
    top.plot(steps, loss, color=STEP_LOSS, linewidth=1, label="loss per step")
    top.plot(epoch_x, epoch_y, color=EPOCH_LOSS, linewidth=2, label="epoch mean")
    top.set(title=f"training loss ({len(steps)} steps, {len(spans)} epochs)", ylabel="loss")
    top.legend(loc="upper right")
    bottom.plot(steps, log["lr"], color=LEARNING_RATE, linewidth=2)
    bottom.set(title="learning rate", xlabel="global step", ylabel="learning rate")
    top.tick_params(labelbottom=True)   # sharex hides the upper panel's step numbers
    top.set_xlabel("global step")
    for axes in (top, bottom):
        axes.grid(True, color="0.9")
    return fig


def save_png(fig: Figure, path: str) -> None:
    """Writes ``fig`` to ``path`` as a PNG of exactly the figure's pixel size (no tight cropping)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        FigureCanvasAgg(fig).print_png(path)
    except OSError as err:
        raise LossLogError(f"cannot write the picture {path} ({err.strerror or err}); "
                           "choose a file in a writable folder") from err


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = tool_parser("python -m src.plot_loss", __doc__)
    parser.add_argument("--csv", required=True, help="<ckpt_save_dir>/loss_log.csv written by training")
    parser.add_argument("--output", default="loss.png", help="picture to write (PNG)")
    parser.add_argument("--width", type=int, default=1000, help="in pixels, at least 300")
    parser.add_argument("--height", type=int, default=700, help="in pixels, at least 300")
    args = parser.parse_args(argv)
    setup_logging()
    save_png(plot_loss(read_loss_log(args.csv), args.width, args.height), args.output)
    logger.info("loss and learning rate drawn to %s", args.output)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
