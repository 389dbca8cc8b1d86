"""The one inference API: :class:`PoseEstimator`, a network with its decoding and test settings built once.

Symbols: N person boxes (or crops), J joints, H×W network input, Hh×Wh heatmap.
Boxes are ``[x, y, w, h]`` in image pixels; a crop is given by its centre ``[cx, cy]`` (image
pixels) and scale ``[sx, sy]`` (units of PIXEL_STD), as :func:`src.utils.transform.box_to_center_scale`
makes them.

Every user of a trained network goes through it: ``eval.py`` (the crops of an evaluation set,
:meth:`PoseEstimator.estimate_crops`), ``infer.py`` and ``track.py`` (an image and its boxes,
:meth:`PoseEstimator.estimate`); ``postprocess.py``, which gets the heatmaps from the C++ app, uses
the same :class:`src.inference.decoder.PoseDecoder`. So a box gives the same keypoints everywhere.
"""
from dataclasses import dataclass
from typing import Any, NamedTuple, Optional, Tuple

import mindspore as ms
import numpy as np

from src.constants import PIXEL_STD
from src.dataset import crop_person, normalize_ops
from src.evaluate.coco_eval import rescore
from src.inference.decoder import PoseDecoder
from src.utils.transform import box_to_center_scale


@dataclass(frozen=True)
class InferenceSettings:
    """What inference needs of the configuration's ``TEST`` section and input size.

    Attributes:
        image_size: ``[W, H]`` of the network input (``MODEL.IMAGE_SIZE``).
        num_joints: J (``MODEL.NUM_JOINTS``).
        batch_size: Crops per network call (``TEST.BATCH_SIZE``).
        flip_test: Average with the mirrored crop's heatmaps (``TEST.FLIP_TEST``).
        in_vis_thre: Joint score counted in a person's score (``TEST.IN_VIS_THRE``).
    """
    image_size: Tuple[int, int]
    num_joints: int
    batch_size: int
    flip_test: bool
    in_vis_thre: float

    @classmethod
    def from_config(cls, cfg: Any) -> "InferenceSettings":
        test = cfg.TEST
        return cls(tuple(int(v) for v in cfg.MODEL.IMAGE_SIZE), int(cfg.MODEL.NUM_JOINTS), int(test.BATCH_SIZE), bool(test.FLIP_TEST),
                   float(test.IN_VIS_THRE))

    @property
    def aspect_ratio(self) -> float:
        """Width / height of the network input: the shape person boxes are widened to."""
        return self.image_size[0] / self.image_size[1]


class Poses(NamedTuple):
    """The people of one image.

    ``poses`` N×J×3 ``[x, y, score]`` in image pixels; ``scores`` N person scores (box score × mean
    joint score above ``in_vis_thre``, as the evaluation rescores); ``areas`` N, the crop areas in
    pixels² (``prod(scale · PIXEL_STD)``), the OKS normaliser of OKS-NMS and of the tracker.
    """
    poses: np.ndarray
    scores: np.ndarray
    areas: np.ndarray


