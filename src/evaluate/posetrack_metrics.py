"""PoseTrack's benchmark metrics: per-joint AP and per-joint MOTA, MOTP, precision and recall, and their tables.

:func:`score_videos` scores pairs of videos (ground truth, predictions; :mod:`src.data.posetrack_files`);
:mod:`src.evaluate.posetrack_eval` scores files and folders of them and the pose network's predictions.

The definitions (PoseTrack's evaluation, "poseval", as its documentation and the PoseTrack paper,
Andriluka et al., CVPR 2018, give them; figures in percent):

* **Frames.** A video is scored on its labelled frames that have somebody annotated. In a frame with
  ignore regions, the joints inside them are removed from the labels and the predictions, and the
  people left without a joint are dropped.
* **Distance.** The distance of a predicted joint to a labelled one is divided by the person's head
  size, 0.6 × the diagonal of the labelled head box; within 0.5 (PCKh@0.5, inclusive) they match.
* **AP.** In each frame every prediction is paired with the labelled person it has the highest PCKh
  with (matched joints / the person's labelled joints); each labelled person keeps the best of the
  predictions paired with it, if its PCKh is above 0. A kept prediction's joints are true where they
  match the person's, false elsewhere; every joint of the other predictions is false. Per joint, all
  predicted joints of all frames and videos are ranked by score; AP is the area under the
  interpolated precision-recall curve (PASCAL VOC's, every point), recall counted against all
  labelled joints; the total is the mean over the 15 joints.
* **MOT.** Per video and joint, a py-motmetrics accumulator gets, frame by frame, the labelled people
  with that joint, the predicted people with that joint, and their normalised distances where they
  match (no match otherwise); it matches them over the video by their track ids (CLEAR MOT: kept
  matches first, then the least total distance). Summed over the videos, per joint:
  MOTA = 1 − (misses + false positives + id switches) / labelled joints, MOTP = 1 − the mean distance
  of the matches, precision = matches / (matches + false positives), recall = matches / labelled
  joints; each total is the mean over the 15 joints.
* **Table.** Head (head top, head bottom = neck, nose), Shou, Elb, Wri, Hip, Knee and Ankl are the
  means of their joints' figures; Total is the mean of all 15.

``poseval_quirks`` also reproduces two details of poseval's code that the definitions do not ask
for (see docs/tracking.md): the last scored frame of each video is left out of MOT, and a frame
with nobody labelled or nobody predicted counts one miss and one false positive per joint.
"""
import logging
from typing import Any, Dict, List, NamedTuple, Sequence, Tuple

import numpy as np

from src.data.posetrack_files import EVAL_JOINT_NAMES, EVAL_JOINTS, PoseFrame, PoseVideo, remove_ignored
from src.errors import PoseTrackFormatError, import_optional

logger = logging.getLogger(__name__)

#: Largest matching distance in head sizes (PCKh@0.5), and the head size in head-box diagonals.
PCKH_THRESHOLD, HEAD_SIZE_FACTOR = 0.5, 0.6
#: The benchmark's table columns: joints averaged per group (then "Total", the mean of all 15).
JOINT_GROUPS: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("Head", ("head_top", "head_bottom", "nose")),
    ("Shou", ("right_shoulder", "left_shoulder")),
    ("Elb", ("right_elbow", "left_elbow")),
    ("Wri", ("right_wrist", "left_wrist")),
    ("Hip", ("right_hip", "left_hip")),
    ("Knee", ("right_knee", "left_knee")),
    ("Ankl", ("right_ankle", "left_ankle")),
)
#: Track id of the stand-in person of ``poseval_quirks`` in frames with nobody labelled or predicted.
_PLACEHOLDER_ID = -1
NUM_EVAL_JOINTS = len(EVAL_JOINTS)


# ---------------------------------------------------------------------------------------------- one frame

