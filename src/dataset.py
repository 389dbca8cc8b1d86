"""Person-keypoint data: the per-person sample (augmentation, crop, targets) and the MindSpore dataset.

Symbols: N records (one person each), J joints, H×W network input, Hh×Wh heatmap.
A record's crop is given by ``center`` ``[cx, cy]`` (image pixels) and ``scale`` ``[sx, sy]``
(units of ``PIXEL_STD`` pixels).

The core takes what it works on as arguments: :class:`PersonSamples` makes the samples of given person
records (:class:`src.data.records.PersonRecords`, read by the data set type, :mod:`src.dataset_types`) with
:class:`DataSettings` (built once from the configuration), and :func:`keypoint_pipeline` batches them. Targets
come from the heatmap codec (:mod:`src.data.codec`), the training order from :mod:`src.data.sampler`, the
left/right pairs a flip swaps from the data set type. The model zoo's entry points are thin layers over it:
:class:`KeypointDatasetGenerator` (``cfg``, ``is_train``, COCO files loaded by its methods) and
:func:`keypoint_dataset` (the configuration's records of its data set type, batched).

Images are read with OpenCV and stay in **BGR** order; the ImageNet mean/std are applied
to that order, as the reference and the original port did (their checkpoints depend on it).
"""
import os
from dataclasses import dataclass, replace
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import mindspore.dataset as ds
import mindspore.dataset.vision as vision
import numpy as np

from src.constants import DATASET_COLUMNS, IMAGENET_MEAN, IMAGENET_STD, PIXEL_STD
from src.data.codec import HeatmapCodec
from src.data.coco_records import detection_records, ground_truth_records
from src.data.records import PersonRecords, RecordSettings
from src.data.sampler import TrainingSampler, decode_index
from src.data.skipped_images import SkippedImageLog
from src.dataset_types import dataset_type, read_records
from src.errors import ImageReadError
from src.utils.image import imread_bgr, read_image
from src.utils.transform import (affine_transform, box_to_center_scale, flip_pairs, fliplr_joints,
                                 get_affine_transform)

__all__ = ["flip_pairs", "DataSettings", "PersonSamples", "KeypointDatasetGenerator", "keypoint_pipeline",
           "keypoint_dataset", "crop_person", "normalize_ops"]

#: A training sample whose image cannot be read is replaced; give up after this many in a row.
MAX_REPLACEMENTS = 20
_SEED_MASK = 2 ** 32 - 1


def crop_person(image: np.ndarray, center: np.ndarray, scale: np.ndarray, image_size: Sequence[int],
                rot: float = 0.0) -> Tuple[np.ndarray, np.ndarray]:
    """The network input of one person: the crop of ``center``/``scale`` warped to ``image_size``.

    Args:
        image: H×W×3 uint8 BGR image.
        center: ``[cx, cy]`` in image pixels.
        scale: ``[sx, sy]`` in units of PIXEL_STD.
        image_size: ``[W, H]`` of the network input.
        rot: Rotation in degrees.

    Returns:
        ``(crop H×W×3 uint8, trans 2×3)``, ``trans`` mapping image pixels to crop pixels.
    """
    trans = get_affine_transform(center, scale, rot, image_size)
    crop = cv2.warpAffine(image, trans, (int(image_size[0]), int(image_size[1])), flags=cv2.INTER_LINEAR)
    return crop, trans


def normalize_ops() -> list:
    """The dataset's ``image`` operations: ImageNet mean/std on the BGR uint8 crop, then HWC→CHW.

    They also run eagerly on one H×W×3 array (``op(array)``), as ``infer.py`` does, so single
    images are normalised by the very operations the evaluation pipeline uses.
    """
    return [vision.Normalize(mean=[m * 255.0 for m in IMAGENET_MEAN], std=[s * 255.0 for s in IMAGENET_STD]),
            vision.HWC2CHW()]


