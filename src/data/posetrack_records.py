"""Person records of PoseTrack 2018 (the ``posetrack`` data set type's): the labelled people of its labelled
frames, or the detections on them.

``DATASET.DATASET posetrack`` (:mod:`src.dataset_types`) makes ``train.py`` and ``eval.py`` read a split of
PoseTrack: the annotation files (one per video, read by :func:`src.data.posetrack_files.read_video`, the format's
one reader) in ``DATASET.ROOT/annotations/<split>/`` (else ``DATASET.ROOT/<split>/``), the frames at
``DATASET.ROOT/<file_name>``. The records are the same :class:`src.data.records.PersonRecords` COCO's are, so the
same crops, targets, sampler and network run on them.

**Records** (:func:`ground_truth_records`): one per labelled person of a labelled frame, joints in PoseTrack's
17 slots with the labelled ones visible. Joints inside the frame's ignore regions are dropped, as the benchmark
drops them, and so are people left with none. The box is the annotation's ``bbox``, else the box of the labelled
joints and the head box. With detections (:func:`detection_records`) a record is a detected box of a labelled
frame. A record's image id is the frame's number in the split (files in name order, frames in file order):
PoseTrack's own ids (``10003420000``) do not fit the dataset's int32 ``id`` column, and 2017 files have none.
The evaluation of the predicted poses is :mod:`src.evaluate.posetrack_eval`'s.

Symbols: N records, J = 17 joints.
"""
import logging
import os
from collections import Counter
from typing import Dict, List, NamedTuple, Tuple

import numpy as np

from src.data.detections import find_detection_file, read_detections
from src.data.posetrack_files import PoseFrame, PoseVideo, read_video, remove_ignored, video_files
from src.data.posetrack_joints import NUM_POSETRACK_JOINTS
from src.data.records import PersonRecords, RecordSettings, require_usable
from src.errors import ConfigError, DatasetFormatError, DatasetNotFoundError, PoseTrackFormatError, shown_path

logger = logging.getLogger(__name__)

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
    """Every annotation file of ``split`` (2018 or 2017 format; :func:`src.data.posetrack_files.video_files`).

    Raises:
        DatasetNotFoundError: no annotation folder (:func:`annotation_folder`).
        DatasetFormatError: a folder without ``.json`` files.
        PoseTrackFormatError: a file that is not PoseTrack's, naming the file and the problem.
    """
    folder = annotation_folder(root, split)
    files = video_files(folder)
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


def read_posetrack_records(settings: RecordSettings) -> PersonRecords:
    """The records ``settings`` ask for, of the split ``settings.split``: the labelled people (training,
    ``gt_boxes``), else the detections of ``settings.bbox_file`` (found as
    :func:`src.data.detections.find_detection_file` finds it) scoring at least ``settings.min_score``.

    Raises:
        ConfigError: COCO's annotation file or image folder given (a split is a folder of files).
        DatasetNotFoundError, DatasetFormatError, PoseTrackFormatError: see :func:`read_split`; no records.
        ImageReadError: a missing evaluation image.
    """
    if settings.ann_file or settings.image_dir:
        raise ConfigError(f"an annotation file and image folder name COCO's files; DATASET.DATASET posetrack reads "
                          f"the split's folder of DATASET.ROOT ({settings.root}, split {settings.split})")
    split = read_split(settings.root, settings.split)
    if settings.labelled:
        records = ground_truth_records(split)._replace(origin=split.folder)
    else:
        path = find_detection_file(settings.bbox_file, settings.root)
        records = detection_records(split, path, settings.min_score)
        records = records._replace(origin=f"{path} (frames of {split.folder})")
    logger.info("%d person records from %s", len(records.image_files), records.origin)
    return require_usable(records, settings, f"Check that DATASET.ROOT holds the images {records.origin} names.")