def padded_count(count: int, batch_size: int) -> int:
    """``count`` rounded up to a power of two, or to a multiple of ``batch_size`` above it.

    In graph mode every new batch shape compiles the network anew (tens of seconds on a CPU), and the
    number of boxes changes from image to image; padding bounds the shapes to ``1, 2, 4, ... batch_size``.
    """
    batch_size = max(1, int(batch_size))
    if count > batch_size:
        return -(-count // batch_size) * batch_size
    return min(batch_size, 1 << max(0, int(count) - 1).bit_length())


class PoseEstimator:
    """Poses of people from a network in inference mode.

    Args:
        net: The network (N×3×H×W → N×J×Hh×Wh), in inference mode.
        decoder: Flip merge and heatmap decoding (:class:`src.inference.decoder.PoseDecoder`).
        settings: Input size, batch size, flip test, joint threshold.
        pad_batches: Pad the crops of an image to :func:`padded_count` (copies of the first,
            dropped afterwards), so that graph mode compiles a few batch shapes only (tracking); with the flip
            test the network sees twice that count, still a power of two or a multiple of ``batch_size``.
    """

    def __init__(self, net: ms.nn.Cell, decoder: PoseDecoder, settings: InferenceSettings, pad_batches: bool = False):
        self.net = net
        self.decoder = decoder
        self.settings = settings
        self.pad_batches = pad_batches
        self._normalize = normalize_ops()

    @classmethod
    def from_config(cls, cfg: Any, net: ms.nn.Cell, pad_batches: bool = False) -> "PoseEstimator":
        """The estimator of ``net`` with the configuration's codec and test settings."""
        return cls(net, PoseDecoder.from_config(cfg), InferenceSettings.from_config(cfg), pad_batches)

    def heatmaps(self, crops: np.ndarray) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """The network's heatmaps of N×3×H×W normalised crops, and of their mirror images with the flip test.

        One network call either way: with the flip test the crops and their mirror images go through as one
        batch of 2N (a call has a fixed cost, and a larger batch uses the cores better). A crop's heatmaps do not
        depend on the others of its batch, up to the rounding of the batch shape's kernels.
        """
        if not self.settings.flip_test:
            return self.net(ms.Tensor(crops)).asnumpy(), None
        output = self.net(ms.Tensor(np.concatenate([crops, crops[:, :, :, ::-1]]))).asnumpy()
        return output[:len(crops)], output[len(crops):]

    def estimate_crops(self, crops: np.ndarray, center: np.ndarray, scale: np.ndarray,
                       box_scores: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """The evaluation rows of one batch of crops (one network call, of 2N crops with the flip test).

        Args:
            crops: N×3×H×W normalised crops.
            center: N×2 crop centres; scale: N×2 crop scales; box_scores: N.

        Returns:
            ``(preds N×J×3, boxes N×6)`` as :meth:`src.inference.decoder.PoseDecoder.decode` gives them.
        """
        output, flipped = self.heatmaps(crops)
        return self.decoder.decode(output, center, scale, box_scores, flipped)

    def crops(self, image: np.ndarray, center: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """N×3×H×W float32 normalised crops of ``image`` (H×W×3 uint8 BGR), as the evaluation's dataset makes them."""
        crops = []
        for c, s in zip(center, scale):
            crop, _ = crop_person(image, c.astype(np.float64), s.astype(np.float64), self.settings.image_size)
            for op in self._normalize:
                crop = op(crop)
            crops.append(crop)
        return np.stack(crops).astype(np.float32)

    def estimate(self, image: np.ndarray, boxes: np.ndarray, box_scores: np.ndarray) -> Poses:
        """The poses of the people boxed in ``image``.

        Args:
            image: H×W×3 uint8 BGR image.
            boxes: N×4 ``[x, y, w, h]`` in image pixels.
            box_scores: N.

        Returns:
            :class:`Poses`, in the order of ``boxes``.
        """
        count = len(boxes)
        if count == 0:
            return Poses(np.zeros((0, self.settings.num_joints, 3), np.float32), np.zeros(0), np.zeros(0))
        box_scores = np.asarray(box_scores)
        if self.pad_batches:
            pad = padded_count(count, self.settings.batch_size) - count
            boxes = np.concatenate([boxes, np.repeat(boxes[:1], pad, axis=0)])
            box_scores = np.concatenate([box_scores, np.repeat(box_scores[:1], pad)])
        center, scale = box_to_center_scale(boxes, self.settings.aspect_ratio)
        crops = self.crops(image, center, scale)
        step = max(1, self.settings.batch_size)
        preds = np.concatenate([self.estimate_crops(crops[i:i + step], center[i:i + step], scale[i:i + step],
                                                    box_scores[i:i + step])[0]
                                for i in range(0, len(crops), step)])
        scores = rescore(preds[:, :, 2], box_scores, self.settings.in_vis_thre)
        # The tracker's areas are computed in float64 from the crops' scales; the decoder's box rows keep the
        # reference's float32 product, which the evaluation's OKS-NMS reproduces. Either formula would change
        # the other's outputs in their last bits, so each keeps its own (same value to float32 precision).
        areas = np.prod(np.asarray(scale, np.float64) * PIXEL_STD, axis=1)
        return Poses(preds[:count], scores[:count], areas[:count])
