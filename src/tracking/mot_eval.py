"""Scores tracks against labelled videos: multi-object tracking (MOTA, IDF1, ID switches) and per-frame keypoint AP.

    python -m src.tracking.mot_eval --gt GT.json [GT2.json ...] --tracks tracks.json [tracks2.json ...]
                                    [--output DIR] [--min_oks 0.5]

The i-th tracks file (``track.py``'s ``tracks.json``) is scored against the i-th ground-truth file
(COCO keypoints with a ``track_id`` per person, as ``python -m src.synthetic_video`` writes); frames
are paired by file name, else by image id. Prints py-motmetrics' table (one row per sequence and
the overall row) and the COCO keypoint summary of all frames, and ends with the lines::

    AP: <float>
    MOTA: <float>
    IDF1: <float>
    ID switches: <int>

``--output`` (default: next to the first tracks file, ``tracking_eval/``) receives the merged
ground truth, the keypoint results and their statistics, and ``mot_summary.csv``.

Symbols: G labelled people and P tracked people of a frame, J joints.

People are matched to the labels by OKS as COCO's keypoint evaluation computes it (the label's
area and labelled joints, every predicted joint counted), through ``src.utils.nms.oks_iou``; a
pair with OKS under ``min_oks`` cannot match. The MOT metrics are py-motmetrics' (``motmetrics``)
with distance ``1 - OKS``. Labelled people without labelled joints (``num_keypoints`` 0: tiny or
wholly outside the frame) are left out, as COCO leaves them out of keypoint AP. Unlike
PoseTrack's MOTA, which counts joints, these figures count people.

Keypoint AP is the evaluation's (``src.evaluate.coco_eval.evaluate_keypoints``) on every tracked person of
every frame, with the tracker's scores.
"""
import os
import sys
from collections import defaultdict
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from src.constants import COCO_KEYPOINTS
from src.data.annotations import read_annotations, write_annotations
from src.errors import TrackingFilesError, import_optional
from src.evaluate.coco_eval import EvalSettings, evaluate_keypoints
from src.tracking.tracks_file import as_poses, read_tracks, tracks_keypoints
from src.utils.cli import run_cli, setup_logging, tool_parser
from src.utils.nms import oks_iou

#: The MOT metrics reported, in py-motmetrics' names.
MOT_METRICS = ("mota", "idf1", "num_switches", "num_false_positives", "num_misses", "num_objects",
               "num_unique_objects", "mostly_tracked", "mostly_lost", "motp")
#: Image ids of the i-th sequence are shifted by i times this when several are evaluated at once.
SEQUENCE_ID_STRIDE = 1_000_000


class LabelledFrame(NamedTuple):
    """One frame's labelled people: ``track_ids`` G, ``keypoints`` G×J×3 (visibility 0/1/2), ``areas`` G."""
    image_id: int
    file_name: str
    track_ids: np.ndarray
    keypoints: np.ndarray
    areas: np.ndarray


def load_ground_truth(path: str) -> Tuple[Dict[str, Any], List[LabelledFrame]]:
    """A COCO keypoint file whose annotations carry ``track_id``; its frames in image order.

    Images are ordered by ``frame_index`` when they have one, else by id.
    """
    doc = read_annotations(path, "ground-truth file")
    if "annotations" not in doc:
        raise TrackingFilesError(f"{path} is not a COCO annotation file (no 'images' and 'annotations')")
    by_image: Dict[int, List[Dict[str, Any]]] = defaultdict(list)
    for ann in doc["annotations"]:
        if "track_id" not in ann:
            raise TrackingFilesError(f"{path}: annotation {ann.get('id')} has no 'track_id'; the ground truth of "
                                     f"a video names each person's track (python -m src.synthetic_video writes it)")
        if ann.get("num_keypoints", 1) > 0:
            by_image[ann["image_id"]].append(ann)
    images = sorted(doc["images"], key=lambda im: (im.get("frame_index", im["id"]), im["id"]))
    frames = []
    for image in images:
        anns = by_image.get(image["id"], [])
        kpts = as_poses([ann["keypoints"] for ann in anns])
        frames.append(LabelledFrame(int(image["id"]), os.path.basename(image.get("file_name", "")),
                                    np.array([ann["track_id"] for ann in anns], dtype=np.int64), kpts,
                                    np.array([ann["area"] for ann in anns], dtype=np.float64)))
    return doc, frames


