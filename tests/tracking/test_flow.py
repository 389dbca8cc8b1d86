"""Optical flow (src/tracking/flow.py): bilinear sampling of a flow field, joints moved by a known shift."""
import cv2
import numpy as np
import pytest

from src.tracking.flow import make_flow, propagate, sample_flow
from tests.tracking.poses import person


def test_sample_flow_is_bilinear_and_clamped():
    ys, xs = np.mgrid[0:20, 0:30].astype(np.float32)
    flow = np.stack([0.5 * xs + 2 * ys, -xs + 0.25 * ys], axis=2)   # linear: bilinear sampling is exact
    points = np.array([[3.25, 4.5], [0.0, 0.0], [28.9, 18.1]])
    expected = np.stack([0.5 * points[:, 0] + 2 * points[:, 1], -points[:, 0] + 0.25 * points[:, 1]], axis=1)
    np.testing.assert_allclose(sample_flow(flow, points), expected, atol=1e-9)
    # Outside the frame: the nearest border pixel's flow.
    np.testing.assert_allclose(sample_flow(flow, [[-5.0, 30.0]]), [flow[19, 0]])
    assert sample_flow(flow, np.zeros((2, 3, 2))).shape == (2, 3, 2)


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_propagation_moves_joints_by_a_known_shift(method):
    """A textured frame shifted by (3, -2) px: joints inside move by the shift, scores stay."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (140, 180)).astype(np.float32), (0, 0), 2.0)
    texture = cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    shift = np.array([3.0, -2.0])
    moved = cv2.warpAffine(texture, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), (180, 140),
                           borderMode=cv2.BORDER_REFLECT)
    poses = np.stack([person(70, 110, 80), person(120, 120, 60)])
    poses[1, 3, 2] = 0.1
    out = propagate(poses, make_flow(method)(texture, moved))
    np.testing.assert_allclose(out[..., :2] - poses[..., :2], np.broadcast_to(shift, (2, 17, 2)), atol=0.3)
    np.testing.assert_array_equal(out[..., 2], poses[..., 2])
    with pytest.raises(ValueError, match="flow method"):
        make_flow("lucas-kanade")
