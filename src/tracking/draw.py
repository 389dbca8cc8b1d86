"""Pictures of tracked people: each track its own colour and id label, skeletons as infer.py's."""
import colorsys

import cv2
import numpy as np

from src.visualize import draw_skeleton

#: Successive ids step round the colour wheel by the golden ratio, so neighbours differ.
_GOLDEN = 0.618033988749895


def track_colour(track_id: int):
    """A bright BGR colour of ``track_id``, the same in every frame."""
    r, g, b = colorsys.hsv_to_rgb((track_id * _GOLDEN) % 1.0, 0.85, 1.0)
    return int(b * 255), int(g * 255), int(r * 255)


def draw_tracks(image: np.ndarray, track_ids: np.ndarray, boxes: np.ndarray, poses: np.ndarray,
                vis_thre: float, caption: str = "") -> np.ndarray:
    """The frame (a copy) with each person's box and id label in the track's colour and their skeleton.

    Args:
        image: H×W×3 uint8 BGR frame.
        track_ids: N track ids; boxes: N×4 ``[x, y, w, h]``; poses: N×J×3 ``[x, y, score]``.
        vis_thre: Joints scoring lower are not drawn.
        caption: Text written in the top-left corner (the frame's name), or nothing.
    """
    picture = image.copy()
    thickness = max(1, int(round(max(picture.shape[:2]) / 400)))
    font_scale = max(0.4, max(picture.shape[:2]) / 1000)
    for track_id, (x, y, w, h), pose in zip(track_ids, boxes, poses):
        colour = track_colour(int(track_id))
        top_left = (int(round(x)), int(round(y)))
        cv2.rectangle(picture, top_left, (int(round(x + w)), int(round(y + h))), colour, thickness + 1)
        draw_skeleton(picture, pose, vis_thre)
        label = f"id {int(track_id)}"
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        corner = (top_left[0], max(th + base, top_left[1]))
        cv2.rectangle(picture, (corner[0], corner[1] - th - base), (corner[0] + tw + 4, corner[1]), colour, -1)
        cv2.putText(picture, label, (corner[0] + 2, corner[1] - base), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                    (0, 0, 0), thickness, cv2.LINE_AA)
    if caption:
        cv2.putText(picture, caption, (6, picture.shape[0] - 8), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                    (255, 255, 255), thickness + 1, cv2.LINE_AA)
    return picture
