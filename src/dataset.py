"""COCO person-keypoint data pipeline: records, augmentation, heatmap targets, MindSpore dataset.

Symbols: N records (one person each), J joints, H×W network input, Hh×Wh heatmap.
Joints are ``[x, y, 0]`` in image pixels (J×3) with a visibility J×3 of 0/1 repeated
per coordinate, as in the reference. A record's crop is given by ``center`` ``[cx, cy]``
(image pixels) and ``scale`` ``[sx, sy]`` (units of ``PIXEL_STD`` pixels).

Images are read with OpenCV and stay in **BGR** order; the ImageNet mean/std are applied
to that order, as the reference and the original port did (their checkpoints depend on it).
"""
import json
import logging
import os
import tempfile
import weakref
from collections import defaultdict
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import mindspore.dataset as ds
import mindspore.dataset.vision as vision
import numpy as np

from src.constants import DATASET_COLUMNS, IMAGENET_MEAN, IMAGENET_STD, PIXEL_STD
from src.errors import ConfigError, DatasetFormatError, DatasetNotFoundError, ImageReadError, shown_path
from src.sampler import TrainingSampler, decode_index
from src.utils.image import imread_bgr, read_image
from src.utils.transform import (affine_transform, box_to_center_scale, flip_pairs, fliplr_joints,
                                 get_affine_transform)

__all__ = ["flip_pairs", "KeypointDatasetGenerator", "keypoint_dataset", "load_keypoint_records",
           "keypoint_pipeline", "gaussian_targets", "crop_person", "normalize_ops", "DatasetNotFoundError",
           "DatasetFormatError", "ImageReadError"]

logger = logging.getLogger(__name__)

HOW_TO_GET_DATA = ("Download COCO 2017 (train2017, val2017, annotations) from https://cocodataset.org, or "
                   "write a synthetic set with `python -m src.synthetic --output DIR`; then set DATASET.ROOT "
                   "(or --dataset_path) to that folder.")
#: A training sample whose image cannot be read is replaced; give up after this many in a row.
MAX_REPLACEMENTS = 20
_SEED_MASK = 2 ** 32 - 1


# ----------------------------------------------------------------------------- pure helpers

def gaussian_targets(joints: np.ndarray, joints_vis: np.ndarray, image_size: Sequence[int],
                     heatmap_size: Sequence[int], sigma: float) -> Tuple[np.ndarray, np.ndarray]:
    """Gaussian heatmap targets, as the reference's ``generate_target``, for all joints at once.

    A joint at ``mu = int(joint / stride + 0.5)`` (heatmap pixels, truncated toward zero like
    Python's ``int``; ``stride = image_size / heatmap_size``) gets an unnormalised Gaussian of
    ``sigma`` with peak 1 at ``mu``, cut to the square of radius ``3 * sigma`` and clipped to
    the map. A joint whose square lies wholly outside the map gets weight 0 and no Gaussian;
    otherwise the weight is its visibility, and the Gaussian is drawn when that is above 0.5.

    Args:
        joints: J×2 or J×3 ``[x, y(, 0)]`` in input-image pixels.
        joints_vis: J×3 (or J) visibility; column 0 is used.
        image_size: ``[W, H]`` of the network input.
        heatmap_size: ``[Wh, Hh]``.
        sigma: Gaussian standard deviation in heatmap pixels (2 in the reference; any positive number).

    Returns:
        ``(target J×Hh×Wh float32, target_weight J×1 float32)``.
    """
    vis = np.asarray(joints_vis, dtype=np.float32)
    weight = (vis[:, 0] if vis.ndim == 2 else vis).copy()
    wh, hh = int(heatmap_size[0]), int(heatmap_size[1])
    stride = np.asarray(image_size, dtype=np.float64) / np.asarray(heatmap_size, dtype=np.float64)
    tmp = sigma * 3
    mu = (np.asarray(joints, dtype=np.float64)[:, :2] / stride + 0.5).astype(np.int64)
    ul = (mu - tmp).astype(np.int64)  # float → int truncates toward zero, as int() does
    br = (mu + tmp + 1).astype(np.int64)
    outside = (ul[:, 0] >= wh) | (ul[:, 1] >= hh) | (br[:, 0] < 0) | (br[:, 1] < 0)
    weight[outside] = 0

    centre = (2 * tmp + 1) // 2
    xs, ys = np.arange(wh), np.arange(hh)
    # Offsets from the Gaussian's centre, as integer steps within the reference's g array.
    dx = ((xs[None, :] - ul[:, :1]) - centre).astype(np.float32) ** 2  # J×Wh
    dy = ((ys[None, :] - ul[:, 1:]) - centre).astype(np.float32) ** 2  # J×Hh
    target = np.exp(-(dy[:, :, None] + dx[:, None, :]) / (2 * sigma ** 2)).astype(np.float32)
    in_x = (xs[None, :] >= ul[:, :1]) & (xs[None, :] < br[:, :1])
    in_y = (ys[None, :] >= ul[:, 1:]) & (ys[None, :] < br[:, 1:])
    drawn = (weight > 0.5)[:, None, None] & in_y[:, :, None] & in_x[:, None, :]
    target *= drawn
    return target, weight[:, None]


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


