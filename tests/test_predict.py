"""Decoding (maxima, refinement, back to image space) and the flip merge (src/predict.py) against plain loops of
the reference algorithm."""
import numpy as np
import pytest

from bench.reference import loop_get_final_preds, loop_get_max_preds, loop_refine
from src.constants import FLIP_PAIRS, PIXEL_STD
from src.model_utils.config import get_config
from src.predict import get_final_preds, get_max_preds, merge_flip, refine_preds
from src.utils.transform import affine_transform, flip_back, get_affine_transform
from tests.reference import hard_heatmaps


def _cfg(post_process=True, shift_heatmap=True):
    return get_config(["--TEST.POST_PROCESS", str(post_process), "--TEST.SHIFT_HEATMAP", str(shift_heatmap)])


# --- inputs --------------------------------------------------------------------------------------

def _centers_scales(rng, n):
    center = rng.uniform(50, 600, size=(n, 2)).astype(np.float32)
    scale = rng.uniform(0.3, 3.0, size=(n, 2)).astype(np.float32)
    return center, scale


# --- tests ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_get_max_preds_matches_loop(seed):
    hm = hard_heatmaps(np.random.default_rng(seed))
    preds, maxvals = get_max_preds(hm)
    ref_preds, ref_maxvals = loop_get_max_preds(hm)
    assert preds.dtype == np.float32 and preds.shape == (6, 17, 2) and maxvals.shape == (6, 17, 1)
    np.testing.assert_array_equal(preds, ref_preds)
    np.testing.assert_array_equal(maxvals, ref_maxvals)
    assert not preds[:3].any()  # negative and zero maxima give (0, 0)


def test_get_max_preds_hand_case():
    hm = np.zeros((1, 2, 3, 4), dtype=np.float32)
    hm[0, 0, 2, 1] = 0.7
    hm[0, 1, 1, 3] = hm[0, 1, 2, 0] = 0.5  # tie: the first in row-major order wins
    preds, maxvals = get_max_preds(hm)
    np.testing.assert_array_equal(preds[0], [[1, 2], [3, 1]])
    np.testing.assert_allclose(maxvals[0, :, 0], [0.7, 0.5])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_refine_matches_loop(seed):
    hm = hard_heatmaps(np.random.default_rng(seed))
    coords, _ = get_max_preds(hm)
    refined = refine_preds(coords, hm)
    np.testing.assert_array_equal(refined, loop_refine(coords, hm))
    assert refined.dtype == np.float32


def test_refine_border_rule():
    """The lower bound is 1 < p (not 0 < p); the upper W-2 and H-2 are still refined."""
    h, w = 10, 8
    hm = np.zeros((1, 4, h, w), dtype=np.float32)
    for k, (y, x) in enumerate([(5, 1), (5, 2), (5, w - 2), (h - 2, 4)]):
        hm[0, k, y, x] = 1.0
        hm[0, k, y, x + 1] = 0.5  # right neighbour higher than the left
        hm[0, k, y + 1, x] = 0.5  # lower neighbour higher than the upper
    coords, _ = get_max_preds(hm)
    refined = refine_preds(coords, hm)
    np.testing.assert_array_equal(refined[0], [[1, 5], [2.25, 5.25], [w - 1.75, 5.25], [4.25, h - 1.75]])


def test_get_max_preds_rejects_wrong_rank():
    with pytest.raises(ValueError, match="N×J×H×W"):
        get_max_preds(np.zeros((17, 64, 48)))


# ----------------------------------------------------------------------------- one parameter set

@pytest.mark.parametrize("post_process", [True, False])
@pytest.mark.parametrize("shape", [(6, 17, 10, 8), (3, 17, 64, 48)])
def test_get_final_preds_matches_loop(post_process, shape):
    rng = np.random.default_rng(7)
    if shape[2] == 10:
        hm = hard_heatmaps(rng)
    else:
        hm = rng.standard_normal(shape).astype(np.float32)
    center, scale = _centers_scales(rng, len(hm))
    cfg = _cfg(post_process=post_process)
    preds, maxvals = get_final_preds(cfg, hm, center, scale)
    ref_preds, ref_maxvals = loop_get_final_preds(cfg, hm, center, scale)
    assert preds.dtype == np.float32 and preds.shape == hm.shape[:2] + (2,)
    np.testing.assert_array_equal(maxvals, ref_maxvals)
    # get_affine_transform rounds its points to float32 (cv2), the batched path does not.
    np.testing.assert_allclose(preds, ref_preds, rtol=0, atol=5e-4)


