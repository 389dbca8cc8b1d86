"""src/visualize.py: limb colours, skeletons drawn where the joints are, the tiled picture, errors."""
import json

import cv2
import numpy as np
import pytest

from src.errors import DrawingError, ImageReadError
from src.utils.cli import run_cli
from src.visualize import (CENTRE_COLOUR, LEFT_COLOUR, RIGHT_COLOUR, draw_results, draw_skeleton, limb_colour,
                           main, tile)

BLACK = (0, 0, 0)


def person(**joints):
    """17×3 keypoints, confidence 0 except the joints given as ``index=(x, y, confidence)``."""
    keypoints = np.zeros((17, 3))
    for name, value in joints.items():
        keypoints[int(name[1:])] = value
    return keypoints


def distance_to_segment(points: np.ndarray, a, b) -> np.ndarray:
    """Distance of each ``[x, y]`` of ``points`` (P×2) to the segment a–b, in pixels."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    t = np.clip((points - a) @ (b - a) / ((b - a) @ (b - a)), 0.0, 1.0)
    return np.linalg.norm(points - (a + t[:, None] * (b - a)), axis=1)


@pytest.mark.parametrize("a, b, colour", [
    (5, 7, LEFT_COLOUR), (13, 15, LEFT_COLOUR), (0, 1, LEFT_COLOUR),   # a centre joint takes the other's side
    (6, 8, RIGHT_COLOUR), (14, 16, RIGHT_COLOUR), (0, 2, RIGHT_COLOUR),
    (5, 6, CENTRE_COLOUR), (11, 12, CENTRE_COLOUR),
])
def test_limb_colour_by_side(a, b, colour):
    assert limb_colour(a, b) == colour


def test_limbs_join_the_joints_and_nothing_else_is_drawn():
    image = np.zeros((320, 320, 3), np.uint8)
    # left shoulder–elbow, right shoulder–elbow, and the shoulder line between them
    keypoints = person(j5=(40, 40, 0.9), j7=(40, 200, 0.8), j6=(200, 40, 0.9), j8=(280, 280, 0.7))
    assert draw_skeleton(image, keypoints) is image                      # drawn in place
    assert tuple(image[120, 40]) == LEFT_COLOUR                          # the middle of each limb
    assert tuple(image[40, 120]) == CENTRE_COLOUR
    assert tuple(image[160, 240]) == RIGHT_COLOUR
    ys, xs = np.nonzero(image.any(axis=2))
    drawn = np.stack([xs, ys], axis=1).astype(float)
    nearest = np.min([distance_to_segment(drawn, (40, 40), (40, 200)),
                      distance_to_segment(drawn, (40, 40), (200, 40)),
                      distance_to_segment(drawn, (200, 40), (280, 280))], axis=0)
    assert nearest.max() <= 5.0      # line width 2 at 320 px, joint dots of radius 3, antialiasing


def test_joints_under_the_threshold_and_their_limbs_are_left_out():
    image = np.zeros((320, 320, 3), np.uint8)
    draw_skeleton(image, person(j5=(40, 40, 0.9), j7=(40, 200, 0.1)), vis_thre=0.2)
    assert image[35:46, 35:46].any()              # the shoulder's dot
    assert not image[60:320].any()                # no limb, no elbow
    draw_skeleton(image, person(j5=(40, 40, 0.9), j7=(40, 200, 0.1)), vis_thre=0.05)
    assert tuple(image[120, 40]) == LEFT_COLOUR


def test_line_width_grows_with_the_image():
    def width(size: int) -> int:
        image = np.zeros((size, size, 3), np.uint8)
        draw_skeleton(image, person(j6=(size // 4, size // 4, 1), j8=(size // 4, size * 3 // 4, 1)))
        return int((image[size // 2] == RIGHT_COLOUR).all(axis=1).sum())
    assert width(1600) > width(800) > width(200)


def test_tile_keeps_aspect_and_order():
    tall, wide = np.full((200, 100, 3), 10, np.uint8), np.full((150, 300, 3), 200, np.uint8)
    canvas = tile([tall, wide, tall, wide], columns=3, cell=320)
    assert canvas.shape == (640, 960, 3)
    assert (canvas[:320, :160] == 10).all() and (canvas[:320, 160:320] == 32).all()      # 200×100 → 320×160
    assert (canvas[:160, 320:640] == 200).all() and (canvas[160:320, 320:640] == 32).all()
    assert (canvas[320:, 640:] == 32).all()                                            # an empty cell


@pytest.fixture
def image_set(tmp_path):
    """Three black 320×320 images (ids 1–3) and their ``id → path`` map."""
    files = {}
    for image_id in (1, 2, 3):
        files[image_id] = str(tmp_path / f"{image_id:012d}.png")
        cv2.imwrite(files[image_id], np.zeros((320, 320, 3), np.uint8))
    return files


def entry(image_id, score, **joints):
    return {"image_id": image_id, "category_id": 1, "score": score,
            "keypoints": person(**joints).reshape(-1).tolist()}


RESULTS = [
    entry(1, 0.1, j6=(250, 40, 1), j8=(250, 200, 1)),    # under min_score: not drawn
    entry(2, 0.5, j6=(100, 50, 1), j8=(100, 250, 1)),
    entry(1, 0.9, j5=(40, 40, 1), j7=(40, 200, 1)),
    entry(3, 0.2, j5=(40, 40, 1), j7=(40, 200, 1)),      # nobody to draw in image 3
]


def test_draw_results_most_confident_images_first(image_set, tmp_path):
    output = str(tmp_path / "out" / "predictions.png")
    assert draw_results(RESULTS, image_set, output, min_score=0.3) == [1, 2]
    picture = cv2.imread(output)
    assert picture.shape == (320, 960, 3)                       # one row of three 320 px cells
    assert tuple(picture[120, 40]) == LEFT_COLOUR               # image 1's confident person
    assert not picture[:, 200:300].any()                        # its unconfident one is not drawn
    assert tuple(picture[150, 320 + 100]) == RIGHT_COLOUR       # image 2
    assert (picture[:, 640:] == 32).all()                       # image 3 left out
    assert draw_results(RESULTS, image_set, output, num_images=1, min_score=0.3) == [1]
    assert (cv2.imread(output)[:, 320:] == 32).all()


def test_draw_results_errors(image_set, tmp_path):
    output = str(tmp_path / "p.png")
    with pytest.raises(DrawingError, match="no person with score >= 0.95"):
        draw_results(RESULTS, image_set, output, min_score=0.95)
    with pytest.raises(DrawingError, match="image id 2 of the results is not among the annotation file's images"):
        draw_results(RESULTS, {1: image_set[1]}, output, min_score=0.3)
    with pytest.raises(ImageReadError, match=r"cannot read image .*missing.png \(image id 2\)"):
        draw_results(RESULTS, {1: image_set[1], 2: str(tmp_path / "missing.png")}, output, min_score=0.3)


def test_cli(image_set, tmp_path, capsys):
    images = [{"id": i, "file_name": f"{i:012d}.png", "width": 320, "height": 320} for i in image_set]
    (tmp_path / "ann.json").write_text(json.dumps({"images": images}))
    (tmp_path / "results.json").write_text(json.dumps(RESULTS))
    args = ["--results", str(tmp_path / "results.json"), "--images", str(tmp_path)]
    output = tmp_path / "pictures" / "p.png"
    assert main(args + ["--ann", str(tmp_path / "ann.json"), "--output", str(output)]) == 0
    assert tuple(cv2.imread(str(output))[120, 40]) == LEFT_COLOUR
    assert "drew 2 images" in capsys.readouterr().out
    assert run_cli(main, args) == 2                   # --ann is required, as the usage says
    assert "required: --ann" in capsys.readouterr().err
    assert run_cli(main, ["--results", str(tmp_path / "none.json"), "--images", str(tmp_path),
                 "--ann", str(tmp_path / "ann.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "none.json" in err and len(err.splitlines()) == 1
