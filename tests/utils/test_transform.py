"""Geometry helpers (src/utils/transform.py): affine transforms, flips, box conversion."""
import numpy as np
import pytest

from src.constants import FLIP_PAIRS
from src.utils.transform import (affine_transform, box_to_center_scale, flip_back, flip_pairs,
                                 flip_permutation, fliplr_joints, get_affine_transform, transform_preds)


def test_affine_maps_crop_centre_and_corners():
    center, scale = np.array([100.0, 80.0]), np.array([0.96, 1.28])  # 192×256 px crop
    t = get_affine_transform(center, scale, 0, [192, 256])
    np.testing.assert_allclose(affine_transform(center, t), [96, 128], atol=1e-4)
    # top-left corner of the crop in the image lands on the output origin
    np.testing.assert_allclose(affine_transform([100 - 96, 80 - 128], t), [0, 0], atol=1e-4)


@pytest.mark.parametrize("rot, expected", [
    (90.0, [50.0, 100.0]),
    (-90.0, [150.0, 100.0]),
    (30.0, [100.0 - 50.0 * np.sin(np.pi / 6), 100.0 - 50.0 * np.cos(np.pi / 6)]),
])
def test_rotation_turns_the_picture_counter_clockwise(rot, expected):
    """The reference's direction, worked by hand for a 200 px crop drawn at 200×200 (no zoom).

    The source direction (0, -100) turned by ``[cos -sin; sin cos]`` at 90 degrees is (100, 0): the
    image's right goes to the output's up, so a point 50 px above the centre lands 50 px left of it.
    In general it lands at 50 px × (-sin rot, -cos rot) from the centre: with y down, the picture turns
    counter-clockwise on the screen.
    """
    t = get_affine_transform(np.array([50.0, 50.0]), np.array([1.0, 1.0]), rot, [200, 200])
    np.testing.assert_allclose(affine_transform([50.0, 0.0], t), expected, atol=1e-4)


@pytest.mark.parametrize("rot", [0.0, 17.0, -45.0])
def test_affine_round_trip(rot):
    rng = np.random.default_rng(1)
    pts = rng.uniform(-50, 400, (20, 2))
    center, scale = np.array([210.0, 160.0]), np.array([1.3, 1.7])
    fwd = get_affine_transform(center, scale, rot, [192, 256])
    back = get_affine_transform(center, scale, rot, [192, 256], inv=1)
    np.testing.assert_allclose(affine_transform(affine_transform(pts, fwd), back), pts, atol=1e-6)


def test_shift_moves_the_source_centre():
    center, scale = np.array([100.0, 100.0]), np.array([1.0, 1.0])
    t = get_affine_transform(center, scale, 0, [200, 200], shift=(0.1, 0.0))
    np.testing.assert_allclose(affine_transform([120.0, 100.0], t), [100, 100], atol=1e-4)


def test_transform_preds_equals_inverse_affine_batched():
    rng = np.random.default_rng(2)
    centers = rng.uniform(0, 600, (6, 2))
    scales = rng.uniform(0.3, 3, (6, 2))
    coords = rng.uniform(-3, 60, (6, 17, 2))
    out = transform_preds(coords, centers, scales, [48, 64])
    assert out.shape == (6, 17, 2)
    for i in range(6):
        inv = get_affine_transform(centers[i], scales[i], 0, [48, 64], inv=1)
        # cv2 solves from float32 points: agreement to a ten-thousandth of a pixel
        np.testing.assert_allclose(out[i], affine_transform(coords[i], inv), atol=1e-4)
    single = transform_preds(coords[0], centers[0], scales[0], [48, 64])
    np.testing.assert_allclose(single, out[0])


def test_fliplr_joints_mirrors_and_swaps():
    joints = np.zeros((17, 3))
    joints[:, 0] = np.arange(17) * 10.0
    joints[:, 1] = np.arange(17)
    vis = np.ones((17, 3))
    vis[3] = 0
    flipped, fvis = fliplr_joints(joints, vis, 300, flip_pairs)
    # left shoulder (5) takes the mirrored right shoulder (6)
    np.testing.assert_allclose(flipped[5, :2], [300 - 60 - 1, 6])
    np.testing.assert_allclose(flipped[0, :2], [299, 0])
    assert fvis[4].sum() == 0 and flipped[4].sum() == 0   # invisible ear 3 moved to 4
    assert joints[5, 0] == 50.0                           # input untouched
    twice, tvis = fliplr_joints(flipped, fvis, 300, flip_pairs)
    np.testing.assert_allclose(twice, joints * vis)
    np.testing.assert_array_equal(tvis, vis)


def test_flip_back_is_an_involution_and_swaps_pairs():
    rng = np.random.default_rng(3)
    maps = rng.random((2, 17, 8, 6)).astype(np.float32)
    back = flip_back(maps, flip_pairs)
    np.testing.assert_array_equal(back[:, 1], maps[:, 2, :, ::-1])
    np.testing.assert_array_equal(back[:, 0], maps[:, 0, :, ::-1])
    np.testing.assert_array_equal(flip_back(back, flip_pairs), maps)
    with pytest.raises(ValueError, match="N×J×H×W"):
        flip_back(maps[0], flip_pairs)


def test_flip_permutation():
    perm = flip_permutation(17, FLIP_PAIRS)
    assert perm[1] == 2 and perm[2] == 1 and perm[0] == 0
    np.testing.assert_array_equal(perm[perm], np.arange(17))


@pytest.mark.parametrize("box,center,scale", [
    ([10, 20, 100, 50], [60, 45], [100 / 200 * 1.25, 100 / 0.75 / 200 * 1.25]),   # too wide: taller
    ([0, 0, 30, 200], [15, 100], [200 * 0.75 / 200 * 1.25, 200 / 200 * 1.25]),   # too tall: wider
    ([5, 5, 75, 100], [42.5, 55], [75 / 200 * 1.25, 100 / 200 * 1.25]),           # already 3:4
])
def test_box_to_center_scale(box, center, scale):
    c, s = box_to_center_scale(box, 192 / 256)
    np.testing.assert_allclose(c, center, rtol=1e-6)
    np.testing.assert_allclose(s, scale, rtol=1e-6)
    # A batch of boxes gives each box's own centre and scale, and the padding is a plain factor.
    batch_c, batch_s = box_to_center_scale(np.array([box, [0, 0, 30, 40]]), 0.75)
    np.testing.assert_allclose(batch_c, [center, [15, 20]], rtol=1e-6)
    np.testing.assert_allclose(batch_s, [scale, [30 / 200 * 1.25, 40 / 200 * 1.25]], rtol=1e-6)
    _, unpadded = box_to_center_scale(box, 192 / 256, padding=1.0)
    np.testing.assert_allclose(unpadded * 1.25, scale, rtol=1e-6)


def test_crop_spans_the_padded_box():
    # A 60×80 box (already 3:4) enlarged 1.25× about its centre (50, 70) spans 75×100 pixels:
    # box_to_center_scale and get_affine_transform agree on what a unit of scale is.
    center, scale = box_to_center_scale([20, 30, 60, 80], 192 / 256)
    t = get_affine_transform(center, scale, 0, [192, 256])
    np.testing.assert_allclose(affine_transform([[12.5, 20.0], [87.5, 120.0]], t), [[0, 0], [192, 256]], atol=1e-4)
