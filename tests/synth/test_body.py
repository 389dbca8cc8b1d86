"""The synthetic people's body model (src/synth/body.py): a figure is a pure function of its numbers, its
joints where its proportions put them, left on the person's left."""
import numpy as np
import pytest

from src.synth.body import HEAD, TORSO, build_body, rotation, sample_body, sample_body_params
from tests.synth.figures import UPRIGHT


@pytest.mark.parametrize("axis,start,turned", [("z", [1, 0, 0], [0, 1, 0]), ("x", [0, 1, 0], [0, 0, 1]),
                                               ("y", [0, 0, 1], [1, 0, 0])])
def test_rotations_turn_a_quarter_the_right_hand_way(axis, start, turned):
    r = rotation(axis, 90.0)
    np.testing.assert_allclose(r @ start, turned, atol=1e-12)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)


def test_an_upright_figure_has_the_proportions_of_its_numbers():
    joints = build_body(UPRIGHT)["joints"]
    left, right = [5, 7, 9, 11, 13, 15], [6, 8, 10, 12, 14, 16]
    assert np.all(joints[left, 0] > 0) and np.all(joints[right, 0] < 0)            # x is the person's left
    np.testing.assert_allclose(joints[left, 0], -joints[right, 0], atol=1e-12)     # symmetric
    np.testing.assert_allclose(joints[left, 1:], joints[right, 1:], atol=1e-12)
    # Upper arm, forearm, thigh and shin hang straight down with lengths 0.175, 0.15, 0.245, 0.245.
    for top, bottom, length in ((5, 7, 0.175), (7, 9, 0.15), (11, 13, 0.245), (13, 15, 0.245)):
        np.testing.assert_allclose(joints[bottom] - joints[top], [0, -length, 0], atol=1e-12)
    assert joints[0, 1] > joints[5, 1] > joints[11, 1] > joints[15, 1]              # head, shoulders, hips, feet
    assert joints[15, 1] == pytest.approx(0.5 - 0.03 - 2 * 0.245)                   # pelvis at 0.5, hips 0.03 below
    assert joints[0, 2] > 0 and joints[3, 0] > 0 > joints[4, 0]                    # nose forward, ears aside


def test_longer_proportions_make_a_taller_figure_and_leaning_moves_the_head():
    tall = build_body(dict(UPRIGHT, length=1.2))["joints"]
    upright = build_body(UPRIGHT)["joints"]
    assert tall[0, 1] - tall[15, 1] > upright[0, 1] - upright[15, 1]
    leaning = build_body(dict(UPRIGHT, lean_x=20.0))["joints"]
    np.testing.assert_allclose(leaning[11:], upright[11:], atol=1e-12)            # hips and legs stay
    assert abs(leaning[0, 2] - upright[0, 2]) > 0.05


def test_parts_and_determinism():
    body = build_body(UPRIGHT)
    parts = [part for part, _, _, _ in body["prims"]]
    assert parts[0] == TORSO and HEAD in parts and len(parts) == len(set(parts)) == 15
    first = sample_body(np.random.default_rng(3))
    again = sample_body(np.random.default_rng(3))
    other = sample_body(np.random.default_rng(4))
    np.testing.assert_array_equal(first["joints"], again["joints"])
    assert not np.allclose(first["joints"], other["joints"])
    params = sample_body_params(np.random.default_rng(3))
    np.testing.assert_array_equal(build_body(params)["joints"], first["joints"])


def test_the_head_ends_are_the_bottom_and_top_of_the_head_along_its_axis():
    body = build_body(UPRIGHT)
    bottom, top = body["head_ends"]
    np.testing.assert_allclose(top - bottom, [0, 2 * body["head_r"], 0], atol=1e-12)   # upright: straight up
    np.testing.assert_allclose((top + bottom) / 2, body["head"], atol=1e-12)
    assert top[1] > body["joints"][0, 1] > bottom[1] > body["joints"][5, 1]          # nose between, over shoulders
    nodding = build_body(dict(UPRIGHT, head_pitch=30.0))
    axis = nodding["head_ends"][1] - nodding["head_ends"][0]
    assert abs(axis[2]) > 0.2 * np.linalg.norm(axis)                                # tilted with the head
