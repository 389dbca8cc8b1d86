"""PoseTrack 2018 as a data set of the pose network: person records of its labelled frames, and the evaluation
of predicted poses by the benchmark's per-joint AP.

``DATASET.DATASET posetrack`` (:data:`src.constants.KEYPOINT_SETS`) makes ``train.py`` and ``eval.py`` read
a split of PoseTrack: the annotation files (one per video, read by :func:`src.tracking.posetrack.read_video`,
the format's one reader) in ``DATASET.ROOT/annotations/<split>/`` (else ``DATASET.ROOT/<split>/``), the frames
at ``DATASET.ROOT/<file_name>``. The records are the same :class:`src.data.coco_records.PersonRecords` the COCO
path makes, so the same crops, targets, sampler and network run on them.

**Records** (:func:`ground_truth_records`): one per labelled person of a labelled frame, joints in PoseTrack's
17 slots with the labelled ones visible. Joints inside the frame's ignore regions are dropped, as the benchmark
drops them, and so are people left with none. The box is the annotation's ``bbox``, else the box of the labelled
joints and the head box. With detections (:func:`detection_records`) a record is a detected box of a labelled
frame. A record's image id is the frame's number in the split (files in name order, frames in file order):
PoseTrack's own ids (``10003420000``) do not fit the dataset's int32 ``id`` column, and 2017 files have none.

**Evaluation** (:func:`evaluate`): the poses are rescored and thinned by OKS-NMS per frame as COCO's are
(:mod:`src.evaluate.coco_eval`), both over the 15 joints PoseTrack labels (the ears, never labelled, would only
add noise), with :data:`src.constants.POSETRACK_SIGMAS`; then written as one PoseTrack prediction file per video
(``<results>/posetrack_predictions/<video>.json``, the ground truth's format and frames, people numbered per
frame as track ids) and scored by :func:`src.tracking.posetrack_eval.evaluate` without its MOT part (single
frames carry no tracks): per-joint AP at PCKh@0.5, in percent.

Symbols: N records or predicted people, J = 17 joints.
"""
import glob
import logging
import os
from collections import Counter
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import numpy as np

from src.constants import KEYPOINT_SETS
from src.data.coco_records import PersonRecords, resolve_bbox_file
from src.data.detections import read_detections
from src.errors import DatasetFormatError, DatasetNotFoundError, PoseTrackFormatError, shown_path
from src.evaluate.coco_eval import rescore
from src.tracking.posetrack import NUM_POSETRACK_JOINTS, PoseFrame, PoseVideo, read_video, write_video
from src.tracking.posetrack_eval import (METRICS_FILE, TRACKS_FILE, PoseTrackResult, ap_table, metrics_document,
                                         remove_ignored)
from src.tracking.posetrack_eval import evaluate as benchmark_evaluate
from src.utils.jsonio import write_json
from src.utils.nms import oks_nms_per_image

logger = logging.getLogger(__name__)

POSETRACK = KEYPOINT_SETS["posetrack"]
#: Folder of the prediction files in the results folder.
PREDICTIONS_DIR = "posetrack_predictions"
HOW_TO_GET_POSETRACK = ("Download PoseTrack 2018 (images/ and annotations/) from https://posetrack.net and set "
                        "DATASET.ROOT to its folder, or write synthetic videos in its format with `python -m "
                        "src.synthetic_video --output DIR --posetrack` and set DATASET.ROOT DIR and the split "
                        "(DATASET.TRAIN_SET, DATASET.TEST_SET) posetrack18")


class PoseTrackSplit(NamedTuple):
    """The annotation files of a split: ``videos`` in file-name order, and per frame number of the split (the
    records' image id) its ``(video, frame)`` indices in ``frames``.

    Attributes:
        root: ``DATASET.ROOT``, the folder the frames' file names are relative to.
        folder: The annotation folder.
        videos: The files' videos.
        frames: ``(video index, frame index)`` of each frame of the split, in order.
    """
    root: str
    folder: str
    videos: List[PoseVideo]
    frames: List[Tuple[int, int]]

    def frame(self, number: int) -> PoseFrame:
        video, frame = self.frames[number]
        return self.videos[video].frames[frame]

    def image_file(self, number: int) -> str:
        return os.path.join(self.root, self.frame(number).name)


