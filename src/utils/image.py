"""Reading an image file the way the data pipeline does: OpenCV, BGR order, EXIF orientation ignored.

COCO's keypoints are in the pixel grid as stored, so the EXIF rotation some cameras add must not be
applied; every reader of the project goes through here, so they all see the same pixels.
"""
from typing import Optional

import cv2
import numpy as np

from src.errors import ImageReadError, shown_path

_FLAGS = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION


def imread_bgr(path: str) -> Optional[np.ndarray]:
    """The H×W×3 uint8 BGR image at ``path``, or None when it is missing or not an image."""
    return cv2.imread(path, _FLAGS)


def read_image(path: str) -> np.ndarray:
    """The H×W×3 uint8 BGR image at ``path``.

    Raises:
        ImageReadError: naming the file, when it is missing, unreadable or not an image.
    """
    image = imread_bgr(path)
    if image is None:
        raise ImageReadError(f"cannot read image {shown_path(path)} (missing, unreadable or not an image)")
    return image