def head_sizes(head_boxes: np.ndarray) -> np.ndarray:
    """G head sizes: ``HEAD_SIZE_FACTOR`` × the diagonal of G×4 ``[x1, y1, x2, y2]`` head boxes."""
    head_boxes = np.asarray(head_boxes, dtype=np.float64).reshape(-1, 4)
    return HEAD_SIZE_FACTOR * np.hypot(head_boxes[:, 2] - head_boxes[:, 0], head_boxes[:, 3] - head_boxes[:, 1])


def joint_distances(gt: PoseFrame, pred: PoseFrame) -> np.ndarray:
    """P×G×15 distances of the predicted joints to the labelled ones in the labelled person's head sizes;
    inf where either joint is missing (joints in :data:`EVAL_JOINT_NAMES` order)."""
    joints = list(EVAL_JOINTS)
    gt_xy, pred_xy = gt.poses[:, joints, :2], pred.poses[:, joints, :2]
    both = pred.present[:, None, joints] & gt.present[None, :, joints]
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.linalg.norm(pred_xy[:, None] - gt_xy[None], axis=3) / head_sizes(gt.head_boxes)[None, :, None]
    return np.where(both & ~np.isnan(dist), dist, np.inf)


def assign_people(dist: np.ndarray, gt_present: np.ndarray) -> np.ndarray:
    """The labelled person each prediction is scored against for AP (poseval's assignment).

    Each prediction's PCKh with each person is its matched joints over the person's labelled joints;
    a prediction is paired with its best person (the first on ties), and each person keeps the best
    of the predictions paired with it (the first on ties) when that PCKh is above 0.

    Args:
        dist: P×G×15 normalised distances (:func:`joint_distances`).
        gt_present: G×15 labelled joints.

    Returns:
        P int64: the person's index, or -1 for a prediction left unassigned.
    """
    num_pred, num_gt = dist.shape[:2]
    assigned = np.full(num_pred, -1, dtype=np.int64)
    if num_pred == 0 or num_gt == 0:
        return assigned
    pckh = (dist <= PCKH_THRESHOLD).sum(axis=2) / np.maximum(gt_present.sum(axis=1), 1)[None, :]
    best_gt = np.argmax(pckh, axis=1)
    paired = np.zeros_like(pckh)
    paired[np.arange(num_pred), best_gt] = pckh[np.arange(num_pred), best_gt]
    best_pred = np.argmax(paired, axis=0)
    kept = paired[best_pred, np.arange(num_gt)] > 0
    assigned[best_pred[kept]] = np.flatnonzero(kept)
    return assigned


class FrameResult(NamedTuple):
    """What one frame adds to the metrics (joints in :data:`EVAL_JOINT_NAMES` order; P predictions).

    ``scores`` P×15 predicted joint scores; ``predicted`` P×15; ``correct`` P×15 (true positives for AP);
    ``num_labelled`` 15 labelled joints; ``mot`` per joint ``(labelled track ids, predicted track ids,
    distances labelled × predicted, NaN where they do not match)``.
    """
    scores: np.ndarray
    predicted: np.ndarray
    correct: np.ndarray
    num_labelled: np.ndarray
    mot: List[Tuple[np.ndarray, np.ndarray, np.ndarray]]


def score_frame(gt: PoseFrame, pred: PoseFrame) -> FrameResult:
    """The AP and MOT inputs of one frame (ignore regions already removed)."""
    joints = list(EVAL_JOINTS)
    dist = joint_distances(gt, pred)
    gt_present, predicted = gt.present[:, joints], pred.present[:, joints]
    assigned = assign_people(dist, gt_present)
    match = dist <= PCKH_THRESHOLD
    correct = np.zeros_like(predicted)
    kept = np.flatnonzero(assigned >= 0)
    correct[kept] = match[kept, assigned[kept]] & predicted[kept]
    mot = []
    for j in range(NUM_EVAL_JOINTS):
        g, p = np.flatnonzero(gt_present[:, j]), np.flatnonzero(predicted[:, j])
        pair = dist[np.ix_(p, g, [j])][:, :, 0].T
        mot.append((gt.track_ids[g], pred.track_ids[p], np.where(pair <= PCKH_THRESHOLD, pair, np.nan)))
    return FrameResult(pred.poses[:, joints, 2], predicted, correct, gt_present.sum(axis=0), mot)