def annotation_folder(root: str, split: str) -> str:
    """``root/annotations/<split>`` (PoseTrack's layout), else ``root/<split>``.

    Raises:
        DatasetNotFoundError: neither is a folder (naming both and how to get the data).
    """
    if not os.path.isdir(root):
        raise DatasetNotFoundError(f"PoseTrack root (DATASET.ROOT) not found: {shown_path(root)}. "
                                   f"{HOW_TO_GET_POSETRACK}")
    candidates = [os.path.join(root, "annotations", split), os.path.join(root, split)]
    for folder in candidates:
        if os.path.isdir(folder):
            return folder
    raise DatasetNotFoundError(f"no PoseTrack annotation folder for split '{split}' (tried "
                               f"{', '.join(map(shown_path, candidates))}); set DATASET.TRAIN_SET/TEST_SET to a "
                               f"split of DATASET.ROOT (train, val). {HOW_TO_GET_POSETRACK}")


def read_split(root: str, split: str) -> PoseTrackSplit:
    """Every annotation file of ``split`` (2018 or 2017 format; ``tracks.json`` and ``posetrack_metrics.json``
    are passed over).

    Raises:
        DatasetNotFoundError: no annotation folder (:func:`annotation_folder`).
        DatasetFormatError: a folder without ``.json`` files.
        PoseTrackFormatError: a file that is not PoseTrack's, naming the file and the problem.
    """
    folder = annotation_folder(root, split)
    files = sorted(f for f in glob.glob(os.path.join(folder, "*.json"))
                   if os.path.basename(f) not in (TRACKS_FILE, METRICS_FILE))
    if not files:
        raise DatasetFormatError(f"no PoseTrack annotation files (*.json) in {folder}. {HOW_TO_GET_POSETRACK}")
    videos = [read_video(path) for path in files]
    frames = [(v, f) for v, video in enumerate(videos) for f in range(len(video.frames))]
    logger.info("PoseTrack split %s: %d videos, %d frames (%d labelled) in %s", split, len(videos), len(frames),
                sum(frame.labelled for video in videos for frame in video.frames), folder)
    return PoseTrackSplit(root, folder, videos, frames)


# ---------------------------------------------------------------------------------------------- records

def _person_boxes(frame: PoseFrame) -> np.ndarray:
    """P×4 ``[x, y, w, h]``: the annotation's box, else the box of the labelled joints and the head box."""
    boxes = np.array(frame.boxes, dtype=np.float64).reshape(-1, 4)
    missing = ~np.isfinite(boxes).all(axis=1) | (boxes[:, 2] <= 0) | (boxes[:, 3] <= 0)
    for p in np.flatnonzero(missing):
        points = frame.poses[p, frame.present[p], :2]
        head = frame.head_boxes[p]
        if np.isfinite(head).all():
            points = np.concatenate([points, head.reshape(2, 2)])
        low, high = points.min(axis=0), points.max(axis=0)
        boxes[p] = [low[0], low[1], high[0] - low[0], high[1] - low[1]]
    return boxes


