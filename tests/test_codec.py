"""The heatmap codec (src/codec.py): encoding and decoding with one parameter set."""
import numpy as np
import pytest

from src.codec import HeatmapCodec
from src.constants import PIXEL_STD
from src.model_utils.config import get_config


def whole_input_crop(image_size):
    """Centre and scale (N×2 each) of a crop whose decoded coordinates are heatmap coordinates times the
    stride (the inverse affine maps the crop centre to the middle of the heatmap)."""
    width, height = image_size
    return np.array([[width / 2.0, height / 2.0]]), np.array([[width / PIXEL_STD, height / PIXEL_STD]])


@pytest.mark.parametrize("image_size,heatmap_size,sigma", [((192, 256), (48, 64), 2.0), ((128, 160), (32, 40), 1.5)])
def test_encode_then_decode_finds_the_joints(image_size, heatmap_size, sigma):
    codec = HeatmapCodec(image_size, heatmap_size, sigma, refine=True)
    rng = np.random.default_rng(0)
    stride = image_size[0] / heatmap_size[0]
    joints = np.zeros((17, 3))
    # 6 heatmap pixels from the border: the reference truncates the Gaussian's corner toward zero,
    # which moves the peak of a non-integer 3σ near the left and top borders (kept, as the reference's).
    joints[:, 0] = rng.uniform(6 * stride, image_size[0] - 6 * stride, 17)
    joints[:, 1] = rng.uniform(6 * stride, image_size[1] - 6 * stride, 17)
    target, weight = codec.encode(joints, np.ones((17, 3)))
    assert target.shape == (17, heatmap_size[1], heatmap_size[0]) and np.all(weight == 1)
    center, scale = whole_input_crop(image_size)
    preds, maxvals = codec.decode(target[None], center, scale)
    assert np.all(maxvals == 1.0)
    # The target's peak sits at round(joint / stride); decoding lands on it, a quarter pixel toward
    # the joint's side: within half a heatmap pixel plus the quarter step of the joint, in input pixels.
    heatmap_grid = np.asarray(image_size) / np.asarray(heatmap_size)
    error = np.abs(preds[0] - joints[:, :2]) / heatmap_grid
    assert error.max() <= 0.75 + 1e-6, error.max()


def test_codec_from_config_is_the_pipeline_and_decoder_parameter_set():
    cfg = get_config(["--MODEL.IMAGE_SIZE", "[128,160]", "--POSE_RESNET.HEATMAP_SIZE", "[32,40]",
                      "--POSE_RESNET.SIGMA", "1.5", "--TEST.POST_PROCESS", "False"])
    assert HeatmapCodec.from_config(cfg) == HeatmapCodec((128, 160), (32, 40), 1.5, refine=False)


def test_refinement_moves_toward_the_higher_neighbour_only_when_asked():
    heatmaps = np.zeros((1, 1, 16, 16), np.float32)
    heatmaps[0, 0, 8, 8] = 1.0
    heatmaps[0, 0, 8, 9] = 0.5   # the right neighbour is higher than the left one
    center, scale = whole_input_crop((16, 16))
    plain, _ = HeatmapCodec((16, 16), (16, 16), 2.0, refine=False).decode(heatmaps, center, scale)
    refined, _ = HeatmapCodec((16, 16), (16, 16), 2.0, refine=True).decode(heatmaps, center, scale)
    np.testing.assert_allclose(plain[0, 0], [8.0, 8.0], atol=1e-5)
    np.testing.assert_allclose(refined[0, 0], [8.25, 8.0], atol=1e-5)
