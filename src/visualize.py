"""Pictures of predicted skeletons, drawn with OpenCV.

    python -m src.visualize --results RESULTS.json --images IMAGE_DIR --ann ANN.json
                            [--output predictions.png] [--num_images 6] [--min_score 0.3] [--vis_thre 0.2]

The annotation file gives each result's ``image_id`` its file name in ``IMAGE_DIR``.

Skeletons are drawn by :func:`src.utils.drawing.draw_skeleton`.
"""
import logging
import os
import sys
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

from src.errors import DrawingError, ImageReadError, shown_path
from src.data.annotations import image_files, read_annotations
from src.evaluate.results import read_results
from src.utils.cli import run_cli, setup_logging, tool_parser
from src.utils.drawing import draw_skeleton, tile
from src.utils.image import imread_bgr

logger = logging.getLogger(__name__)

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
    """Image id to path, from a COCO annotation file's ``images`` list.

    Raises:
        FileNotFoundError: no file at ``ann_file``.
        DatasetFormatError: not JSON, or without an ``images`` list of ``{id, file_name}``.
    """
    return image_files(read_annotations(ann_file), ann_file, image_dir)


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
    results = read_results(args.results)
    image_files = image_files_from_annotations(args.ann, args.images)
    drawn = draw_results(results, image_files, args.output, args.num_images, args.min_score, args.vis_thre)
    logger.info("drew %d images with predicted skeletons to %s", len(drawn), os.path.abspath(args.output))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