# ---------------------------------------------------------------------------------------------- metrics

def average_precision(scores: np.ndarray, correct: np.ndarray, num_labelled: int) -> Tuple[float, float, float]:
    """PASCAL VOC's AP (every point of the interpolated precision-recall curve) of ranked detections.

    Args:
        scores: N detection scores (ranked by descending score; ties keep their order).
        correct: N true positives.
        num_labelled: Labelled instances (recall's denominator).

    Returns:
        ``(AP, precision, recall)`` in [0, 1], the last two at the end of the ranking; NaN when
        nothing is labelled, 0 when nothing is detected.
    """
    if num_labelled == 0:
        return float("nan"), float("nan"), float("nan")
    if len(scores) == 0:
        return 0.0, 0.0, 0.0
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    hits = np.cumsum(np.asarray(correct, dtype=np.float64)[order])
    recall = hits / num_labelled
    precision = hits / np.arange(1, len(hits) + 1)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.maximum.accumulate(np.concatenate([[0.0], precision, [0.0]])[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[steps] - mrec[steps - 1]) * mpre[steps])), float(precision[-1]), float(recall[-1])


class PoseTrackResult(NamedTuple):
    """The benchmark's figures, in percent, per joint (15, :data:`EVAL_JOINT_NAMES` order) and in total.

    ``ap``, ``ap_precision``, ``ap_recall``: the AP evaluation; ``mota``, ``motp``, ``precision``,
    ``recall``: the MOT evaluation; ``counts``: per joint ``labelled``, ``matches``, ``misses``,
    ``false_positives``, ``switches`` (MOT); ``videos`` and ``frames`` scored.
    """
    ap: np.ndarray
    ap_precision: np.ndarray
    ap_recall: np.ndarray
    mota: np.ndarray
    motp: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    counts: Dict[str, np.ndarray]
    videos: int
    frames: int

    @property
    def total_ap(self) -> float:
        return total(self.ap)

    @property
    def total_mota(self) -> float:
        return total(self.mota)


def total(values: np.ndarray) -> float:
    """The benchmark's total: the mean over the joints that have a figure (NaN when none has)."""
    values = np.asarray(values, dtype=np.float64)
    return float(values[~np.isnan(values)].mean()) if (~np.isnan(values)).any() else float("nan")


def grouped(values: np.ndarray) -> List[float]:
    """The table's row: the mean of each :data:`JOINT_GROUPS` group, then the :func:`total`."""
    values = np.asarray(values, dtype=np.float64)
    row = [float(values[[EVAL_JOINT_NAMES.index(name) for name in names]].mean()) for _, names in JOINT_GROUPS]
    return row + [total(values)]


def scored_frames(gt: PoseVideo, pred: PoseVideo) -> List[Tuple[PoseFrame, PoseFrame]]:
    """The pairs (labels, predictions) of the frames ``gt`` is scored on, ignore regions removed.

    Predicted frames are found by file name, else (2018 files) by image id; a labelled frame without
    predictions has nobody predicted; a predicted frame not in ``gt`` is an error.
    """
    by_name = {frame.name: k for k, frame in enumerate(gt.frames)}
    by_id = {frame.image_id: k for k, frame in enumerate(gt.frames)} if gt.version == pred.version == 2018 else {}
    found: Dict[int, PoseFrame] = {}
    for frame in pred.frames:
        k = by_name.get(frame.name, by_id.get(frame.image_id))
        if k is None:
            raise PoseTrackFormatError(f"{pred.path}: frame {frame.name} is not in {gt.path}; predictions must "
                                       f"name the ground truth's frames")
        found[k] = frame
    pairs = []
    for k, frame in enumerate(gt.frames):
        if not frame.labelled or len(frame.track_ids) == 0:
            continue
        predicted = found.get(k) or PoseFrame.empty(frame.name, frame.image_id)
        pairs.append((remove_ignored(frame, frame.ignore_regions), remove_ignored(predicted, frame.ignore_regions)))
    missing = sum(1 for k, frame in enumerate(gt.frames) if k not in found and frame.labelled and len(frame.track_ids))
    if missing:
        logger.info("%s: %d labelled frames have no predictions (nobody predicted there)", pred.path, missing)
    return pairs