def ground_truth_records(split: PoseTrackSplit) -> PersonRecords:
    """One record per labelled person of each labelled frame (see the module docstring)."""
    files, boxes, joints, vis, numbers = [], [], [], [], []
    dropped = Counter()
    for number in range(len(split.frames)):
        frame = split.frame(number)
        if not frame.labelled or len(frame.track_ids) == 0:
            continue
        labelled = frame.present.any(axis=1)
        dropped["without labelled joints"] += int((~labelled).sum())
        frame = frame.take(labelled)
        kept = remove_ignored(frame, frame.ignore_regions)
        dropped["in ignore regions"] += len(frame.track_ids) - len(kept.track_ids)
        person_boxes = _person_boxes(kept)
        sized = (person_boxes[:, 2] > 0) & (person_boxes[:, 3] > 0)
        dropped["without a box"] += int((~sized).sum())   # (one joint and no head box: nothing to crop)
        kept = kept.take(sized)
        if len(kept.track_ids) == 0:
            continue
        files += [split.image_file(number)] * len(kept.track_ids)
        boxes.append(person_boxes[sized])
        xy = np.zeros((len(kept.track_ids), NUM_POSETRACK_JOINTS, 3), np.float32)
        xy[:, :, :2] = np.where(kept.present[:, :, None], kept.poses[:, :, :2], 0.0)
        joints.append(xy)
        vis.append(np.repeat(kept.present[:, :, None], 3, axis=2).astype(np.float32))
        numbers += [number] * len(kept.track_ids)
    left_out = [f"{n} {why}" for why, n in dropped.items() if n]
    if left_out:
        logger.info("people left out: %s", ", ".join(left_out))
    count = len(files)
    return PersonRecords(files, np.concatenate(boxes) if boxes else np.zeros((0, 4)),
                         np.concatenate(joints) if joints else np.zeros((0, NUM_POSETRACK_JOINTS, 3), np.float32),
                         np.concatenate(vis) if vis else np.zeros((0, NUM_POSETRACK_JOINTS, 3), np.float32),
                         np.ones(count, np.float32), np.asarray(numbers, np.int64))


def _frame_lookup(split: PoseTrackSplit) -> Tuple[Dict[int, int], Dict[str, int]]:
    """Frame numbers by PoseTrack image id (2018 files; unique over the split) and by file name."""
    by_id: Dict[int, int] = {}
    by_name: Dict[str, int] = {}
    for number, (v, _) in enumerate(split.frames):
        frame = split.frame(number)
        by_name[frame.name] = number
        if split.videos[v].version == 2018:
            if frame.image_id in by_id:
                other = split.videos[split.frames[by_id[frame.image_id]][0]].path
                raise PoseTrackFormatError(f"{split.videos[v].path}: image id {frame.image_id} is also in {other}; "
                                           f"detections name frames by PoseTrack's image ids, unique in a split")
            by_id[frame.image_id] = number
    return by_id, by_name


def detection_records(split: PoseTrackSplit, bbox_file: str, min_score: float = 0.0) -> PersonRecords:
    """One record per person detection of a labelled frame with ``score >= min_score``.

    Args:
        split: The split.
        bbox_file: COCO detection results: ``image_id`` PoseTrack's image id, or ``file_name`` the frame's
            ``file_name`` as the annotation file writes it.
        min_score: ``TEST.IMAGE_THRE``.

    Raises:
        BoxesError: a malformed detection file (:func:`src.data.detections.read_detections`).
    """
    by_id, by_name = _frame_lookup(split)
    files, boxes, scores, numbers = [], [], [], []
    skipped = Counter()
    for det in read_detections(bbox_file, "detection file"):
        number = by_name.get(str(det["file_name"])) if "file_name" in det else None
        if number is None and "image_id" in det:
            number = by_id.get(det["image_id"])
        score = float(det.get("score", 1.0))
        if number is None:
            skipped["of frames not in the split"] += 1
        elif not split.frame(number).labelled:
            skipped["of unlabelled frames"] += 1
        elif score >= min_score:
            files.append(split.image_file(number))
            boxes.append([float(v) for v in det["bbox"][:4]])
            scores.append(score)
            numbers.append(number)
    if skipped:
        logger.info("detections of %s left out: %s", bbox_file, ", ".join(f"{n} {why}" for why, n in skipped.items()))
    if skipped["of frames not in the split"]:
        logger.warning("%d detections in %s name frames not in %s (by image_id or file_name)",
                       skipped["of frames not in the split"], bbox_file, split.folder)
    count = len(files)
    return PersonRecords(files, np.asarray(boxes, np.float64).reshape(-1, 4),
                         np.zeros((count, NUM_POSETRACK_JOINTS, 3), np.float32),
                         np.ones((count, NUM_POSETRACK_JOINTS, 3), np.float32), np.asarray(scores, np.float32),
                         np.asarray(numbers, np.int64))


