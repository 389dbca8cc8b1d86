"""Person records, whatever the data set type: what a type's reader returns and what it is asked for.

A record is a person to crop: its image file, box, joints and score. Each data set type reads its own files
(:mod:`src.data.coco_records`, :mod:`src.data.posetrack_records`; the table of types is
:mod:`src.dataset_types`) into the same :class:`PersonRecords`, so the same crops, targets, sampler and
network run on all of them. A reader is told what to read by :class:`RecordSettings`, built once from the
configuration, and ends with :func:`require_usable`.

Symbols: N records, J joints. Joints are ``[x, y, 0]`` in image pixels (N×J×3) with a visibility of 0/1
repeated per coordinate (N×J×3), as in the reference.
"""
import os
from dataclasses import dataclass
from typing import Any, List, NamedTuple, Optional

import numpy as np

from src.errors import DatasetFormatError, ImageReadError, shown_path


class PersonRecords(NamedTuple):
    """The people of a data set.

    Attributes:
        image_files: N image paths.
        boxes: N×4 ``[x, y, w, h]`` in image pixels.
        joints: N×J×3 ``[x, y, 0]`` (zeros for detections).
        joints_vis: N×J×3 visibility (ones for detections).
        scores: N box scores (1 for annotations).
        image_ids: N image ids (COCO's; for PoseTrack the frame's number in its split).
        origin: The files they were read from, for messages.
    """

    image_files: List[str]
    boxes: np.ndarray
    joints: np.ndarray
    joints_vis: np.ndarray
    scores: np.ndarray
    image_ids: np.ndarray
    origin: str = ""

    @classmethod
    def empty(cls, num_joints: int) -> "PersonRecords":
        """No records (of J = ``num_joints`` joints)."""
        return cls([], np.zeros((0, 4)), np.zeros((0, num_joints, 3), np.float32),
                   np.zeros((0, num_joints, 3), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))


@dataclass(frozen=True)
class RecordSettings:
    """Which person records a data set type's reader reads: one split of ``DATASET.ROOT``, its labelled people or
    the detections of a file.

    Attributes:
        train: The training set (``DATASET.TRAIN_SET``), else the evaluation set (``DATASET.TEST_SET``).
        root: ``DATASET.ROOT``.
        split: ``DATASET.TRAIN_SET`` or ``DATASET.TEST_SET``.
        gt_boxes: Evaluate on the labelled people's boxes (``TEST.USE_GT_BBOX``).
        bbox_file: The detection file as given (``TEST.COCO_BBOX_FILE``), found by
            :func:`src.data.detections.find_detection_file`.
        min_score: Detections scoring less are left out (``TEST.IMAGE_THRE``).
        num_joints: J (``MODEL.NUM_JOINTS``).
        ann_file: COCO's annotation file, when not ``root/annotations/person_keypoints_<split>.json`` ('').
        image_dir: COCO's image folder, when not ``root/<split>`` ('').
    """
    train: bool
    root: str
    split: str
    gt_boxes: bool
    bbox_file: str
    min_score: float
    num_joints: int
    ann_file: str = ""
    image_dir: str = ""

    @classmethod
    def from_config(cls, cfg: Any, train: bool, ann_file: Optional[str] = None, image_dir: Optional[str] = None,
                    bbox_file: Optional[str] = None) -> "RecordSettings":
        """The settings of ``cfg`` for its training or evaluation set; ``bbox_file`` replaces
        ``TEST.COCO_BBOX_FILE``."""
        dataset = cfg.DATASET
        return cls(train, str(dataset.ROOT), str(dataset.TRAIN_SET if train else dataset.TEST_SET),
                   bool(cfg.TEST.USE_GT_BBOX), str(bbox_file or cfg.TEST.COCO_BBOX_FILE), float(cfg.TEST.IMAGE_THRE),
                   int(cfg.MODEL.NUM_JOINTS), ann_file or "", image_dir or "")

    @property
    def labelled(self) -> bool:
        """The records are the labelled people (training, or ``gt_boxes``), not the detections."""
        return self.train or self.gt_boxes


def require_usable(records: PersonRecords, settings: RecordSettings, hint: str) -> PersonRecords:
    """``records``, checked to be usable: some records, and for evaluation, which cannot skip an image, every
    image there (named now rather than mid-run).

    Args:
        records: What a reader read.
        settings: What it was asked for.
        hint: What to do about missing images (appended to the message).

    Raises:
        ImageReadError: an evaluation image is missing.
        DatasetFormatError: no records.
    """
    if not settings.train:
        missing = sorted({f for f in records.image_files if not os.path.isfile(f)})
        if missing:
            shown = ", ".join(map(shown_path, missing[:3]))
            raise ImageReadError(f"{len(missing)} evaluation images are missing, e.g. {shown}. {hint}")
    if len(records.image_files) == 0:
        raise DatasetFormatError(f"no usable person records in {records.origin}"
                                 + ("" if settings.labelled else " and its detection file"))
    return records