def tracked_by_frame(tracks: Dict[str, Any], frames: Sequence[LabelledFrame], tracks_path: str,
                      gt_path: str) -> List[Dict[str, Any]]:
    """The tracks.json frame of each labelled frame (by file name, else image id); empty when missing."""
    by_name = {f.get("file_name"): f for f in tracks["frames"]}
    by_id = {f.get("image_id"): f for f in tracks["frames"]}
    found = [by_name.get(frame.file_name) or by_id.get(frame.image_id) for frame in frames]
    if not any(found):
        raise TrackingFilesError(f"no frame of {tracks_path} is in {gt_path} (by file name or image id); "
                                 f"evaluate the tracks of the video this ground truth labels")
    return [f or {"people": []} for f in found]


def coco_oks(truth: np.ndarray, area: float, predicted: np.ndarray) -> np.ndarray:
    """OKS of P predicted poses (P×J×2 or P×J×3) against one label (J×3), as COCOeval computes it."""
    predicted = np.asarray(predicted, dtype=np.float64)
    if len(predicted) == 0:
        return np.zeros(0)
    counted = np.concatenate([predicted[:, :, :2], np.ones(predicted.shape[:2] + (1,))], axis=2)
    return oks_iou(truth, counted, float(area), np.full(len(predicted), float(area)), in_vis_thre=0)


def oks_matrix(frame: LabelledFrame, poses: np.ndarray) -> np.ndarray:
    """G×P OKS of the frame's labels against P predicted poses."""
    out = np.zeros((len(frame.track_ids), len(poses)))
    for g, (truth, area) in enumerate(zip(frame.keypoints, frame.areas)):
        out[g] = coco_oks(truth, area, poses)
    return out


def mot_accumulator(frames: Sequence[LabelledFrame], tracked: Sequence[Dict[str, Any]], min_oks: float = 0.5):
    """A ``motmetrics.MOTAccumulator`` of the tracked people against the labels, frame by frame."""
    mm = import_optional("motmetrics", "multi-object tracking metrics", "pip install motmetrics==1.4.0")
    acc = mm.MOTAccumulator(auto_id=False)
    for index, (frame, found) in enumerate(zip(frames, tracked)):
        people = found["people"]
        poses = as_poses([p["keypoints"] for p in people])
        oks = oks_matrix(frame, poses)
        distance = np.where(oks >= min_oks, 1.0 - oks, np.nan)
        acc.update(frame.track_ids.tolist(), [int(p["track_id"]) for p in people], distance, frameid=index)
    return acc


def mot_summary(accumulators: Sequence[Any], names: Sequence[str]):
    """A pandas DataFrame of :data:`MOT_METRICS`, one row per sequence and an ``OVERALL`` row."""
    mm = import_optional("motmetrics", "multi-object tracking metrics", "pip install motmetrics==1.4.0")
    return mm.metrics.create().compute_many(list(accumulators), metrics=list(MOT_METRICS), names=list(names),
                                             generate_overall=True)


def keypoint_ap(gt_docs: Sequence[Dict[str, Any]], gt_frames: Sequence[Sequence[LabelledFrame]],
                tracked: Sequence[Sequence[Dict[str, Any]]], settings: Dict[str, Any],
                output_dir: str) -> Dict[str, float]:
    """COCO keypoint statistics of every tracked person over all sequences.

    The sequences' image ids are made distinct (``SEQUENCE_ID_STRIDE``) in a merged annotation file
    written to ``output_dir``; the people go through evaluation (:func:`src.evaluate.coco_eval.evaluate_keypoints`)
    with the tracker's box scores and areas, so its rescoring and OKS-NMS give back the tracker's people.
    """
    images, annotations, preds, boxes, ids = [], [], [], [], []
    for s, (doc, frames, found) in enumerate(zip(gt_docs, gt_frames, tracked)):
        shift = s * SEQUENCE_ID_STRIDE
        new_id = {image["id"]: image["id"] + shift for image in doc["images"]}
        images += [{**image, "id": new_id[image["id"]]} for image in doc["images"]]
        annotations += [{**ann, "id": len(annotations) + k + 1, "image_id": new_id[ann["image_id"]]}
                        for k, ann in enumerate(doc["annotations"])]
        for frame, frame_found in zip(frames, found):
            for person in frame_found["people"]:
                x, y, w, h = person["bbox"]
                preds.append(np.asarray(person["keypoints"], dtype=np.float64).reshape(-1, 3))
                boxes.append([x + w / 2, y + h / 2, w / 200.0, h / 200.0, person["area"], person["box_score"]])
                ids.append(frame.image_id + shift)
    if not preds:
        raise TrackingFilesError("no tracked person in any labelled frame: nothing to score")
    os.makedirs(output_dir, exist_ok=True)
    ann_file = os.path.join(output_dir, "ground_truth.json")
    write_annotations(ann_file, {"images": images, "annotations": annotations, "categories": gt_docs[0]["categories"]})
    eval_settings = EvalSettings(float(settings["in_vis_thre"]), float(settings["oks_thre"]), ann_file)
    stats, _ = evaluate_keypoints(eval_settings, np.stack(preds), output_dir, np.array(boxes), np.array(ids))
    return dict(stats)