def _load_json(path: str, what: str) -> Any:
    if not os.path.isfile(path):
        raise DatasetNotFoundError(f"{what} not found: {shown_path(path)}. {HOW_TO_GET_DATA}")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise DatasetFormatError(f"{what} {path} is not valid JSON ({err.msg} at line {err.lineno}, "
                                 f"column {err.colno}); download or generate it again") from err
    except UnicodeDecodeError as err:
        raise DatasetFormatError(f"{what} {path} is not a UTF-8 JSON file ({err}); "
                                 "download or generate it again") from err


def _require_dir(path: str, what: str) -> None:
    if not os.path.isdir(path):
        raise DatasetNotFoundError(f"{what} not found: {shown_path(path)}. {HOW_TO_GET_DATA}")


def _images_by_id(data: Any, ann_file: str) -> Dict[int, Dict[str, Any]]:
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise DatasetFormatError(f"{ann_file} is not a COCO annotation file (no 'images' list)")
    try:
        return {img["id"]: img for img in data["images"]}
    except (KeyError, TypeError) as err:
        raise DatasetFormatError(f"{ann_file}: an entry of 'images' has no 'id' ({err})") from err


def _remove_if_owner(path: str, owner_pid: int) -> None:
    # Forked dataset workers hold copies of the generator; only its creator removes the file.
    if os.getpid() == owner_pid:
        try:
            os.remove(path)
        except OSError:
            pass


# ----------------------------------------------------------------------------- generator

