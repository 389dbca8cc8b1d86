"""Torso colours (src/tracking/appearance.py): histograms of the torso box, clear views, similarities."""
import cv2
import numpy as np

from src.constants import COCO_KEYPOINT_NAMES
from src.data.posetrack_joints import POSETRACK_KEYPOINT_NAMES
from src.tracking.appearance import (BINS, clear_view, colour_histograms, colour_similarity, torso_indices)

TORSO = torso_indices(COCO_KEYPOINT_NAMES)


def _pose(shoulders_y, hips_y, left_x, right_x, score=0.9):
    pose = np.zeros((17, 3))
    pose[[5, 6, 11, 12]] = [[left_x, shoulders_y, score], [right_x, shoulders_y, score],
                            [left_x, hips_y, score], [right_x, hips_y, score]]
    return pose


def test_torso_joints_are_found_by_name_in_both_sets():
    assert TORSO.tolist() == [5, 6, 11, 12] == torso_indices(POSETRACK_KEYPOINT_NAMES).tolist()


def test_the_histogram_is_the_torso_boxs_colours():
    image = np.zeros((100, 100, 3), np.uint8)
    image[20:60, 30:70] = (0, 0, 255)                       # a red shirt on black
    hist = colour_histograms(image, _pose(20, 60, 30, 70)[None], TORSO, 0.2)[0]
    assert hist.shape == (int(np.prod(BINS)),) and np.isclose(hist.sum(), 1.0)
    red = cv2.calcHist([cv2.cvtColor(image[20:60, 30:70], cv2.COLOR_BGR2HSV)], [0, 1, 2], None, list(BINS),
                       [0, 180, 0, 256, 0, 256]).reshape(-1)
    np.testing.assert_allclose(hist, red / red.sum())
    # seen from the side: the shoulders and hips nearly in a line, the box widened to half its height
    side = colour_histograms(image, _pose(20, 60, 50, 50)[None], TORSO, 0.2)[0]
    np.testing.assert_allclose(side, hist)                  # 40 px tall: 20 px wide about x 50, still the shirt


def test_no_histogram_without_a_torso():
    image = np.zeros((50, 50, 3), np.uint8)
    poses = np.stack([_pose(10, 30, 10, 30, score=0.1),   # unsure joints
                      _pose(60, 90, 60, 90)])             # outside the frame
    assert np.isnan(colour_histograms(image, poses, TORSO, 0.2)).all()
    assert colour_histograms(image, np.zeros((0, 17, 3)), TORSO, 0.2).shape == (0, int(np.prod(BINS)))


def test_clear_views_and_similarities():
    assert clear_view(np.array([[0, 0, 10, 10], [5, 0, 10, 10], [50, 0, 10, 10]])).tolist() == [False, False, True]
    assert clear_view(np.zeros((1, 4))).tolist() == [True]
    a, b = np.eye(3)[:2], np.eye(3)
    similarity = colour_similarity(np.vstack([a, np.full(3, np.nan)]), b)
    np.testing.assert_allclose(similarity, [[1, 0, 0], [0, 1, 0], [0, 0, 0]])