def score_videos(videos: Sequence[Tuple[PoseVideo, PoseVideo]], poseval_quirks: bool = False,
                 mot: bool = True) -> PoseTrackResult:
    """The benchmark's metrics of ``(ground truth, predictions)`` video pairs (see the module docstring).

    Args:
        videos: Pairs of one video's ground truth and predictions.
        poseval_quirks: Also reproduce poseval's two implementation details (the module docstring).
        mot: Also the MOT metrics; without them (pose estimation, no tracks) MOTA, MOTP, precision and
            recall are NaN and the MOT counts zero.
    """
    mm = import_optional("motmetrics", "PoseTrack's MOT metrics", "pip install motmetrics==1.4.0") if mot else None
    handler = mm.metrics.create() if mot else None
    counts = {name: np.zeros(NUM_EVAL_JOINTS) for name in _MOT_COUNTS + ("distance",)}
    scores, correct = [[] for _ in range(NUM_EVAL_JOINTS)], [[] for _ in range(NUM_EVAL_JOINTS)]
    labelled, num_frames = np.zeros(NUM_EVAL_JOINTS), 0
    for gt, pred in videos:
        pairs = scored_frames(gt, pred)
        num_frames += len(pairs)
        accumulators = [mm.MOTAccumulator(auto_id=True) for _ in range(NUM_EVAL_JOINTS)] if mot else []
        for k, (gt_frame, pred_frame) in enumerate(pairs):
            result = score_frame(gt_frame, pred_frame)
            labelled += result.num_labelled
            for j in range(NUM_EVAL_JOINTS):
                scores[j].append(result.scores[result.predicted[:, j], j])
                correct[j].append(result.correct[result.predicted[:, j], j])
            if poseval_quirks and k == len(pairs) - 1:
                continue
            stand_in = poseval_quirks and (len(gt_frame.track_ids) == 0 or len(pred_frame.track_ids) == 0)
            for acc, (gt_ids, pred_ids, dist) in zip(accumulators, result.mot):
                if stand_in:
                    acc.update([_PLACEHOLDER_ID], [_PLACEHOLDER_ID], np.full((1, 1), np.nan))
                else:
                    acc.update(gt_ids.tolist(), pred_ids.tolist(), dist)
        for j, acc in enumerate(accumulators):
            for name, value in _mot_counts(handler, acc).items():
                counts[name][j] += value
    ap = np.array([average_precision(np.concatenate(scores[j]), np.concatenate(correct[j]), int(labelled[j]))
                   for j in range(NUM_EVAL_JOINTS)]).reshape(NUM_EVAL_JOINTS, 3)
    if mot:
        mota, motp, precision, recall = mot_figures(counts)
    else:
        mota = motp = precision = recall = np.full(NUM_EVAL_JOINTS, np.nan)
    kept = {"labelled": "num_objects", "matches": "num_detections", "misses": "num_misses",
            "false_positives": "num_false_positives", "switches": "num_switches"}
    return PoseTrackResult(100 * ap[:, 0], 100 * ap[:, 1], 100 * ap[:, 2], 100 * mota, 100 * motp, 100 * precision,
                           100 * recall, {key: counts[name].astype(np.int64) for key, name in kept.items()},
                           len(videos), num_frames)


#: py-motmetrics' counts the MOT figures are made of.
_MOT_COUNTS = ("num_objects", "num_misses", "num_false_positives", "num_switches", "num_detections")


