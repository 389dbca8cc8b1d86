"""Pictures of tracked people: each track its own colour and id label, skeletons as infer.py's.

    python -m src.tracking.draw --tracks tracks.json --frames FRAME_DIR [--output strip.jpg] [--count 5]

draws a strip of evenly spaced frames of a ``track.py`` run on a folder of frames.
"""
import colorsys
import logging
import os
import sys
from typing import Dict, Optional, Sequence

import cv2
import numpy as np

from src.constants import COCO_KEYPOINTS, KeypointSet
from src.errors import DrawingError, ImageReadError, shown_path
from src.tracking.tracks_file import as_poses, read_tracks, tracks_keypoints
from src.utils.cli import run_cli, setup_logging, tool_parser
from src.utils.drawing import draw_skeleton
from src.utils.image import imread_bgr

logger = logging.getLogger(__name__)

#: Successive ids step round the colour wheel by the golden ratio, so neighbours differ.
_GOLDEN = 0.618033988749895


def track_colour(track_id: int):
    """A bright BGR colour of ``track_id``, the same in every frame."""
    r, g, b = colorsys.hsv_to_rgb((track_id * _GOLDEN) % 1.0, 0.85, 1.0)
    return int(b * 255), int(g * 255), int(r * 255)


def draw_tracks(image: np.ndarray, track_ids: np.ndarray, boxes: np.ndarray, poses: np.ndarray,
                vis_thre: float, caption: str = "", keypoints: KeypointSet = COCO_KEYPOINTS) -> np.ndarray:
    """The frame (a copy) with each person's box and id label in the track's colour and their skeleton.

    Args:
        image: H×W×3 uint8 BGR frame.
        track_ids: N track ids; boxes: N×4 ``[x, y, w, h]``; poses: N×J×3 ``[x, y, score]``.
        vis_thre: Joints scoring lower are not drawn.
        caption: Text written in the top-left corner (the frame's name), or nothing.
        keypoints: The poses' joints (their skeleton and sides).
    """
    picture = image.copy()
    thickness = max(1, int(round(max(picture.shape[:2]) / 400)))
    font_scale = max(0.4, max(picture.shape[:2]) / 1000)
    for track_id, (x, y, w, h), pose in zip(track_ids, boxes, poses):
        colour = track_colour(int(track_id))
        top_left = (int(round(x)), int(round(y)))
        cv2.rectangle(picture, top_left, (int(round(x + w)), int(round(y + h))), colour, thickness + 1)
        draw_skeleton(picture, pose, vis_thre, keypoint_set=keypoints)
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


def strip(tracks: Dict, frames_dir: str, count: int = 5, width: int = 1600, vis_thre: float = 0.2) -> np.ndarray:
    """``count`` evenly spaced frames of a tracks.json side by side, drawn, resized to ``width`` in all."""
    frames = tracks["frames"]
    keypoints = tracks_keypoints(tracks)
    chosen = [frames[int(round(i))] for i in np.linspace(0, len(frames) - 1, min(count, len(frames)))]
    pictures = []
    for frame in chosen:
        path = os.path.join(frames_dir, frame["file_name"])
        image = imread_bgr(path)
        if image is None:
            raise ImageReadError(f"cannot read frame {shown_path(path)}; --frames is the folder track.py read")
        people = frame["people"]
        poses = as_poses([p["keypoints"] for p in people])
        pictures.append(draw_tracks(image, [p["track_id"] for p in people], [p["bbox"] for p in people], poses,
                                    vis_thre, f"frame {frame['index']}", keypoints))
    row = np.concatenate([cv2.resize(p, pictures[0].shape[1::-1]) for p in pictures], axis=1)
    return cv2.resize(row, (width, max(1, round(row.shape[0] * width / row.shape[1]))), interpolation=cv2.INTER_AREA)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = tool_parser("python -m src.tracking.draw", __doc__)
    parser.add_argument("--tracks", required=True, help="tracks.json written by track.py")
    parser.add_argument("--frames", required=True, help="the folder of frames track.py read")
    parser.add_argument("--output", default="tracks_strip.jpg")
    parser.add_argument("--count", type=int, default=5, help="frames in the strip (default 5)")
    parser.add_argument("--width", type=int, default=1600, help="width of the picture (default 1600)")
    args = parser.parse_args(argv)
    setup_logging()
    tracks = read_tracks(args.tracks)
    picture = strip(tracks, args.frames, args.count, args.width, float(tracks["settings"].get("in_vis_thre", 0.2)))
    if not cv2.imwrite(args.output, picture, [cv2.IMWRITE_JPEG_QUALITY, 88]):
        raise DrawingError(f"cannot write {shown_path(args.output)}; choose a .jpg or .png file in a writable folder")
    logger.info("strip of %d frames written to %s", min(args.count, len(tracks["frames"])), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
