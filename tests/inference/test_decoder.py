"""The decoder of every script (src/inference/decoder.py): evaluation rows from network outputs, with the flip merge."""
import numpy as np
import pytest

from src.constants import PIXEL_STD
from src.data.codec import HeatmapCodec
from src.inference.decoder import PoseDecoder
from src.model_utils.config import get_config
from src.predict import get_final_preds, merge_flip


def _centers_scales(rng, n):
    center = rng.uniform(50, 600, size=(n, 2)).astype(np.float32)
    scale = rng.uniform(0.3, 3.0, size=(n, 2)).astype(np.float32)
    return center, scale


def test_pose_decoder_layout_and_pipeline():
    rng = np.random.default_rng(5)
    out = rng.standard_normal((4, 17, 64, 48)).astype(np.float32)
    out_flipped = rng.standard_normal((4, 17, 64, 48)).astype(np.float32)
    center, scale = _centers_scales(rng, 4)
    score = rng.random(4)
    cfg = get_config([])
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
