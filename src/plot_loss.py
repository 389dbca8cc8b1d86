"""A picture of a training run from its ``loss_log.csv``, drawn with OpenCV (no matplotlib needed).

    python -m src.plot_loss --csv CKPT_DIR/loss_log.csv --output loss.png [--width 1000] [--height 700]

Top panel: the loss of every step (light) and the mean loss of each epoch (a dark step line
over that epoch's steps). Bottom panel: the learning rate per step. The x axis is the global
step. ``loss_log.csv`` is written by training (:class:`src.callbacks.LossCsvLogger`) with the
columns ``epoch, step, global_step, loss, lr``.
"""
import argparse
import csv
import logging
import math
import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from src.errors import UserError

logger = logging.getLogger(__name__)

COLUMNS = ("epoch", "step", "global_step", "loss", "lr")
# BGR colours.
BACKGROUND = (255, 255, 255)
AXIS = (60, 60, 60)
GRID = (225, 225, 225)
STEP_LOSS = (235, 190, 150)
EPOCH_LOSS = (150, 70, 20)
LEARNING_RATE = (40, 120, 230)
FONT = cv2.FONT_HERSHEY_SIMPLEX
MARGIN = (90, 30, 60, 50)   # left, right, top, bottom of each panel's frame, in pixels


class LossLogError(UserError, ValueError):
    """The CSV is not a loss log (missing columns, values that are not numbers, no rows)."""


