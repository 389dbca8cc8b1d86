"""Pictures of predicted skeletons, drawn with OpenCV.

    python -m src.visualize --results RESULTS.json --images IMAGE_DIR --ann ANN.json
                            [--output predictions.png] [--num_images 6] [--min_score 0.3] [--vis_thre 0.2]

The annotation file gives each result's ``image_id`` its file name in ``IMAGE_DIR``.

Left limbs are drawn in blue-green, right limbs in orange, the centre line in
white; joints whose confidence is under the visibility threshold are left out.
"""
import json
import logging
import os
import sys
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

from src.constants import COCO_KEYPOINT_NAMES, COCO_SKELETON
from src.errors import DatasetFormatError, DrawingError, ImageReadError, shown_path
from src.utils.cli import run_cli, setup_logging, tool_parser
from src.utils.image import imread_bgr

logger = logging.getLogger(__name__)

# BGR colours.
LEFT_COLOUR = (200, 160, 0)
RIGHT_COLOUR = (0, 128, 255)
CENTRE_COLOUR = (255, 255, 255)


def _side(joint: int) -> int:
    name = COCO_KEYPOINT_NAMES[joint]
    return -1 if name.startswith("left") else 1 if name.startswith("right") else 0


def limb_colour(a: int, b: int):
    """Colour of the limb a–b: left, right or centre."""
    side = _side(a) + _side(b)
    return LEFT_COLOUR if side < 0 else RIGHT_COLOUR if side > 0 else CENTRE_COLOUR


def draw_skeleton(image: np.ndarray, keypoints: np.ndarray, vis_thre: float = 0.2,
                  thickness: Optional[int] = None) -> np.ndarray:
    """Draws one person on ``image`` (BGR, modified in place and returned).

    Args:
        image: H×W×3 uint8 BGR image.
        keypoints: J×3 ``[x, y, confidence]`` in image pixels.
        vis_thre: Joints with a lower confidence are not drawn, nor their limbs.
        thickness: Line thickness; by default scaled with the image size.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64).reshape(-1, 3)
    thickness = thickness or max(1, int(round(max(image.shape[:2]) / 200)))
    shown = keypoints[:, 2] >= vis_thre
    for a, b in COCO_SKELETON:
        if shown[a] and shown[b]:
            pa = tuple(int(round(v)) for v in keypoints[a, :2])
            pb = tuple(int(round(v)) for v in keypoints[b, :2])
            cv2.line(image, pa, pb, limb_colour(a, b), thickness, cv2.LINE_AA)
    for j in np.flatnonzero(shown):
        centre = tuple(int(round(v)) for v in keypoints[j, :2])
        colour = limb_colour(j, j)
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


def draw_results(results: List[Dict], image_files: Dict[int, str], output: str, num_images: int = 6,
                 min_score: float = 0.3, vis_thre: float = 0.2) -> List[int]:
    """Draws COCO keypoint results of the first ``num_images`` images into one PNG.

    Args:
        results: COCO results entries (``image_id``, ``keypoints`` flat J*3, ``score``).
        image_files: Image id to file path.
        output: PNG path to write.
        num_images: How many images (those with the most confident people first).
        min_score: People with a lower score are not drawn.
        vis_thre: Joint confidence threshold.

    Returns:
        The image ids drawn.
    """
    by_image: Dict[int, List[Dict]] = {}
    for entry in results:
        if entry.get("score", 1.0) >= min_score:
            by_image.setdefault(int(entry["image_id"]), []).append(entry)
    chosen = sorted(by_image, key=lambda i: (-max(e["score"] for e in by_image[i]), i))[:num_images]
    if not chosen:
        raise DrawingError(f"no person with score >= {min_score} to draw")
    pictures = []
    for image_id in chosen:
        path = image_files.get(image_id)
        if path is None:
            raise DrawingError(f"image id {image_id} of the results is not among the annotation file's images; "
                             "pass the annotation file of the set the results were made on")
        image = imread_bgr(path)
        if image is None:
            raise ImageReadError(f"cannot read image {shown_path(path)} (image id {image_id})")
        for entry in by_image[image_id]:
            draw_skeleton(image, np.asarray(entry["keypoints"]), vis_thre)
        pictures.append(image)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    if not cv2.imwrite(output, tile(pictures)):
        raise DrawingError(f"cannot write {shown_path(output)}; choose a .png or .jpg file in a writable folder")
    return chosen


def image_files_from_annotations(ann_file: str, image_dir: str) -> Dict[int, str]:
    """Image id to path, from a COCO annotation file's ``images`` list."""
    with open(ann_file, encoding="utf-8") as f:
        images = json.load(f)["images"]
    return {int(img["id"]): os.path.join(image_dir, img["file_name"]) for img in images}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = tool_parser("python -m src.visualize", __doc__)
    parser.add_argument("--results", required=True, help="keypoints_results.json written by eval.py")
    parser.add_argument("--images", required=True, help="folder of the images")
    parser.add_argument("--ann", required=True, help="COCO annotation file (for the image file names)")
    parser.add_argument("--output", default="predictions.png")
    parser.add_argument("--num_images", type=int, default=6)
    parser.add_argument("--min_score", type=float, default=0.3)
    parser.add_argument("--vis_thre", type=float, default=0.2)
    args = parser.parse_args(argv)
    setup_logging()
    try:
        with open(args.results, encoding="utf-8") as f:
            results = json.load(f)
        image_files = image_files_from_annotations(args.ann, args.images)
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise DatasetFormatError(f"{args.results} or {args.ann} is not the JSON file it should be ({err})") from err
    drawn = draw_results(results, image_files, args.output, args.num_images, args.min_score, args.vis_thre)
    logger.info("drew %d images with predicted skeletons to %s", len(drawn), os.path.abspath(args.output))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