def score(gt_files: Sequence[str], tracks_files: Sequence[str], output_dir: str,
          min_oks: float = 0.5) -> Dict[str, float]:
    """Scores each tracks file against its ground truth; returns AP, MOTA, IDF1, ID switches, false
    positives, misses and labelled people over all sequences.

    Writes ``mot_summary.csv`` and the keypoint evaluation's files to ``output_dir``.
    """
    if len(gt_files) != len(tracks_files):
        raise TrackingFilesError(f"{len(gt_files)} ground-truth files but {len(tracks_files)} tracks files; "
                                 f"give one tracks file per ground-truth file, in the same order")
    docs, frames, tracked, accumulators, names = [], [], [], [], []
    settings = None
    for gt_file, tracks_file in zip(gt_files, tracks_files):
        doc, gt_frames = load_ground_truth(gt_file)
        tracks = read_tracks(tracks_file)
        joints = tracks_keypoints(tracks).name
        if joints != COCO_KEYPOINTS.name:
            raise TrackingFilesError(f"{tracks_file}: tracks in {joints} joints; these figures score COCO keypoints "
                                     f"against COCO labels: score them with PoseTrack's metrics (track.py --gt, "
                                     f"python -m src.evaluate.posetrack_eval)")
        settings = settings or tracks.get("settings") or {"in_vis_thre": 0.2, "oks_thre": 0.9}
        found = tracked_by_frame(tracks, gt_frames, tracks_file, gt_file)
        docs.append(doc)
        frames.append(gt_frames)
        tracked.append(found)
        accumulators.append(mot_accumulator(gt_frames, found, min_oks))
        names.append(os.path.splitext(os.path.basename(gt_file))[0])
    summary = mot_summary(accumulators, names)
    os.makedirs(output_dir, exist_ok=True)
    summary.to_csv(os.path.join(output_dir, "mot_summary.csv"))
    stats = keypoint_ap(docs, frames, tracked, settings, output_dir)
    print(summary.to_string(float_format=lambda v: f"{v:.3f}"))
    overall = summary.loc["OVERALL"]
    return {"AP": float(stats["AP"]), "MOTA": float(overall["mota"]), "IDF1": float(overall["idf1"]),
            "ID switches": int(overall["num_switches"]), "false positives": int(overall["num_false_positives"]),
            "misses": int(overall["num_misses"]), "people": int(overall["num_objects"])}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = tool_parser("python -m src.tracking.mot_eval", __doc__)
    parser.add_argument("--gt", nargs="+", required=True, help="ground-truth files (COCO keypoints with track_id)")
    parser.add_argument("--tracks", nargs="+", required=True, help="tracks.json files, one per ground-truth file")
    parser.add_argument("--output", default="", help="folder for the evaluation files")
    parser.add_argument("--min_oks", type=float, default=0.5, help="least OKS of a match (default 0.5)")
    args = parser.parse_args(argv)
    setup_logging()
    output = args.output or os.path.join(os.path.dirname(os.path.abspath(args.tracks[0])), "tracking_eval")
    result = score(args.gt, args.tracks, output, args.min_oks)
    print(f"AP: {result['AP']}")
    print(f"MOTA: {result['MOTA']}")
    print(f"IDF1: {result['IDF1']}")
    print(f"ID switches: {result['ID switches']}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
