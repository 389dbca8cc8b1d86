"""PoseTrack's evaluation: of prediction files against the ground truth, and of the pose network's predictions.

    python -m src.evaluate.posetrack_eval --gt GT_DIR_OR_FILE [...] --pred PRED_DIR_OR_FILE [...]
                                          [--output DIR] [--poseval_quirks]

**Files** (:func:`score_files`, the command): each ground-truth file (PoseTrack 2017 or 2018, one video;
:mod:`src.data.posetrack_files`) is scored against the prediction file of the same name by the benchmark's
metrics (:mod:`src.evaluate.posetrack_metrics`); a prediction file without ground truth, or ground truth without
predictions, is an error (``tracks.json`` in a prediction folder is passed over). The command prints the
benchmark's two tables, writes ``posetrack_metrics.json`` to ``--output`` (default: a ``posetrack_eval`` folder
in the first prediction folder) and ends with the lines::

    Total AP: <float>
    Total MOTA: <float>

**The pose network's predictions** (:func:`evaluate_poses`, the ``posetrack`` data set type's evaluation in
``eval.py``): the poses are rescored and thinned by OKS-NMS per frame as COCO's are
(:mod:`src.evaluate.coco_eval`), both over the 15 joints PoseTrack labels (the ears, never labelled, would only
add noise), with :data:`src.data.posetrack_joints.POSETRACK_SIGMAS`; then written as one PoseTrack prediction file
per video (``<results>/posetrack_predictions/<video>.json``, the ground truth's format and frames, people numbered
per frame as track ids) and scored without the MOT part (single frames carry no tracks): per-joint AP at
PCKh@0.5, in percent.

Symbols: N predicted people, J = 17 joints.
"""
import logging
import os
import sys
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from src.constants import POSETRACK_METRICS_FILE
from src.data.posetrack_files import PoseFrame, PoseVideo, read_video, video_files, write_video
from src.data.posetrack_joints import NUM_POSETRACK_JOINTS, POSETRACK_KEYPOINTS
from src.data.posetrack_records import PoseTrackSplit, read_split
from src.errors import DatasetFormatError, PoseTrackFormatError, shown_path
from src.evaluate.coco_eval import rescore
from src.evaluate.posetrack_metrics import PoseTrackResult, ap_table, metrics_document, report, score_videos
from src.utils.cli import run_cli, setup_logging, tool_parser
from src.utils.jsonio import write_json
from src.utils.nms import oks_nms_per_image

logger = logging.getLogger(__name__)

#: Folder of the prediction files in the results folder.
PREDICTIONS_DIR = "posetrack_predictions"


# ---------------------------------------------------------------------------------------------- files

def _json_files(paths: Sequence[str], what: str) -> List[str]:
    files = []
    for path in paths:
        if os.path.isdir(path):
            files += video_files(path)
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise FileNotFoundError(f"{what} not found: {shown_path(path)}")
    if not files:
        raise PoseTrackFormatError(f"no .json file in {', '.join(paths)}; give the folder of the PoseTrack {what}s")
    return files


def pair_videos(gt_paths: Sequence[str], pred_paths: Sequence[str]) -> List[Tuple[PoseVideo, PoseVideo]]:
    """Each ground-truth video with the prediction file of the same name (files, or folders of them)."""
    gt_files = {os.path.basename(f): f for f in _json_files(gt_paths, "ground-truth file")}
    pred_files = {}
    for f in _json_files(pred_paths, "prediction file"):
        name = os.path.basename(f)
        if name not in gt_files:
            raise PoseTrackFormatError(f"{f}: no ground truth of this video (no {name} among the ground-truth "
                                       f"files); predictions are named as the ground truth of their video")
        if name in pred_files:
            raise PoseTrackFormatError(f"{f}: two prediction files for {name} ({pred_files[name]})")
        pred_files[name] = f
    missing = [name for name in gt_files if name not in pred_files]
    if missing:
        raise PoseTrackFormatError(f"{gt_files[missing[0]]}: no predictions for this video ({missing[0]} is not "
                                   f"among the prediction files; {len(missing)} videos lack them)")
    return [(read_video(gt_files[name]), read_video(pred_files[name], predictions=True))
            for name in sorted(gt_files)]


def score_files(gt_paths: Sequence[str], pred_paths: Sequence[str], output_dir: str,
                poseval_quirks: bool = False) -> PoseTrackResult:
    """Scores the prediction files (or folders) against the ground truth of the same names and writes
    ``posetrack_metrics.json`` (:func:`src.evaluate.posetrack_metrics.metrics_document`) to ``output_dir``."""
    result = score_videos(pair_videos(gt_paths, pred_paths), poseval_quirks)
    os.makedirs(output_dir, exist_ok=True)
    write_json(os.path.join(output_dir, POSETRACK_METRICS_FILE), metrics_document(result, poseval_quirks), indent=1)
    return result


# ---------------------------------------------------------------------------------------------- the network's poses

