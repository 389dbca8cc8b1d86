"""Skeletons, boxes and picture grids drawn with OpenCV (BGR images, modified in place where said).

Left limbs are drawn in blue-green, right limbs in orange, the centre line in white; joints whose
confidence is under the visibility threshold are left out, with their limbs.
"""
from typing import Optional, Sequence

import cv2
import numpy as np

from src.constants import COCO_KEYPOINTS, KeypointSet

# BGR colours.
LEFT_COLOUR = (200, 160, 0)
RIGHT_COLOUR = (0, 128, 255)
CENTRE_COLOUR = (255, 255, 255)


def _side(joint: int, names: Sequence[str]) -> int:
    name = names[joint]
    return -1 if name.startswith("left") else 1 if name.startswith("right") else 0


def limb_colour(a: int, b: int, names: Sequence[str] = COCO_KEYPOINTS.keypoint_names):
    """Colour of the limb a–b of the joints ``names``: left, right or centre."""
    side = _side(a, names) + _side(b, names)
    return LEFT_COLOUR if side < 0 else RIGHT_COLOUR if side > 0 else CENTRE_COLOUR


def draw_skeleton(image: np.ndarray, keypoints: np.ndarray, vis_thre: float = 0.2,
                  thickness: Optional[int] = None, keypoint_set: KeypointSet = COCO_KEYPOINTS) -> np.ndarray:
    """Draws one person on ``image`` (BGR, modified in place and returned).

    Args:
        image: H×W×3 uint8 BGR image.
        keypoints: J×3 ``[x, y, confidence]`` in image pixels.
        vis_thre: Joints with a lower confidence are not drawn, nor their limbs.
        thickness: Line thickness; by default scaled with the image size.
        keypoint_set: The joints of ``keypoints`` (their skeleton and names; the network's data set type's).
    """
    keypoints = np.asarray(keypoints, dtype=np.float64).reshape(-1, 3)
    thickness = thickness or max(1, int(round(max(image.shape[:2]) / 200)))
    shown = keypoints[:, 2] >= vis_thre
    names = keypoint_set.keypoint_names
    for a, b in keypoint_set.skeleton:
        if shown[a] and shown[b]:
            pa = tuple(int(round(v)) for v in keypoints[a, :2])
            pb = tuple(int(round(v)) for v in keypoints[b, :2])
            cv2.line(image, pa, pb, limb_colour(a, b, names), thickness, cv2.LINE_AA)
    for j in np.flatnonzero(shown):
        centre = tuple(int(round(v)) for v in keypoints[j, :2])
        colour = limb_colour(j, j, names)
        cv2.circle(image, centre, thickness + 1, colour, -1, cv2.LINE_AA)
        cv2.circle(image, centre, thickness + 1, (0, 0, 0), 1, cv2.LINE_AA)
    return image


def tile(images: Sequence[np.ndarray], columns: int = 3, cell: int = 320) -> np.ndarray:
    """Images resized to fit ``cell``×``cell`` and laid out in a grid (BGR uint8)."""
    rows = (len(images) + columns - 1) // columns
    canvas = np.full((rows * cell, columns * cell, 3), 32, dtype=np.uint8)
    for i, img in enumerate(images):
        zoom = cell / max(img.shape[:2])
        small = cv2.resize(img, (max(1, int(img.shape[1] * zoom)), max(1, int(img.shape[0] * zoom))),
                           interpolation=cv2.INTER_AREA)
        y, x = (i // columns) * cell, (i % columns) * cell
        canvas[y:y + small.shape[0], x:x + small.shape[1]] = small
    return canvas

#: Grey of person boxes (BGR).
BOX_COLOUR = (160, 160, 160)


def draw_people(image: np.ndarray, boxes: np.ndarray, preds: np.ndarray, vis_thre: float,
                keypoint_set: KeypointSet = COCO_KEYPOINTS) -> np.ndarray:
    """The image (a copy) with each box in grey and each skeleton (joints over ``vis_thre``, of ``keypoint_set``)
    drawn."""
    picture = image.copy()
    thickness = max(1, int(round(max(picture.shape[:2]) / 400)))
    for (x, y, w, h), person in zip(boxes, preds):
        cv2.rectangle(picture, (int(round(x)), int(round(y))), (int(round(x + w)), int(round(y + h))),
                      BOX_COLOUR, thickness)
        draw_skeleton(picture, person, vis_thre, keypoint_set=keypoint_set)
    return picture
