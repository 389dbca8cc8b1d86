"""Drawing (src/utils/drawing.py): limb colours, skeletons drawn where the joints are, boxes, the tiled picture."""
import numpy as np
import pytest

from src.data.posetrack_joints import POSETRACK_KEYPOINTS
from src.utils.drawing import (BOX_COLOUR, CENTRE_COLOUR, LEFT_COLOUR, RIGHT_COLOUR, draw_people, draw_skeleton,
                               limb_colour, tile)

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


def test_limb_colours_follow_the_keypoint_set():
    # PoseTrack's slots 1 and 2 (COCO's eyes) hold the head bottom and top, on the body's axis
    names = POSETRACK_KEYPOINTS.keypoint_names
    assert limb_colour(1, 2, names) == CENTRE_COLOUR and limb_colour(1, 2) == CENTRE_COLOUR
    assert limb_colour(0, 1, names) == CENTRE_COLOUR and limb_colour(0, 1) == LEFT_COLOUR
    image = np.zeros((320, 320, 3), np.uint8)
    draw_skeleton(image, person(j0=(40, 160, 0.9), j1=(280, 160, 0.9)), keypoint_set=POSETRACK_KEYPOINTS)
    assert tuple(image[160, 160]) == CENTRE_COLOUR


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


def test_people_are_drawn_on_a_copy_with_their_boxes():
    image = np.zeros((320, 320, 3), np.uint8)
    picture = draw_people(image, np.array([[20.0, 20.0, 200.0, 250.0]]),
                          person(j5=(40, 40, 0.9), j7=(40, 200, 0.8))[None], vis_thre=0.2)
    assert not image.any()                                   # the input is left alone
    assert tuple(picture[20, 120]) == BOX_COLOUR and tuple(picture[270, 120]) == BOX_COLOUR
    assert tuple(picture[120, 40]) == LEFT_COLOUR