def read_loss_log(path: str) -> Dict[str, np.ndarray]:
    """The columns of a ``loss_log.csv`` as float64 arrays (an empty ``lr`` is NaN), rows by global step.

    Raises:
        FileNotFoundError: no file at ``path``.
        LossLogError: naming the missing columns, or the line of a malformed value.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"loss log not found: '{path}' (training writes <ckpt_save_dir>/loss_log.csv)")
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


def nice_ticks(low: float, high: float, count: int = 5) -> np.ndarray:
    """About ``count`` round tick values (1, 2 or 5 × 10^k apart) covering ``[low, high]``."""
    if not high > low:
        low, high = low - (abs(low) or 1.0) * 0.5, high + (abs(high) or 1.0) * 0.5
    raw = (high - low) / max(1, count)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return np.arange(math.floor(low / step) * step, high + step * 0.5, step)


def _label(value: float) -> str:
    return f"{value:.3g}" if value == 0 or 1e-3 <= abs(value) < 1e4 else f"{value:.1e}"


def _text(canvas: np.ndarray, text: str, origin: Tuple[int, int], colour=AXIS, scale: float = 0.5,
          align: str = "left") -> None:
    (width, height), _ = cv2.getTextSize(text, FONT, scale, 1)
    x, y = origin
    x -= width if align == "right" else width // 2 if align == "centre" else 0
    cv2.putText(canvas, text, (int(x), int(y + height // 2)), FONT, scale, colour, 1, cv2.LINE_AA)


def draw_panel(canvas: np.ndarray, top: int, bottom: int, x: np.ndarray,
               lines: Sequence[Tuple[np.ndarray, np.ndarray, Tuple[int, int, int], int, str]],
               title: str, x_label: str) -> None:
    """One framed plot in the rows ``[top, bottom)`` of ``canvas``: grid, ticks, labels, legend, lines.

    Args:
        x: All x values shown (for the x range).
        lines: ``(xs, ys, colour, thickness, legend)`` polylines in data units (NaN ys skipped).
    """
    left, right = MARGIN[0], canvas.shape[1] - MARGIN[1]
    y0, y1 = top + MARGIN[2], bottom - MARGIN[3]
    ys_all = np.concatenate([ys[np.isfinite(ys)] for _, ys, *_ in lines] or [np.zeros(1)])
    if not ys_all.size:
        ys_all = np.zeros(1)
    x_ticks = nice_ticks(float(x.min()), float(x.max()), 8)
    y_ticks = nice_ticks(float(ys_all.min()), float(ys_all.max()), 5)
    x_lo, x_hi = min(x_ticks[0], x.min()), max(x_ticks[-1], x.max())
    y_lo, y_hi = min(y_ticks[0], ys_all.min()), max(y_ticks[-1], ys_all.max())

    def to_px(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        px = left + (xs - x_lo) / max(x_hi - x_lo, 1e-12) * (right - left)
        py = y1 - (ys - y_lo) / max(y_hi - y_lo, 1e-12) * (y1 - y0)
        return np.stack([px, py], axis=-1)

    for tick in x_ticks:
        px = int(round(to_px(np.array([tick]), np.array([y_lo]))[0, 0]))
        cv2.line(canvas, (px, y0), (px, y1), GRID, 1)
        cv2.line(canvas, (px, y1), (px, y1 + 5), AXIS, 1)
        _text(canvas, _label(tick), (px, y1 + 16), align="centre")
    for tick in y_ticks:
        py = int(round(to_px(np.array([x_lo]), np.array([tick]))[0, 1]))
        cv2.line(canvas, (left, py), (right, py), GRID, 1)
        cv2.line(canvas, (left - 5, py), (left, py), AXIS, 1)
        _text(canvas, _label(tick), (left - 8, py), align="right")
    for xs, ys, colour, thickness, _ in lines:
        finite = np.isfinite(ys)
        if finite.any():
            points = np.round(to_px(xs[finite], ys[finite])).astype(np.int32)
            cv2.polylines(canvas, [points.reshape(-1, 1, 2)], False, colour, thickness, cv2.LINE_AA)
    cv2.rectangle(canvas, (left, y0), (right, y1), AXIS, 1)
    _text(canvas, title, (left, top + MARGIN[2] // 2), scale=0.6)
    _text(canvas, x_label, ((left + right) // 2, y1 + 36), align="centre")
    legend_x = right - 10
    for _, _, colour, thickness, legend in reversed(lines):
        if legend:
            (width, _), _ = cv2.getTextSize(legend, FONT, 0.5, 1)
            _text(canvas, legend, (legend_x, top + MARGIN[2] // 2), align="right")
            legend_x -= width + 8
            cv2.line(canvas, (legend_x - 24, top + MARGIN[2] // 2), (legend_x, top + MARGIN[2] // 2), colour,
                     max(2, thickness), cv2.LINE_AA)
            legend_x -= 40


def plot_loss(log: Dict[str, np.ndarray], width: int = 1000, height: int = 700) -> np.ndarray:
    """The two-panel picture (H×W×3 uint8 BGR) of a loss log from :func:`read_loss_log`."""
    if width < 300 or height < 300:
        raise LossLogError(f"the picture must be at least 300×300 pixels, got {width}×{height}")
    canvas = np.full((height, width, 3), BACKGROUND, dtype=np.uint8)
    steps, loss = log["global_step"], log["loss"]
    spans = epoch_means(log["epoch"], steps, loss)
    epoch_x = np.array([[first - 0.5, last + 0.5] for first, last, _ in spans]).reshape(-1)
    epoch_y = np.repeat([mean for _, _, mean in spans], 2)
    split = int(height * 0.62)
    draw_panel(canvas, 0, split, steps,
               [(steps, loss, STEP_LOSS, 1, "loss per step"), (epoch_x, epoch_y, EPOCH_LOSS, 2, "epoch mean")],
               f"training loss ({len(steps)} steps, {len(spans)} epochs)", "global step")
    draw_panel(canvas, split, height, steps, [(steps, log["lr"], LEARNING_RATE, 2, "")],
               "learning rate", "global step")
    return canvas


def main(argv: Optional[Sequence[str]] = None) -> int:
    from src.model_utils.cli import run_cli, setup_logging  # pylint: disable=import-outside-toplevel

    parser = argparse.ArgumentParser(description="Draw the loss and learning rate of a training run "
                                     "(loss_log.csv) to a PNG with OpenCV.")
    parser.add_argument("--csv", required=True, help="<ckpt_save_dir>/loss_log.csv written by training")
    parser.add_argument("--output", default="loss.png", help="picture to write (PNG)")
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--height", type=int, default=700)
    args = parser.parse_args(argv)

    def run(_: object) -> int:
        setup_logging()
        picture = plot_loss(read_loss_log(args.csv), args.width, args.height)
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        if not cv2.imwrite(args.output, picture):
            raise LossLogError(f"cannot write the picture {args.output} (use a .png name in a writable folder)")
        logger.info("loss and learning rate drawn to %s", args.output)
        return 0

    return run_cli(run)


if __name__ == "__main__":
    sys.exit(main())