def _mot_counts(handler: Any, acc: Any) -> Dict[str, float]:
    """An accumulator's :data:`_MOT_COUNTS` and ``distance``, the summed distance of its matches.

    Only the matched pairs' distances (events ``MATCH`` and ``SWITCH``): py-motmetrics also records a
    ``RAW`` event, with its distance, for every candidate pair.
    """
    counts = handler.compute(acc, metrics=list(_MOT_COUNTS), return_dataframe=False, name="joint")
    events = acc.mot_events
    distance = float(np.nansum(events.loc[events.Type.isin(["MATCH", "SWITCH"]), "D"]))
    return {**{name: float(counts[name]) for name in _MOT_COUNTS}, "distance": distance}


def mot_figures(counts: Dict[str, np.ndarray]) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per joint MOTA, MOTP, precision and recall in [0, 1] of summed :func:`_mot_counts`.

    MOTA and recall are NaN where nothing is labelled, precision where nothing is predicted; MOTP is 0
    where nothing matches (as poseval's).
    """
    labelled = np.where(counts["num_objects"] > 0, counts["num_objects"], np.nan)
    matches, false_positives = counts["num_detections"], counts["num_false_positives"]
    predicted = np.where(matches + false_positives > 0, matches + false_positives, np.nan)
    mota = 1.0 - (counts["num_misses"] + false_positives + counts["num_switches"]) / labelled
    motp = np.where(matches > 0, 1.0 - counts["distance"] / np.maximum(matches, 1), 0.0)
    return mota, motp, matches / predicted, matches / labelled


# ---------------------------------------------------------------------------------------------- tables

def _row(values: Sequence[float]) -> str:
    return " ".join(f"{v:6.1f}" for v in values)


def ap_table(result: PoseTrackResult) -> str:
    """The benchmark's AP table (percent): AP per joint group and total."""
    groups = [name for name, _ in JOINT_GROUPS] + ["Total"]
    return "\n".join([f"Average Precision (AP), PCKh@{PCKH_THRESHOLD} ({result.videos} videos, {result.frames} "
                      f"frames):", " ".join(f"{g:>6}" for g in groups), _row(grouped(result.ap))])


def benchmark_table(result: PoseTrackResult) -> str:
    """The benchmark's two tables (percent): AP per joint group and total (:func:`ap_table`); MOTA per joint
    group and total, with the total MOTP, precision and recall."""
    groups = [name for name, _ in JOINT_GROUPS] + ["Total"]
    lines = [ap_table(result),
             "Multiple Object Tracking (MOT):",
             " ".join(f"{m:>6}" for m in ["MOTA"] * 8 + ["MOTP", "Prec", "Rec"]),
             " ".join(f"{g:>6}" for g in groups + ["Total"] * 3),
             _row(grouped(result.mota) + [total(result.motp), total(result.precision), total(result.recall)])]
    return "\n".join(lines)


def metrics_document(result: PoseTrackResult, poseval_quirks: bool) -> Dict[str, Any]:
    """``posetrack_metrics.json``: the per-joint figures, their totals and the table's rows."""
    per_joint = {key: [None if np.isnan(v) else round(float(v), 4) for v in getattr(result, key)]
                 for key in ("ap", "ap_precision", "ap_recall", "mota", "motp", "precision", "recall")}
    return {"joints": list(EVAL_JOINT_NAMES), **per_joint,
            "counts": {key: value.tolist() for key, value in result.counts.items()},
            "total": {key: total(getattr(result, key)) for key in per_joint},
            "groups": [name for name, _ in JOINT_GROUPS] + ["Total"],
            "ap_row": grouped(result.ap), "mota_row": grouped(result.mota),
            "videos": result.videos, "frames": result.frames, "poseval_quirks": poseval_quirks}


def report(result: PoseTrackResult) -> str:
    """The benchmark's tables followed by the lines ``Total AP: <float>`` and ``Total MOTA: <float>``."""
    return f"{benchmark_table(result)}\nTotal AP: {result.total_ap:.4f}\nTotal MOTA: {result.total_mota:.4f}"
