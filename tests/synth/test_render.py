"""Drawing the synthetic scenes (src/synth/render.py): a figure where its joints project, its parts on the
label map under their own labels, its face only on the side turned to the camera."""
import numpy as np
import pytest

from src.synth.body import HEAD, L_FOOT, L_SHIN, TORSO, build_body
from src.synth.render import OCCLUDER_LABEL, PARTS_PER_PERSON, draw_occluder, draw_person, sample_look
from tests.synth.figures import UPRIGHT


def draw(yaw, index=0, size=200.0, origin=(120, 140)):
    img = np.zeros((300, 240, 3), np.uint8)
    label = np.zeros((300, 240), np.uint8)
    drawn = draw_person(img, label, index, build_body(UPRIGHT), sample_look(np.random.default_rng(0)), yaw, 0.0,
                        size, np.array(origin, float))
    return img, label, drawn


def test_the_upright_figure_facing_the_camera():
    img, label, drawn = draw(0.0)
    joints = drawn["joints"]
    # The pelvis at the origin, 200 px tall figure: the ankles 0.49 of its height below the hips' line.
    np.testing.assert_allclose(joints[[11, 12]].mean(axis=0), [120, 140 + 0.03 * 200], atol=1e-9)
    np.testing.assert_allclose(joints[15, 1] - joints[11, 1], 0.49 * 200, atol=1e-9)
    assert joints[5, 0] > joints[6, 0]            # facing us, the person's left is on the image's right
    assert drawn["facing"].all()
    # Every pixel of the label map is background or one of person 0's parts, and the image is drawn there.
    assert set(np.unique(label)) <= {0} | set(range(1, 1 + PARTS_PER_PERSON))
    assert img[label > 0].any(axis=1).all()
    ys, xs = np.round(joints[[0, 15]][:, ::-1]).astype(int).T
    assert label[ys[0], xs[0]] == 1 + HEAD and label[ys[1], xs[1]] in (1 + L_SHIN, 1 + L_FOOT)


def test_turned_around_the_sides_swap_and_the_face_is_hidden():
    _, _, front = draw(0.0)
    _, label, back = draw(180.0, index=2)
    np.testing.assert_allclose(back["joints"][:, 0] - 120, -(front["joints"][:, 0] - 120), atol=1e-9)
    assert back["joints"][5, 0] < back["joints"][6, 0]
    assert not back["facing"][:3].any()            # nose and eyes turned away
    labels = set(np.unique(label)) - {0}
    assert labels and min(labels) >= 1 + 2 * PARTS_PER_PERSON and max(labels) < 1 + 3 * PARTS_PER_PERSON
    assert 1 + 2 * PARTS_PER_PERSON + TORSO in labels


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_an_occluder_covers_its_pixels_with_its_own_label(seed):
    img = np.zeros((120, 160, 3), np.uint8)
    label = np.zeros((120, 160), np.uint8)
    draw_occluder(np.random.default_rng(seed), img, label, 3, np.array([80.0, 60.0]))
    covered = label == OCCLUDER_LABEL + 3
    assert covered.any() and set(np.unique(label)) == {0, OCCLUDER_LABEL + 3}
    assert not img[~covered].any()


def test_the_head_ends_and_box_project_with_the_figure():
    _, _, drawn = draw(0.0)
    bottom, top = drawn["head_ends"]
    head_r = UPRIGHT["head_r"] * 200.0
    np.testing.assert_allclose(top - bottom, [0, -2 * head_r], atol=1e-9)              # image y grows downward
    np.testing.assert_allclose(drawn["head_box"], np.concatenate([(top + bottom) / 2 - head_r,
                                                                  (top + bottom) / 2 + head_r]), atol=1e-9)
    assert top[1] < drawn["joints"][0, 1] < bottom[1] < drawn["joints"][5, 1]