def test_batched_inverse_transform_equals_affine_inverse():
    """Heatmap → image mapping of every sample equals get_affine_transform(inv=1) on a grid."""
    rng = np.random.default_rng(3)
    w, h = 48, 64
    center, scale = _centers_scales(rng, 32)
    grid = np.stack(np.meshgrid(np.arange(w), np.arange(h)), axis=-1).reshape(-1, 2).astype(np.float32)
    hm = np.zeros((32, 1, h, w), dtype=np.float32)
    picks = rng.integers(0, len(grid), size=32)
    hm[np.arange(32), 0, grid[picks, 1].astype(int), grid[picks, 0].astype(int)] = 1.0
    preds, _ = get_final_preds(_cfg(post_process=False), hm, center, scale)
    for i in range(32):
        trans = get_affine_transform(center[i], scale[i], 0, [w, h], inv=1)
        np.testing.assert_allclose(preds[i, 0], affine_transform(grid[picks[i]], trans), rtol=0, atol=5e-4)
        # The crop centre of heatmap space lands on the person centre; one heatmap pixel is sx*200/W image pixels.
        np.testing.assert_allclose(affine_transform([w / 2, h / 2], trans), center[i], atol=1e-3)
        np.testing.assert_allclose(affine_transform([w / 2 + 1, h / 2], trans)[0] - center[i][0],
                                   scale[i][0] * PIXEL_STD / w, rtol=1e-5)


def _symmetric_stack(rng, n=2, j=17, h=6, w=5):
    """Heatmaps equal to their own flip_back: mirrored in width with left/right channels swapped."""
    a = rng.random((n, j, h, w)).astype(np.float32)
    return (a + flip_back(a, FLIP_PAIRS)) * np.float32(0.5)


def test_merge_flip_symmetric_input_gives_itself():
    stack = _symmetric_stack(np.random.default_rng(0))
    np.testing.assert_array_equal(flip_back(stack, FLIP_PAIRS), stack)
    np.testing.assert_allclose(merge_flip(stack, stack, shift_heatmap=False), stack, rtol=1e-6)


def test_merge_flip_of_flipped_output_without_shift():
    out = np.random.default_rng(1).random((2, 17, 6, 5)).astype(np.float32)
    before = out.copy()
    np.testing.assert_array_equal(merge_flip(out, flip_back(out, FLIP_PAIRS), shift_heatmap=False), out)
    np.testing.assert_array_equal(out, before)  # inputs untouched


def test_merge_flip_shift_moves_one_pixel_right():
    h, w = 4, 6
    out = np.zeros((1, 17, h, w), dtype=np.float32)
    flipped = np.zeros_like(out)
    # Joint 1 (left eye) seen at x=4 in the mirrored image: flip_back puts it at joint 2, x = w-1-4 = 1.
    flipped[0, 1, 2, 4] = 1.0
    flipped_before = flipped.copy()
    merged = merge_flip(out, flipped, shift_heatmap=False)
    assert merged[0, 2, 2, 1] == 0.5 and merged.sum() == 0.5
    shifted = merge_flip(out, flipped, shift_heatmap=True)
    assert shifted[0, 2, 2, 2] == 0.5 and shifted.sum() == 0.5
    np.testing.assert_array_equal(flipped, flipped_before)
    # Column 0 keeps its own value and a peak in the last column leaves the map.
    edge = np.zeros_like(out)
    edge[0, 0, 1, w - 1] = 1.0  # mirrored to x=0 of joint 0 (the nose, unpaired)
    edge[0, 0, 3, 0] = 2.0      # mirrored to x=w-1
    shifted = merge_flip(out, edge, shift_heatmap=True)
    assert shifted[0, 0, 1, 0] == 0.5 and shifted[0, 0, 1, 1] == 0.5 and shifted[0, 0, 3].sum() == 0.0


def test_get_final_preds_with_default_config():
    cfg = get_config([])
    width, height = cfg.POSE_RESNET.HEATMAP_SIZE
    rng = np.random.default_rng(11)
    hm = rng.standard_normal((2, cfg.MODEL.NUM_JOINTS, height, width)).astype(np.float32)
    center, scale = _centers_scales(rng, 2)
    preds, _ = get_final_preds(cfg, hm, center, scale)
    np.testing.assert_allclose(preds, loop_get_final_preds(cfg, hm, center, scale)[0], rtol=0, atol=5e-4)