def prediction_videos(split: PoseTrackSplit, preds: np.ndarray, scores: np.ndarray,
                      numbers: np.ndarray) -> List[PoseVideo]:
    """The predicted people as PoseTrack prediction videos, one per ground-truth video with all its frames.

    Args:
        split: The ground truth.
        preds: N×17×3 ``[x, y, score]`` in image pixels.
        scores: N person scores.
        numbers: N frame numbers of the split.

    Returns:
        Videos named, ordered and formatted as the ground truth's; in each frame the people by descending score,
        numbered from 0 as track ids, with the joints PoseTrack labels.
    """
    labelled = np.zeros(NUM_POSETRACK_JOINTS, bool)
    labelled[list(POSETRACK_KEYPOINTS.labelled)] = True
    order = np.lexsort((-scores, numbers))
    starts = np.searchsorted(numbers[order], np.arange(len(split.frames) + 1))
    videos, number = [], 0
    for video in split.videos:
        frames = []
        for gt in video.frames:
            people = order[starts[number]:starts[number + 1]]
            number += 1
            if len(people) == 0:
                frames.append(PoseFrame.empty(gt.name, gt.image_id, gt.labelled, **gt.extra))
                continue
            count = len(people)
            frames.append(PoseFrame(gt.name, gt.image_id, gt.labelled, np.arange(count, dtype=np.int64),
                                    preds[people].astype(np.float64), np.repeat(labelled[None], count, axis=0),
                                    np.full((count, 4), np.nan), np.full((count, 4), np.nan),
                                    scores[people].astype(np.float64), (), dict(gt.extra)))
        videos.append(PoseVideo(video.name, video.version, frames))
    return videos


def evaluate_poses(split: PoseTrackSplit, preds: np.ndarray, output_dir: str, all_boxes: np.ndarray,
                   numbers: np.ndarray, in_vis_thre: float, oks_thre: float) -> PoseTrackResult:
    """Rescoring, OKS-NMS per frame, prediction files and the benchmark's per-joint AP.

    Writes ``output_dir/posetrack_predictions/<video>.json`` (one per ground-truth video) and
    ``output_dir/posetrack_metrics.json`` (:func:`src.evaluate.posetrack_metrics.metrics_document`).

    Args:
        split: The ground truth (:func:`src.data.posetrack_records.read_split`).
        preds: N×17×3 ``[x, y, maxval]`` in image pixels.
        output_dir: The results folder (created if needed).
        all_boxes: N×6 ``[cx, cy, sx, sy, area, score]``.
        numbers: N frame numbers of the split (the records' image ids).
        in_vis_thre: Joint score counted in a person's score (``TEST.IN_VIS_THRE``).
        oks_thre: OKS-NMS threshold (``TEST.OKS_THRE``).

    Returns:
        The benchmark's figures (AP only; percent).
    """
    preds = np.asarray(preds, dtype=np.float64)
    all_boxes = np.asarray(all_boxes, dtype=np.float64)
    numbers = np.asarray(numbers).reshape(-1).astype(np.int64)
    if preds.shape[1:] != (NUM_POSETRACK_JOINTS, 3) or all_boxes.shape != (len(preds), 6) \
            or len(numbers) != len(preds):
        raise ValueError(f"evaluate_poses expects preds N×{NUM_POSETRACK_JOINTS}×3, all_boxes N×6 and N frame "
                         f"numbers; got {preds.shape}, {all_boxes.shape} and {numbers.shape}")
    if len(numbers) and (numbers.min() < 0 or numbers.max() >= len(split.frames)):
        raise DatasetFormatError(f"frame numbers up to {numbers.max()} predicted, but {split.folder} has "
                                 f"{len(split.frames)} frames; evaluate against the split that was predicted")
    labelled = list(POSETRACK_KEYPOINTS.labelled)
    scores = rescore(preds[:, labelled, 2], all_boxes[:, 5], in_vis_thre)
    keep = oks_nms_per_image(preds[:, labelled], scores, all_boxes[:, 4], numbers, oks_thre,
                             sigmas=[POSETRACK_KEYPOINTS.sigmas[j] for j in labelled])
    logger.info("OKS-NMS kept %d of %d person boxes over %d frames", len(keep), len(preds), len(np.unique(numbers)))

    folder = os.path.join(output_dir, PREDICTIONS_DIR)
    # The files are what is scored, so that the command above gives the same AP on them.
    written = [read_video(write_video(os.path.join(folder, video.name), video, predictions=True), predictions=True)
               for video in prediction_videos(split, preds[keep], scores[keep], numbers[keep])]
    logger.info("PoseTrack predictions of %d videos written to %s", len(written), folder)
    result = score_videos(list(zip(split.videos, written)), mot=False)
    write_json(os.path.join(output_dir, POSETRACK_METRICS_FILE), metrics_document(result, False), indent=1)
    return result


def evaluate_and_report(cfg: Any, preds: np.ndarray, output_dir: str, all_boxes: np.ndarray,
                        numbers: np.ndarray) -> float:
    """:func:`evaluate_poses` on the split ``DATASET.TEST_SET`` with the configuration's thresholds, then the AP
    table and the ``AP: <total>`` line (the benchmark's total AP, in percent)."""
    split = read_split(cfg.DATASET.ROOT, cfg.DATASET.TEST_SET)
    result = evaluate_poses(split, preds, output_dir, all_boxes, numbers, float(cfg.TEST.IN_VIS_THRE),
                            float(cfg.TEST.OKS_THRE))
    logger.info("PoseTrack eval results saved to %s", output_dir)
    print(ap_table(result))
    print(f"AP: {result.total_ap:.4f}")
    return result.total_ap


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = tool_parser("python -m src.evaluate.posetrack_eval", __doc__)
    parser.add_argument("--gt", nargs="+", required=True, help="PoseTrack ground-truth files or folders")
    parser.add_argument("--pred", nargs="+", required=True, help="prediction files or folders (same file names)")
    parser.add_argument("--output", default="", help=f"folder of {POSETRACK_METRICS_FILE}")
    parser.add_argument("--poseval_quirks", action="store_true",
                        help="also reproduce two details of poseval's MOT code (see docs/tracking.md)")
    args = parser.parse_args(argv)
    setup_logging()
    first = args.pred[0] if os.path.isdir(args.pred[0]) else os.path.dirname(os.path.abspath(args.pred[0]))
    result = score_files(args.gt, args.pred, args.output or os.path.join(first, "posetrack_eval"),
                         args.poseval_quirks)
    print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
