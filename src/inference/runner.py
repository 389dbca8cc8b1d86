"""Runs the pose estimator over an evaluation dataset and collects decoded predictions."""
import logging
import time
from typing import NamedTuple

import numpy as np

from src.errors import EvaluationError
from src.inference.estimator import PoseEstimator
from src.utils.progress import Progress

logger = logging.getLogger(__name__)

#: A "N samples validated in S seconds" line every this many samples, as the original.
REPORT_EVERY = 1024


class Predictions(NamedTuple):
    """Decoded results for M person boxes.

    preds: M×J×3 ``[x, y, maxval]`` in image pixels; boxes: M×6
    ``[cx, cy, sx, sy, area, score]``; image_ids: M COCO image ids.
    """
    preds: np.ndarray
    boxes: np.ndarray
    image_ids: np.ndarray


def run_inference(estimator: PoseEstimator, dataset, num_samples: int) -> Predictions:
    """Predicts every box of ``dataset`` (columns of ``keypoint_dataset``, eval mode) with ``estimator``.

    Logs progress: a line redrawn in place on a terminal, and the original's
    ``N samples validated in S seconds`` every ``REPORT_EVERY`` samples.
    """
    preds, boxes, ids = [], [], []
    done, next_report = 0, REPORT_EVERY
    chunk_start = time.time()
    progress = Progress(num_samples, unit="boxes", log=False)   # the log has the original's lines below
    for batch in dataset.create_dict_iterator(output_numpy=True, num_epochs=1):
        batch_preds, batch_boxes = estimator.estimate_crops(batch["image"], batch["center"], batch["scale"],
                                                            batch["score"])
        preds.append(batch_preds)
        boxes.append(batch_boxes)
        ids.append(np.asarray(batch["id"]).reshape(-1))
        done += len(batch_preds)
        if done >= next_report:
            logger.info("%d samples validated in %s seconds", done, time.time() - chunk_start)
            chunk_start = time.time()
            next_report += REPORT_EVERY
        progress.update(len(batch_preds))
    progress.close()
    logger.info("%d boxes predicted in %.1f s (%.1f boxes/s%s)", done, progress.elapsed, progress.rate,
                ", flip test" if estimator.settings.flip_test else "")
    if not preds:
        raise EvaluationError("the evaluation set is empty: no person boxes to predict")
    return Predictions(np.concatenate(preds), np.concatenate(boxes), np.concatenate(ids))
