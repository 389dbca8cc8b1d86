"""The data set types, one table keyed by ``DATASET.DATASET``: each type's keypoints, person records and evaluation.

Every part that depends on the data set type asks this table, and nothing else branches on ``DATASET.DATASET``:
``train.py`` and ``eval.py`` (the records, the evaluation, ``TRAIN.INIT_DATASET``'s joints), the data pipeline
(:class:`src.dataset.DataSettings`: the flip pairs; :func:`src.dataset.keypoint_dataset`: the records),
the decoder (:class:`src.inference.decoder.PoseDecoder`: the flip test's pairs) and ``postprocess.py``.

A type is three things:

* its **keypoints** (:class:`src.constants.KeypointSet`): names in heatmap order, flip pairs, OKS sigmas,
  skeleton, the joints it labels;
* its **records** reader: :class:`src.data.records.RecordSettings` (the split of ``DATASET.ROOT``, labelled
  people or detections) to :class:`src.data.records.PersonRecords`;
* its **evaluation**: ``(cfg, preds N×J×3, output_dir, all_boxes N×6, image_ids N) -> headline figure``, which
  writes its results files and prints its summary ending in the ``AP: <float>`` line.

Adding a type is one module with its keypoint set and records reader under ``src/data/`` (and an evaluation
under ``src/evaluate/`` unless an existing one fits), one entry in :data:`DATASET_TYPES`, and its name among the
allowed values of ``DATASET.DATASET`` in ``default_config.yaml`` (a test checks the two lists agree).
"""
from typing import Any, Callable, Dict, NamedTuple, Optional

import numpy as np

from src.constants import COCO_KEYPOINTS, KeypointSet
from src.data.coco_records import read_coco_records
from src.data.posetrack_joints import POSETRACK_KEYPOINTS
from src.data.posetrack_records import read_posetrack_records
from src.data.records import PersonRecords, RecordSettings
from src.errors import ConfigError
from src.evaluate import coco_eval, posetrack_eval

#: ``(cfg, preds, output_dir, all_boxes, image_ids) -> figure``: a type's evaluation (see the module docstring).
Evaluation = Callable[[Any, np.ndarray, str, np.ndarray, np.ndarray], float]


class DatasetType(NamedTuple):
    """One data set type.

    Attributes:
        keypoints: Its joints; ``keypoints.name`` is its ``DATASET.DATASET`` value.
        read_records: Its person records of a split.
        evaluate: Its evaluation of predicted poses.
    """
    keypoints: KeypointSet
    read_records: Callable[[RecordSettings], PersonRecords]
    evaluate: Evaluation


#: The data set types, by ``DATASET.DATASET``.
DATASET_TYPES: Dict[str, DatasetType] = {
    "coco": DatasetType(COCO_KEYPOINTS, read_coco_records, coco_eval.evaluate_and_report),
    "posetrack": DatasetType(POSETRACK_KEYPOINTS, read_posetrack_records, posetrack_eval.evaluate_and_report),
}


def dataset_type(cfg: Any) -> DatasetType:
    """The type ``DATASET.DATASET`` names (the configuration checked its name), its joints checked against the
    network's.

    Raises:
        ConfigError: ``MODEL.NUM_JOINTS`` is not the type's number of keypoints (one heatmap each).
    """
    entry = DATASET_TYPES[cfg.DATASET.DATASET]
    joints, wanted = int(cfg.MODEL.NUM_JOINTS), len(entry.keypoints.keypoint_names)
    if joints != wanted:
        raise ConfigError(f"MODEL.NUM_JOINTS {joints}: DATASET.DATASET {cfg.DATASET.DATASET} has {wanted} keypoints "
                          f"(one heatmap each); set --MODEL.NUM_JOINTS {wanted}")
    return entry


def read_records(cfg: Any, train: bool, ann_file: Optional[str] = None, image_dir: Optional[str] = None,
                 bbox_file: Optional[str] = None) -> PersonRecords:
    """The person records of the configuration's type: its training set, or its evaluation set (labelled people
    with ``TEST.USE_GT_BBOX``, else the detections of ``bbox_file``, by default ``TEST.COCO_BBOX_FILE``).

    ``ann_file`` and ``image_dir`` replace COCO's default annotation file and image folder (the model zoo's
    :func:`src.dataset.keypoint_dataset` arguments).
    """
    settings = RecordSettings.from_config(cfg, train, ann_file, image_dir, bbox_file)
    return dataset_type(cfg).read_records(settings)