def posetrack_records(cfg: Any, train_mode: bool, bbox_file: Optional[str] = None) -> Tuple[PersonRecords, str]:
    """The records of the configuration's split and where they came from (for ``src.dataset``'s messages).

    Training and ``TEST.USE_GT_BBOX`` take the labelled people; evaluation otherwise the detections of
    ``bbox_file`` (default ``TEST.COCO_BBOX_FILE``, found as :func:`src.data.coco_records.resolve_bbox_file`
    finds it) scoring at least ``TEST.IMAGE_THRE``.
    """
    split = read_split(cfg.DATASET.ROOT, cfg.DATASET.TRAIN_SET if train_mode else cfg.DATASET.TEST_SET)
    if train_mode or cfg.TEST.USE_GT_BBOX:
        return ground_truth_records(split), split.folder
    path = resolve_bbox_file(cfg, bbox_file)
    return detection_records(split, path, float(cfg.TEST.IMAGE_THRE)), f"{path} (frames of {split.folder})"


# ---------------------------------------------------------------------------------------------- evaluation

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
    labelled[list(POSETRACK.labelled)] = True
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


def evaluate(split: PoseTrackSplit, preds: np.ndarray, output_dir: str, all_boxes: np.ndarray,
             numbers: np.ndarray, in_vis_thre: float, oks_thre: float) -> PoseTrackResult:
    """Rescoring, OKS-NMS per frame, prediction files and the benchmark's per-joint AP.

    Writes ``output_dir/posetrack_predictions/<video>.json`` (one per ground-truth video) and
    ``output_dir/posetrack_metrics.json`` (:func:`src.tracking.posetrack_eval.metrics_document`).

    Args:
        split: The ground truth (:func:`read_split`).
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
        raise ValueError(f"evaluate expects preds N×{NUM_POSETRACK_JOINTS}×3, all_boxes N×6 and N frame numbers; "
                         f"got {preds.shape}, {all_boxes.shape} and {numbers.shape}")
    if len(numbers) and (numbers.min() < 0 or numbers.max() >= len(split.frames)):
        raise DatasetFormatError(f"frame numbers up to {numbers.max()} predicted, but {split.folder} has "
                                 f"{len(split.frames)} frames; evaluate against the split that was predicted")
    labelled = list(POSETRACK.labelled)
    scores = rescore(preds[:, labelled, 2], all_boxes[:, 5], in_vis_thre)
    keep = oks_nms_per_image(preds[:, labelled], scores, all_boxes[:, 4], numbers, oks_thre,
                             sigmas=[POSETRACK.sigmas[j] for j in labelled])
    logger.info("OKS-NMS kept %d of %d person boxes over %d frames", len(keep), len(preds), len(np.unique(numbers)))

    folder = os.path.join(output_dir, PREDICTIONS_DIR)
    # The files are what is scored, so that the benchmark's own command gives the same AP on them.
    written = [read_video(write_video(os.path.join(folder, video.name), video, predictions=True), predictions=True)
               for video in prediction_videos(split, preds[keep], scores[keep], numbers[keep])]
    logger.info("PoseTrack predictions of %d videos written to %s", len(written), folder)
    result = benchmark_evaluate(list(zip(split.videos, written)), mot=False)
    write_json(os.path.join(output_dir, METRICS_FILE), metrics_document(result, False), indent=1)
    return result


def evaluate_and_report(cfg: Any, preds: np.ndarray, output_dir: str, all_boxes: np.ndarray,
                        numbers: np.ndarray) -> float:
    """:func:`evaluate` on the split ``DATASET.TEST_SET`` with the configuration's thresholds, then the AP table
    and the ``AP: <total>`` line (the benchmark's total AP, in percent)."""
    split = read_split(cfg.DATASET.ROOT, cfg.DATASET.TEST_SET)
    result = evaluate(split, preds, output_dir, all_boxes, numbers, float(cfg.TEST.IN_VIS_THRE),
                      float(cfg.TEST.OKS_THRE))
    logger.info("PoseTrack eval results saved to %s", output_dir)
    print(ap_table(result))
    print(f"AP: {result.total_ap:.4f}")
    return result.total_ap
