"""src/visualize.py: the most confident images' skeletons in one picture, its command and errors.
The drawing itself: tests/utils/test_drawing.py."""
import json

import cv2
import numpy as np
import pytest

from src.errors import DrawingError, ImageReadError
from src.utils.cli import run_cli
from src.utils.drawing import LEFT_COLOUR, RIGHT_COLOUR
from src.visualize import draw_results, main


@pytest.fixture
def image_set(tmp_path):
    """Three black 320×320 images (ids 1–3) and their ``id → path`` map."""
    files = {}
    for image_id in (1, 2, 3):
        files[image_id] = str(tmp_path / f"{image_id:012d}.png")
        cv2.imwrite(files[image_id], np.zeros((320, 320, 3), np.uint8))
    return files


def entry(image_id, score, **joints):
    """A results entry whose joints are confidence 0 except those given as ``j<index>=(x, y, confidence)``."""
    keypoints = np.zeros((17, 3))
    for name, value in joints.items():
        keypoints[int(name[1:])] = value
    return {"image_id": image_id, "category_id": 1, "score": score, "keypoints": keypoints.reshape(-1).tolist()}


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