@dataclass(frozen=True)
class DataSettings:
    """What the data pipeline needs of the configuration, built once (:meth:`from_config`).

    Attributes:
        train: Training samples (augmented, in the sampler's order, the last partial batch dropped), else
            evaluation samples (as they are, in record order).
        codec: The heatmap codec: input and heatmap sizes, the targets' σ.
        flip_pairs: The left/right joint pairs of the data set type, swapped by a flip.
        scale_factor: ``DATASET.SCALE_FACTOR``.
        rotation_factor: ``DATASET.ROT_FACTOR``, degrees.
        shift_factor: ``DATASET.SHIFT_FACTOR``.
        flip: ``DATASET.FLIP``.
        seed: ``TRAIN.SEED``: the training order and every sample's draws.
        batch_size: ``TRAIN.BATCH_SIZE`` or ``TEST.BATCH_SIZE``.
        workers: Processes making samples (``TRAIN.NUM_WORKERS`` or ``TEST.DATALOADER_WORKERS``), capped at the
            CPUs; more than one runs them in worker processes.
        shuffle: Samples in a random order (default: in training).
        rank: This process's rank: its shard of the records, part of the draws' seed.
        group_size: Ranks sharing the records.
    """
    train: bool
    codec: HeatmapCodec
    flip_pairs: Tuple[Tuple[int, int], ...]
    scale_factor: float
    rotation_factor: float
    shift_factor: float
    flip: bool
    seed: int
    batch_size: int
    workers: int
    shuffle: bool
    rank: int = 0
    group_size: int = 1

    @classmethod
    def from_config(cls, cfg: Any, train: bool, rank: int = 0, group_size: int = 1) -> "DataSettings":
        """The settings of ``cfg`` for training or evaluation, on ``rank`` of ``group_size``."""
        dataset = cfg.DATASET
        return cls(train=train, codec=HeatmapCodec.from_config(cfg), flip_pairs=dataset_type(cfg).keypoints.flip_pairs,
                   scale_factor=float(dataset.SCALE_FACTOR), rotation_factor=float(dataset.ROT_FACTOR),
                   shift_factor=float(dataset.SHIFT_FACTOR), flip=bool(dataset.FLIP), seed=int(cfg.TRAIN.SEED),
                   batch_size=int(cfg.TRAIN.BATCH_SIZE if train else cfg.TEST.BATCH_SIZE),
                   workers=int(cfg.TRAIN.NUM_WORKERS if train else cfg.TEST.DATALOADER_WORKERS), shuffle=train,
                   rank=int(rank), group_size=int(group_size))


