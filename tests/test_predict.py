"""Decoding to image space and the flip merge (src/predict.py) against plain loops of the reference algorithm."""
import numpy as np
import pytest

from src.constants import FLIP_PAIRS, PIXEL_STD
from src.model_utils.config import get_config
from src.data.codec import HeatmapCodec
from src.predict import PoseDecoder, get_final_preds, merge_flip
from src.utils.transform import affine_transform, flip_back, get_affine_transform
from bench.reference import loop_get_final_preds
from tests.reference import hard_heatmaps


def _cfg(post_process=True, shift_heatmap=True):
    return get_config(["--TEST.POST_PROCESS", str(post_process), "--TEST.SHIFT_HEATMAP", str(shift_heatmap)])


# --- inputs --------------------------------------------------------------------------------------

def _centers_scales(rng, n):
    center = rng.uniform(50, 600, size=(n, 2)).astype(np.float32)
    scale = rng.uniform(0.3, 3.0, size=(n, 2)).astype(np.float32)
    return center, scale


# --- tests ---------------------------------------------------------------------------------------

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


def test_pose_decoder_layout_and_pipeline():
    rng = np.random.default_rng(5)
    out = rng.standard_normal((4, 17, 64, 48)).astype(np.float32)
    out_flipped = rng.standard_normal((4, 17, 64, 48)).astype(np.float32)
    center, scale = _centers_scales(rng, 4)
    score = rng.random(4)
    cfg = _cfg()
    decoder = PoseDecoder.from_config(cfg)
    assert decoder == PoseDecoder(HeatmapCodec.from_config(cfg), bool(cfg.TEST.SHIFT_HEATMAP))
    preds, boxes = decoder.decode(out, center, scale, score)
    coords, maxvals = get_final_preds(cfg, out, center, scale)
    assert preds.shape == (4, 17, 3) and preds.dtype == np.float32 and boxes.shape == (4, 6)
    np.testing.assert_array_equal(preds[:, :, :2], coords)
    np.testing.assert_array_equal(preds[:, :, 2:], maxvals)
    np.testing.assert_array_equal(boxes[:, 0:2], center)
    np.testing.assert_array_equal(boxes[:, 2:4], scale)
    np.testing.assert_allclose(boxes[:, 4], scale[:, 0] * scale[:, 1] * PIXEL_STD ** 2, rtol=1e-6)
    np.testing.assert_array_equal(boxes[:, 5], score)

    flipped = decoder.decode(out, center, scale, score, output_flipped=out_flipped)
    merged = decoder.decode(merge_flip(out, out_flipped, True), center, scale, score)
    np.testing.assert_array_equal(flipped[0], merged[0])
    np.testing.assert_array_equal(flipped[1], merged[1])
    unshifted = PoseDecoder(decoder.codec, shift_heatmap=False).decode(out, center, scale, score, out_flipped)
    np.testing.assert_array_equal(unshifted[0], decoder.decode(merge_flip(out, out_flipped, False), center, scale,
                                                               score)[0])


def test_get_final_preds_with_default_config():
    cfg = get_config([])
    width, height = cfg.POSE_RESNET.HEATMAP_SIZE
    rng = np.random.default_rng(11)
    hm = rng.standard_normal((2, cfg.MODEL.NUM_JOINTS, height, width)).astype(np.float32)
    center, scale = _centers_scales(rng, 2)
    preds, _ = get_final_preds(cfg, hm, center, scale)
    np.testing.assert_allclose(preds, loop_get_final_preds(cfg, hm, center, scale)[0], rtol=0, atol=5e-4)



@pytest.mark.parametrize("dataset,head_source", [("coco", [2, 1]), ("posetrack", [1, 2])])
def test_the_flip_test_swaps_the_pairs_of_the_data_set_type(dataset, head_source):
    """COCO's slots 1 and 2 are the eyes, swapped by a flip; PoseTrack's are head bottom and head top, which a
    flip leaves in their channels (only mirrored)."""
    decoder = PoseDecoder.from_config(get_config(["--DATASET.DATASET", dataset]))
    h, w = 20, 24
    out = np.zeros((1, 17, h, w), np.float32)
    mirrored = np.zeros_like(out)
    for j in range(17):
        mirrored[0, j, j + 1, w - 3 - j] = 1.0   # channel j's peak in row j + 1 of the mirrored crop's maps
    center, scale = np.array([[100.0, 100.0]]), np.array([[1.0, 1.0]])
    preds, _ = decoder.decode(out, center, scale, np.ones(1), mirrored)
    rows = decoder.codec.decode(np.zeros((1, 17, h, w), np.float32), center, scale)[0]   # (all at row 0)
    heatmap_rows = (preds[0, :, 1] - rows[0, :, 1]) / (scale[0, 0] * PIXEL_STD / w)   # the crop is scale_x wide
    np.testing.assert_allclose(heatmap_rows[[1, 2]], np.array(head_source) + 1, atol=0.26)   # + refinement
    paired = {j for pair in decoder.flip_pairs for j in pair}
    unpaired = [j for j in range(17) if j not in paired]
    np.testing.assert_allclose(heatmap_rows[unpaired], np.array(unpaired) + 1, atol=0.26)
