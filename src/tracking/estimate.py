"""The pose network as the tracker's estimator: the evaluation's pipeline on a frame's boxes."""
from typing import Any

import numpy as np

from src.constants import PIXEL_STD
from src.inference.images import predict_people
from src.tracking.tracker import Estimator
from src.utils.transform import box_to_center_scale


def padded_count(count: int, batch_size: int) -> int:
    """``count`` rounded up to a power of two, or to a multiple of ``batch_size`` above it.

    In graph mode every new batch shape compiles the network anew (20-35 s for the demo's network
    on this project's 2-core CPU), and the number of boxes changes from frame to frame; padding
    bounds the shapes to ``1, 2, 4, ... batch_size``.
    """
    batch_size = max(1, int(batch_size))
    if count > batch_size:
        return -(-count // batch_size) * batch_size
    return min(batch_size, 1 << max(0, int(count) - 1).bit_length())


def network_estimator(cfg: Any, net: Any) -> Estimator:
    """Poses of a frame's boxes by :func:`src.inference.images.predict_people` (the evaluation's crop, flip
    test, decoding and rescoring), with the evaluation's person areas ``prod(scale * PIXEL_STD)``.
    The boxes are padded (with copies of the first) to :func:`padded_count` and the copies dropped."""
    image_size = [int(v) for v in cfg.MODEL.IMAGE_SIZE]
    batch_size = int(cfg.TEST.BATCH_SIZE)

    def estimate(image: np.ndarray, boxes: np.ndarray, scores: np.ndarray):
        count = len(boxes)
        pad = padded_count(count, batch_size) - count
        padded_boxes = np.concatenate([boxes, np.repeat(boxes[:1], pad, axis=0)])
        padded_scores = np.concatenate([scores, np.repeat(scores[:1], pad)])
        poses, person_scores = predict_people(cfg, net, image, padded_boxes, padded_scores)
        _, scale = box_to_center_scale(boxes, image_size[0] / image_size[1])
        return poses[:count], person_scores[:count], np.prod(np.asarray(scale, np.float64) * PIXEL_STD, axis=1)

    return estimate