class PersonSamples:
    """Random-access source of person crops for ``mindspore.dataset.GeneratorDataset``.

    Records are held as arrays: ``image_files`` (N paths), ``centers`` N×2, ``scales`` N×2,
    ``joints`` N×J×3, ``joints_vis`` N×J×3, ``scores`` N, ``image_ids`` N.

    ``samples[i]`` returns the columns ``image, target, weight, scale, center, score, id``:
    the H×W×3 uint8 BGR crop (normalised later, in the dataset pipeline), the J×Hh×Wh float32
    target, the J×1 float32 weight, ``scale`` and ``center`` (2, float32; after augmentation),
    the box score (float32) and the image id (int32).

    A horizontal flip swaps the left/right joints of the data set type (``settings.flip_pairs``).

    Training draws the augmentation of each sample (scale, rotation, shift, flip, in the
    reference's order) from a generator seeded with ``(seed, epoch, rank, record)``:
    ``samples[i]`` takes the indices of :class:`src.data.sampler.TrainingSampler`, which encode
    the epoch (a plain record index is epoch 0). The draws are thus the same whichever worker
    process makes the sample and however often the run was resumed, and differ between ranks.

    A training image that cannot be read is replaced by a random other sample and noted in a
    :class:`src.data.skipped_images.SkippedImageLog`; ``report_skipped_images()`` (called at the end
    of an epoch) logs the total and the file names. In evaluation an unreadable image raises
    ``ImageReadError``.

    Args:
        settings: The pipeline's settings.
        records: The people to crop.
    """

    def __init__(self, settings: DataSettings, records: PersonRecords):
        self.settings = settings
        self.aspect_ratio = float(settings.codec.image_size[0]) / float(settings.codec.image_size[1])
        self._use_records(records)
        self._init_pid: Optional[int] = None
        self.skipped = SkippedImageLog()

    def _use_records(self, records: PersonRecords) -> None:
        self.image_files = list(records.image_files)
        self.centers, self.scales = box_to_center_scale(records.boxes, self.aspect_ratio)
        self.joints = records.joints.astype(np.float32)
        self.joints_vis = records.joints_vis.astype(np.float32)
        self.scores = records.scores
        self.image_ids = np.asarray(records.image_ids, dtype=np.int64)

    @property
    def is_train(self) -> bool:
        """Training samples (``settings.train``)."""
        return self.settings.train

    @property
    def codec(self) -> HeatmapCodec:
        """The heatmap codec of the targets."""
        return self.settings.codec

    @property
    def image_size(self) -> np.ndarray:
        """``[W, H]`` of the network input."""
        return np.array(self.settings.codec.image_size, dtype=np.int64)

    @property
    def flip_pairs(self) -> Tuple[Tuple[int, int], ...]:
        """The data set type's left/right pairs."""
        return self.settings.flip_pairs

    @property
    def rank(self) -> int:
        """This process's rank (part of the draws' seed)."""
        return self.settings.rank

    # ------------------------------------------------------------------ samples

    def generate_heatmap(self, joints: np.ndarray, joints_vis: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Targets of one person: ``(target J×Hh×Wh float32, target_weight J×1 float32)``.

        ``joints`` are J×3 in input-crop pixels; see :meth:`src.data.codec.HeatmapCodec.encode`.
        """
        return self.codec.encode(joints, joints_vis)

    def __len__(self) -> int:
        return len(self.image_files)

    def __getitem__(self, index: int) -> Tuple[np.ndarray, ...]:
        self._init_process()
        epoch, idx = decode_index(index, len(self))
        rng = self.sample_rng(epoch, idx) if self.is_train else np.random  # (evaluation draws nothing)
        for _ in range(MAX_REPLACEMENTS + 1):
            image = self.read_image(idx)
            if image is not None:
                return self.make_sample(idx, image, rng)
            # Only training gets here: evaluation raised in read_image.
            self.skipped.note(self.image_files[idx])
            idx = int(rng.randint(len(self)))
        raise ImageReadError(f"{MAX_REPLACEMENTS + 1} images in a row could not be read (last: "
                             f"{self.image_files[idx]}); check the image folder")

    def read_image(self, idx: int) -> Optional[np.ndarray]:
        """The BGR image of record ``idx``; None when unreadable in training (raises in evaluation)."""
        path = self.image_files[idx]
        return imread_bgr(path) if self.is_train else read_image(path)

    def sample_rng(self, epoch: int, idx: int) -> np.random.RandomState:
        """The random draws of record ``idx`` in ``epoch`` on this rank (same API as ``numpy.random``)."""
        return np.random.RandomState(np.array([self.settings.seed, epoch, self.rank, idx], np.int64) & _SEED_MASK)

    def make_sample(self, idx: int, image: np.ndarray, rng: Any = np.random) -> Tuple[np.ndarray, ...]:
        """The dataset columns of record ``idx`` from its decoded ``image`` (``rng``: see ``warp_sample``)."""
        crop, joints, joints_vis, scale, center = self.warp_sample(idx, image, rng)
        target, weight = self.generate_heatmap(joints, joints_vis)
        return (crop, target, weight, scale.astype(np.float32), center.astype(np.float32),
                np.float32(self.scores[idx]), np.int32(self.image_ids[idx]))

    def warp_sample(self, idx: int, image: np.ndarray, rng: Any = np.random) -> Tuple[np.ndarray, ...]:
        """Augmentation (training only: scale, rotation, shift, flip) and the crop of record ``idx``.

        ``rng`` supplies the draws (``randn``, ``random``): a ``numpy.random.RandomState`` or the
        ``numpy.random`` module itself, whose global stream the reference used.

        Returns:
            ``(crop H×W×3 uint8, joints J×3 in crop pixels, joints_vis J×3, scale [2], center [2])``.
        """
        joints = self.joints[idx].astype(np.float64)
        joints_vis = self.joints_vis[idx]
        center = self.centers[idx].astype(np.float64)
        scale = self.scales[idx].astype(np.float64)
        rot = 0.0
        if self.is_train:
            sf, rf, tf = self.settings.scale_factor, self.settings.rotation_factor, self.settings.shift_factor
            scale = scale * np.clip(rng.randn() * sf + 1, 1 - sf, 1 + sf)
            rot = np.clip(rng.randn() * rf, -rf * 2, rf * 2) if rng.random() <= 0.6 else 0.0
            if tf > 0:  # not in the reference; drawing nothing at 0 keeps its random stream
                center = center + np.clip(rng.randn(2) * tf, -tf * 2, tf * 2) * scale * PIXEL_STD
            if self.settings.flip and rng.random() <= 0.5:
                image = cv2.flip(image, 1)
                joints, joints_vis = fliplr_joints(joints, joints_vis, image.shape[1], self.flip_pairs)
                center[0] = image.shape[1] - center[0] - 1

        crop, trans = crop_person(image, center, scale, self.image_size, rot)
        labelled = joints_vis[:, 0] > 0
        joints[labelled, :2] = affine_transform(joints[labelled, :2], trans)
        return crop, joints, joints_vis, scale, center

    def _init_process(self) -> None:
        """Once per process that produces samples: one OpenCV thread."""
        pid = os.getpid()
        if pid == self._init_pid:
            return
        # Samples are produced in parallel already; OpenCV's own threads on one small crop
        # cost more than they give (measured: 2.3x slower on 2 busy cores).
        cv2.setNumThreads(1)
        self._init_pid = pid

    def report_skipped_images(self, reset: bool = True) -> List[str]:
        """Logs (one warning) and returns the images skipped since the last report, from all workers."""
        return self.skipped.report(reset)


class KeypointDatasetGenerator(PersonSamples):
    """The model zoo's generator: :class:`PersonSamples` built from the configuration, without records until
    :meth:`load_gt_dataset` or :meth:`load_detect_dataset` reads COCO files.

    Args:
        cfg: The configuration (:meth:`DataSettings.from_config`, rank 0 of 1).
        is_train: Training samples, else evaluation samples.
    """

    def __init__(self, cfg: Any, is_train: bool = False):
        self._record_settings = RecordSettings.from_config(cfg, is_train)
        super().__init__(DataSettings.from_config(cfg, is_train),
                         PersonRecords.empty(self._record_settings.num_joints))

    def load_gt_dataset(self, image_path: str, ann_file: str) -> None:
        """One record per person annotation with labelled keypoints (crowds and unlabelled skipped).

        Boxes are clipped to the image as the reference does and dropped when empty; the crop
        centre/scale come from the clipped box at the model's aspect ratio, times 1.25.
        """
        self._use_records(ground_truth_records(image_path, ann_file, self._record_settings.num_joints))

    def load_detect_dataset(self, image_path: str, ann_file: str, bbox_file: str) -> None:
        """One record per person detection (category 1) with ``score >= TEST.IMAGE_THRE``
        (see :func:`src.data.coco_records.detection_records`)."""
        settings = self._record_settings
        self._use_records(detection_records(image_path, ann_file, bbox_file, settings.num_joints, settings.min_score))


# ----------------------------------------------------------------------------- MindSpore dataset

def keypoint_pipeline(samples: PersonSamples, transform: Optional[list] = None, first_step: int = 0,
                      chunk_steps: int = 0) -> Any:
    """The batched MindSpore dataset of ``samples`` (see :func:`keypoint_dataset` for the columns), as their
    settings say (batch size, workers, order, shard).

    Training takes its samples from a :class:`src.data.sampler.TrainingSampler`: one dataset epoch is
    ``chunk_steps`` steps (default: a whole epoch), and the first ``first_step`` global steps are
    skipped (a resumed run continues the stream of the uninterrupted run). Steps before
    ``first_step`` in its chunk are skipped by ``set_init_step``, which MindSpore does without
    reading or augmenting their samples.

    Args:
        samples: The samples.
        transform: Operations on the HWC uint8 ``image`` column replacing the default normalisation + HWC→CHW
            (:func:`normalize_ops`).
        first_step: Global training steps already done.
        chunk_steps: Training steps per dataset epoch (0: an epoch).
    """
    settings = samples.settings
    workers = max(1, min(settings.workers, os.cpu_count() or 1))
    if settings.train:
        sampler = TrainingSampler(len(samples), settings.batch_size, settings.rank, settings.group_size, settings.seed,
                                  settings.shuffle, first_step, chunk_steps)
        shard: Dict[str, Any] = {"sampler": sampler}
    elif settings.group_size > 1:
        # Evaluation gives every record to exactly one rank.
        indices = list(range(settings.rank, len(samples), settings.group_size))
        shard = {"sampler": ds.SubsetRandomSampler(indices) if settings.shuffle else ds.SubsetSampler(indices)}
    else:
        shard = {"shuffle": settings.shuffle}
    dataset = ds.GeneratorDataset(samples, column_names=list(DATASET_COLUMNS), num_parallel_workers=workers,
                                  python_multiprocessing=workers > 1, **shard)
    if transform is None:
        transform = normalize_ops()
    dataset = dataset.map(operations=transform, input_columns="image", num_parallel_workers=workers)
    dataset = dataset.batch(settings.batch_size, drop_remainder=settings.train)
    if settings.train and first_step % shard["sampler"].chunk:
        dataset.set_init_step(first_step % shard["sampler"].chunk)
    return dataset


def keypoint_dataset(config: Any, ann_file: Optional[str] = None, image_path: Optional[str] = None,
                     bbox_file: Optional[str] = None, rank: int = 0, group_size: int = 1,
                     train_mode: bool = True, num_parallel_workers: int = 8, transform: Optional[list] = None,
                     shuffle: Optional[bool] = None) -> Tuple[Any, PersonSamples]:
    """The batched keypoint dataset of the configuration's data set type, and its samples (the model zoo's
    entry point: :func:`src.dataset_types.read_records`, :class:`PersonSamples`, :func:`keypoint_pipeline`).

    COCO's defaults: images ``DATASET.ROOT/<set>/``, annotations
    ``DATASET.ROOT/annotations/person_keypoints_<set>.json`` with ``<set>`` = ``DATASET.TRAIN_SET``
    or ``DATASET.TEST_SET``; evaluation crops the detections of ``bbox_file`` (default
    ``TEST.COCO_BBOX_FILE``) unless ``TEST.USE_GT_BBOX``. PoseTrack's: :mod:`src.data.posetrack_records`.

    Columns: ``image`` N×3×H×W float32 (BGR/255, ImageNet mean/std), ``target`` N×J×Hh×Wh,
    ``weight`` N×J×1, ``scale`` N×2, ``center`` N×2, ``score`` N, ``id`` N. Batches hold
    ``TRAIN.BATCH_SIZE`` (last partial batch dropped) or ``TEST.BATCH_SIZE``.

    Training order (:mod:`src.data.sampler`): one shuffle per epoch seeded by ``TRAIN.SEED`` and the
    epoch, the same on every rank; with ``group_size > 1`` each rank takes an equal shard (a few
    records repeat so every rank runs the same number of steps). Evaluation gives every record to
    exactly one rank (``rank::group_size``).

    In evaluation a missing image raises ``ImageReadError`` here; an unreadable one raises it
    while iterating (MindSpore re-raises it as a ``RuntimeError`` whose message holds the
    original error and the file name).

    Args:
        ann_file, image_path: COCO's annotation file and image folder instead of the defaults.
        bbox_file: The detection file instead of ``TEST.COCO_BBOX_FILE``.
        transform: Operations on the HWC uint8 ``image`` column replacing the default
            normalisation + HWC→CHW.
        shuffle: Defaults to ``train_mode``.
        num_parallel_workers: Capped at the number of CPUs. More than one runs the
            generator in worker processes.
    """
    records = read_records(config, train_mode, ann_file, image_path, bbox_file)
    settings = DataSettings.from_config(config, train_mode, rank, group_size)
    settings = replace(settings, workers=int(num_parallel_workers),
                                   shuffle=train_mode if shuffle is None else bool(shuffle))
    samples = PersonSamples(settings, records)
    return keypoint_pipeline(samples, transform), samples