class KeypointDatasetGenerator:
    """Random-access source of person crops for ``mindspore.dataset.GeneratorDataset``.

    Records are held as arrays: ``image_files`` (N paths), ``centers`` N×2, ``scales`` N×2,
    ``joints`` N×J×3, ``joints_vis`` N×J×3, ``scores`` N, ``image_ids`` N.

    ``generator[i]`` returns the columns ``image, target, weight, scale, center, score, id``:
    the H×W×3 uint8 BGR crop (normalised later, in the dataset pipeline), the J×Hh×Wh float32
    target, the J×1 float32 weight, ``scale`` and ``center`` (2, float32; after augmentation),
    the box score (float32) and the image id (int32).

    Training draws the augmentation of each sample (scale, rotation, shift, flip, in the
    reference's order) from a generator seeded with ``(TRAIN.SEED, epoch, rank, record)``:
    ``generator[i]`` takes the indices of :class:`src.sampler.TrainingSampler`, which encode
    the epoch (a plain record index is epoch 0). The draws are thus the same whichever worker
    process makes the sample and however often the run was resumed, and differ between ranks.

    A training image that cannot be read is replaced by a random other sample; each skip is
    logged and noted in a small file shared by all workers, and
    ``report_skipped_images()`` (call it at the end of an epoch) logs the total and the file
    names. In evaluation an unreadable image raises ``ImageReadError``.
    """

    def __init__(self, cfg: Any, is_train: bool = False):
        self.is_train = is_train
        self.image_size = np.array(cfg.MODEL.IMAGE_SIZE, dtype=np.int64)  # [W, H]
        self.heatmap_size = np.array(cfg.POSE_RESNET.HEATMAP_SIZE, dtype=np.int64)  # [Wh, Hh]
        self.sigma = float(cfg.POSE_RESNET.SIGMA)
        if not self.sigma > 0:
            raise ConfigError(f"POSE_RESNET.SIGMA must be positive, got {cfg.POSE_RESNET.SIGMA}")
        if cfg.POSE_RESNET.TARGET_TYPE != "gaussian":
            raise ConfigError(f"POSE_RESNET.TARGET_TYPE '{cfg.POSE_RESNET.TARGET_TYPE}' is not supported; "
                             "use 'gaussian'")
        self.num_joints = int(cfg.MODEL.NUM_JOINTS)
        self.aspect_ratio = float(self.image_size[0]) / float(self.image_size[1])
        self.scale_factor = float(cfg.DATASET.SCALE_FACTOR)
        self.rotation_factor = float(cfg.DATASET.ROT_FACTOR)
        self.shift_factor = float(cfg.DATASET.SHIFT_FACTOR)
        self.flip = bool(cfg.DATASET.FLIP)
        self.image_thre = float(cfg.TEST.IMAGE_THRE)
        self.flip_pairs = flip_pairs
        self.seed = int(cfg.TRAIN.SEED)
        self.rank = 0  # set by keypoint_pipeline: part of the augmentation seed

        self.image_files: List[str] = []
        self.centers = np.zeros((0, 2), np.float32)
        self.scales = np.zeros((0, 2), np.float32)
        self.joints = np.zeros((0, self.num_joints, 3), np.float32)
        self.joints_vis = np.zeros((0, self.num_joints, 3), np.float32)
        self.scores = np.zeros(0, np.float32)
        self.image_ids = np.zeros(0, np.int64)

        self._owner_pid = os.getpid()
        self._init_pid: Optional[int] = None
        self.skipped_in_worker = 0
        fd, self._skip_log = tempfile.mkstemp(prefix="skipped_images_", suffix=".txt")
        os.close(fd)
        weakref.finalize(self, _remove_if_owner, self._skip_log, self._owner_pid)

    # ------------------------------------------------------------------ loading

    def load_gt_dataset(self, image_path: str, ann_file: str) -> None:
        """One record per person annotation with labelled keypoints (crowds and unlabelled skipped).

        Boxes are clipped to the image as the reference does and dropped when empty; the crop
        centre/scale come from the clipped box at the model's aspect ratio, times 1.25.
        """
        logger.info("loading dataset from %s", image_path)
        _require_dir(image_path, "image folder")
        data = _load_json(ann_file, "annotation file")
        images = _images_by_id(data, ann_file)
        per_image = defaultdict(list)
        for obj in data.get("annotations", []):
            per_image[obj.get("image_id")].append(obj)

        files, boxes, kpts, ids = [], [], [], []
        for image_id, img in images.items():
            width, height = img.get("width"), img.get("height")
            for obj in per_image.get(image_id, ()):
                try:
                    if obj.get("category_id", 1) != 1 or obj.get("iscrowd", 0):
                        continue
                    kp = np.asarray(obj["keypoints"], dtype=np.float64).reshape(self.num_joints, 3)
                    if obj.get("num_keypoints", int((kp[:, 2] > 0).sum())) == 0:
                        continue
                    x, y, w, h = (float(v) for v in obj["bbox"])
                    area = float(obj["area"])
                    x1, y1 = max(0.0, x), max(0.0, y)
                    x2 = min(width - 1.0, x1 + max(0.0, w - 1.0))
                    y2 = min(height - 1.0, y1 + max(0.0, h - 1.0))
                except (KeyError, TypeError, ValueError) as err:
                    raise DatasetFormatError(
                        f"{ann_file}: annotation {obj.get('id')} of image {image_id} lacks a valid "
                        f"'keypoints' ({self.num_joints}×3 numbers), 'bbox' or 'area', or the image its "
                        f"'width'/'height' ({err})") from err
                if area > 0 and x2 >= x1 and y2 >= y1:
                    files.append(os.path.join(image_path, img["file_name"]))
                    boxes.append([x1, y1, x2 - x1, y2 - y1])
                    kpts.append(kp)
                    ids.append(image_id)

        kpts = np.asarray(kpts, dtype=np.float32).reshape(-1, self.num_joints, 3)
        vis = np.minimum(1.0, kpts[:, :, 2:3])
        joints = kpts.copy()
        joints[:, :, 2] = 0
        self._set_records(files, np.asarray(boxes).reshape(-1, 4), joints, np.repeat(vis, 3, axis=2),
                          np.ones(len(files), np.float32), ids)
        logger.info("loaded %d records from coco dataset.", len(files))

    def load_detect_dataset(self, image_path: str, ann_file: str, bbox_file: str) -> None:
        """One record per person detection (category 1) with ``score >= TEST.IMAGE_THRE``.

        Args:
            image_path: Folder of the images.
            ann_file: COCO annotation file; only its ``images`` (ids → file names) are used.
            bbox_file: Detection results, a JSON list of ``{image_id, category_id, bbox, score}``.
        """
        logger.info("loading dataset from %s", image_path)
        _require_dir(image_path, "image folder")
        images = _images_by_id(_load_json(ann_file, "annotation file"), ann_file)
        dets = _load_json(bbox_file, "detection file")
        if not isinstance(dets, list):
            raise DatasetFormatError(f"{bbox_file} is not a detection-results file (expected a JSON list)")

        files, boxes, scores, ids = [], [], [], []
        unknown = 0
        for det in dets:
            try:
                if det["category_id"] != 1 or det["score"] < self.image_thre:
                    continue
                box, score, image_id = [float(v) for v in det["bbox"][:4]], float(det["score"]), det["image_id"]
            except (KeyError, TypeError, ValueError, IndexError) as err:
                raise DatasetFormatError(f"{bbox_file}: a detection lacks a valid 'image_id', "
                                         f"'category_id', 'bbox' or 'score' ({err})") from err
            if image_id not in images:
                unknown += 1
                continue
            files.append(os.path.join(image_path, images[image_id]["file_name"]))
            boxes.append(box)
            scores.append(score)
            ids.append(image_id)
        if unknown:
            logger.warning("%d boxes in %s refer to images not in %s; skipped", unknown, bbox_file, ann_file)
        n = len(files)
        self._set_records(files, np.asarray(boxes).reshape(-1, 4),
                          np.zeros((n, self.num_joints, 3), np.float32),
                          np.ones((n, self.num_joints, 3), np.float32), np.asarray(scores, np.float32), ids)
        logger.info("Total boxes: %d", n)

    def _set_records(self, files: List[str], boxes: np.ndarray, joints: np.ndarray, joints_vis: np.ndarray,
                     scores: np.ndarray, ids: List[int]) -> None:
        self.image_files = files
        self.centers, self.scales = box_to_center_scale(boxes, self.aspect_ratio)
        self.joints = joints.astype(np.float32)
        self.joints_vis = joints_vis.astype(np.float32)
        self.scores = scores
        self.image_ids = np.asarray(ids, dtype=np.int64)

    # ------------------------------------------------------------------ samples

    def generate_heatmap(self, joints: np.ndarray, joints_vis: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Targets of one person: ``(target J×Hh×Wh float32, target_weight J×1 float32)``.

        ``joints`` are J×3 in input-crop pixels; see ``gaussian_targets``.
        """
        return gaussian_targets(joints, joints_vis, self.image_size, self.heatmap_size, self.sigma)

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
            self._note_skipped(self.image_files[idx])
            idx = int(rng.randint(len(self)))
        raise ImageReadError(f"{MAX_REPLACEMENTS + 1} images in a row could not be read (last: "
                             f"{self.image_files[idx]}); check the image folder")

    def read_image(self, idx: int) -> Optional[np.ndarray]:
        """The BGR image of record ``idx``; None when unreadable in training (raises in evaluation)."""
        path = self.image_files[idx]
        return imread_bgr(path) if self.is_train else read_image(path)

    def sample_rng(self, epoch: int, idx: int) -> np.random.RandomState:
        """The random draws of record ``idx`` in ``epoch`` on this rank (same API as ``numpy.random``)."""
        return np.random.RandomState(np.array([self.seed, epoch, self.rank, idx], np.int64) & _SEED_MASK)

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
            sf, rf, tf = self.scale_factor, self.rotation_factor, self.shift_factor
            scale = scale * np.clip(rng.randn() * sf + 1, 1 - sf, 1 + sf)
            rot = np.clip(rng.randn() * rf, -rf * 2, rf * 2) if rng.random() <= 0.6 else 0.0
            if tf > 0:  # not in the reference; drawing nothing at 0 keeps its random stream
                center = center + np.clip(rng.randn(2) * tf, -tf * 2, tf * 2) * scale * PIXEL_STD
            if self.flip and rng.random() <= 0.5:
                image = cv2.flip(image, 1)
                joints, joints_vis = fliplr_joints(joints, joints_vis, image.shape[1], self.flip_pairs)
                center[0] = image.shape[1] - center[0] - 1

        crop, trans = crop_person(image, center, scale, self.image_size, rot)
        labelled = joints_vis[:, 0] > 0
        joints[labelled, :2] = affine_transform(joints[labelled, :2], trans)
        return crop, joints, joints_vis, scale, center

    # ------------------------------------------------------------------ workers and bad files

    def _init_process(self) -> None:
        """Once per process that produces samples: one OpenCV thread."""
        pid = os.getpid()
        if pid == self._init_pid:
            return
        # Samples are produced in parallel already; OpenCV's own threads on one small crop
        # cost more than they give (measured: 2.3x slower on 2 busy cores).
        cv2.setNumThreads(1)
        self._init_pid = pid

    def _note_skipped(self, path: str) -> None:
        self.skipped_in_worker += 1
        logger.warning("skipping unreadable image %s (%d skipped by this worker so far)",
                       path, self.skipped_in_worker)
        # One short line per append is atomic with O_APPEND, so workers can share the file.
        with open(self._skip_log, "a", encoding="utf-8") as f:
            f.write(path + "\n")

    def report_skipped_images(self, reset: bool = True) -> List[str]:
        """Logs (one warning) and returns the images skipped since the last report, from all workers."""
        try:
            with open(self._skip_log, encoding="utf-8") as f:
                skipped = f.read().splitlines()
            if reset:
                open(self._skip_log, "w", encoding="utf-8").close()
        except FileNotFoundError:
            skipped = []
        if skipped:
            names = sorted(set(skipped))
            shown = ", ".join(names[:20]) + (f", ... ({len(names) - 20} more)" if len(names) > 20 else "")
            logger.warning("%d unreadable training images were skipped and replaced this epoch: %s",
                           len(skipped), shown)
        return skipped


# ----------------------------------------------------------------------------- MindSpore dataset

def _resolve_bbox_file(cfg: Any, bbox_file: Optional[str]) -> str:
    """The detection file: as given (or TEST.COCO_BBOX_FILE), else found under DATASET.ROOT."""
    name = bbox_file or cfg.TEST.COCO_BBOX_FILE
    candidates = [name]
    if not os.path.isabs(name):
        candidates += [os.path.join(cfg.DATASET.ROOT, name),
                       os.path.join(cfg.DATASET.ROOT, "person_detection_results", os.path.basename(name))]
    for path in candidates:
        if os.path.isfile(path):
            logger.info("loading bbox file from %s", path)
            return path
    raise DatasetNotFoundError(
        f"person detection file not found (tried {', '.join(map(shown_path, candidates))}). Set "
        "TEST.COCO_BBOX_FILE (--coco_bbox_file) to the detection results (the reference's COCO_val2017_detections_AP_H_56_"
        "person.json; `python -m src.synthetic` writes one under DIR/person_detection_results/), or "
        "evaluate on ground-truth boxes with --TEST.USE_GT_BBOX True")


def load_keypoint_records(config: Any, ann_file: Optional[str] = None, image_path: Optional[str] = None,
                          bbox_file: Optional[str] = None, train_mode: bool = True) -> KeypointDatasetGenerator:
    """The generator of :func:`keypoint_dataset` with its records loaded (see there for the defaults)."""
    split = config.DATASET.TRAIN_SET if train_mode else config.DATASET.TEST_SET
    root = config.DATASET.ROOT
    if image_path is None or ann_file is None:
        _require_dir(root, "dataset root (DATASET.ROOT)")
    image_path = image_path or os.path.join(root, split)
    ann_file = ann_file or os.path.join(root, "annotations", f"person_keypoints_{split}.json")

    generator = KeypointDatasetGenerator(config, is_train=train_mode)
    if not train_mode and not config.TEST.USE_GT_BBOX:
        generator.load_detect_dataset(image_path, ann_file, _resolve_bbox_file(config, bbox_file))
    else:
        generator.load_gt_dataset(image_path, ann_file)
    if not train_mode:
        # Evaluation cannot skip an image; name missing ones now rather than mid-run.
        missing = sorted({f for f in generator.image_files if not os.path.isfile(f)})
        if missing:
            raise ImageReadError(f"{len(missing)} evaluation images are missing, e.g. {', '.join(map(shown_path, missing[:3]))}. "
                                 f"{HOW_TO_GET_DATA}")
    if len(generator) == 0:
        raise DatasetFormatError(f"no usable person records in {ann_file}"
                                 + ("" if train_mode or config.TEST.USE_GT_BBOX else " and its detection file"))
    return generator


def keypoint_pipeline(config: Any, generator: KeypointDatasetGenerator, rank: int = 0, group_size: int = 1,
                      num_parallel_workers: int = 8, transform: Optional[list] = None,
                      shuffle: Optional[bool] = None, first_step: int = 0, chunk_steps: int = 0) -> Any:
    """The batched MindSpore dataset over ``generator`` (see :func:`keypoint_dataset`).

    Training takes its samples from a :class:`src.sampler.TrainingSampler`: one dataset epoch is
    ``chunk_steps`` steps (default: a whole epoch), and the first ``first_step`` global steps are
    skipped (a resumed run continues the stream of the uninterrupted run). Steps before
    ``first_step`` in its chunk are skipped by ``set_init_step``, which MindSpore does without
    reading or augmenting their samples.
    """
    train_mode = generator.is_train
    shuffle = train_mode if shuffle is None else shuffle
    workers = max(1, min(int(num_parallel_workers), os.cpu_count() or 1))
    batch_size = config.TRAIN.BATCH_SIZE if train_mode else config.TEST.BATCH_SIZE
    if train_mode:
        generator.rank = rank
        sampler = TrainingSampler(len(generator), batch_size, rank, group_size, generator.seed, shuffle,
                                  first_step, chunk_steps)
        if sampler.steps_per_epoch == 0:
            logger.warning("%d training records in this shard are fewer than one batch of %d: no steps per epoch",
                           len(generator) // max(1, group_size), batch_size)
        shard: Dict[str, Any] = {"sampler": sampler}
    elif group_size > 1:
        # Evaluation gives every record to exactly one rank.
        indices = list(range(rank, len(generator), group_size))
        shard = {"sampler": ds.SubsetRandomSampler(indices) if shuffle else ds.SubsetSampler(indices)}
    else:
        shard = {"shuffle": shuffle}
    dataset = ds.GeneratorDataset(generator, column_names=list(DATASET_COLUMNS), num_parallel_workers=workers,
                                  python_multiprocessing=workers > 1, **shard)
    if transform is None:
        transform = normalize_ops()
    dataset = dataset.map(operations=transform, input_columns="image", num_parallel_workers=workers)
    dataset = dataset.batch(batch_size, drop_remainder=train_mode)
    if train_mode and first_step % shard["sampler"].chunk:
        dataset.set_init_step(first_step % shard["sampler"].chunk)
    return dataset


def keypoint_dataset(config: Any, ann_file: Optional[str] = None, image_path: Optional[str] = None,
                     bbox_file: Optional[str] = None, rank: int = 0, group_size: int = 1,
                     train_mode: bool = True, num_parallel_workers: int = 8, transform: Optional[list] = None,
                     shuffle: Optional[bool] = None) -> Tuple[Any, KeypointDatasetGenerator]:
    """The batched keypoint dataset and its generator.

    Defaults: images ``DATASET.ROOT/<set>/``, annotations
    ``DATASET.ROOT/annotations/person_keypoints_<set>.json`` with ``<set>`` = ``DATASET.TRAIN_SET``
    or ``DATASET.TEST_SET``; evaluation crops the detections of ``bbox_file`` (default
    ``TEST.COCO_BBOX_FILE``) unless ``TEST.USE_GT_BBOX``.

    Columns: ``image`` N×3×H×W float32 (BGR/255, ImageNet mean/std), ``target`` N×J×Hh×Wh,
    ``weight`` N×J×1, ``scale`` N×2, ``center`` N×2, ``score`` N, ``id`` N. Batches hold
    ``TRAIN.BATCH_SIZE`` (last partial batch dropped) or ``TEST.BATCH_SIZE``.

    Training order (:mod:`src.sampler`): one shuffle per epoch seeded by ``TRAIN.SEED`` and the
    epoch, the same on every rank; with ``group_size > 1`` each rank takes an equal shard (a few
    records repeat so every rank runs the same number of steps). Evaluation gives every record to
    exactly one rank (``rank::group_size``).

    In evaluation a missing image raises ``ImageReadError`` here; an unreadable one raises it
    while iterating (MindSpore re-raises it as a ``RuntimeError`` whose message holds the
    original error and the file name).

    Args:
        transform: Operations on the HWC uint8 ``image`` column replacing the default
            normalisation + HWC→CHW.
        shuffle: Defaults to ``train_mode``.
        num_parallel_workers: Capped at the number of CPUs. More than one runs the
            generator in worker processes.
    """
    generator = load_keypoint_records(config, ann_file, image_path, bbox_file, train_mode)
    dataset = keypoint_pipeline(config, generator, rank, group_size, num_parallel_workers, transform, shuffle)
    return dataset, generator
