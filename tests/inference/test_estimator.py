"""The inference API (src/inference/estimator.py): heatmaps with the flip test, crops of boxed people decoded as
the evaluation decodes them, rescoring and areas, padded batches."""
import mindspore as ms
import numpy as np
import pytest

from src.constants import PIXEL_STD
from src.dataset import crop_person, normalize_ops
from src.evaluate.coco_eval import rescore
from src.inference.estimator import PoseEstimator, Poses, InferenceSettings, padded_count
from src.model import get_pose_net
from src.model_utils.config import get_config
from src.inference.decoder import PoseDecoder
from src.utils.transform import box_to_center_scale
from tests.helpers import TINY_CONFIG
from tests.inference.quarter_maps import QuarterMaps, quarter_maps


def _estimator(flip_test: bool = True, batch_size: int = 3, pad: bool = False) -> PoseEstimator:
    cfg = get_config(["--MODEL.IMAGE_SIZE", "[32,64]", "--POSE_RESNET.HEATMAP_SIZE", "[8,16]",
                      "--TEST.FLIP_TEST", str(flip_test), "--TEST.BATCH_SIZE", str(batch_size)])
    return PoseEstimator.from_config(cfg, QuarterMaps(), pad_batches=pad)


def test_settings_are_read_once_from_the_configuration():
    cfg = get_config(["--TEST.FLIP_TEST", "False", "--TEST.BATCH_SIZE", "5", "--TEST.IN_VIS_THRE", "0.3"])
    settings = InferenceSettings.from_config(cfg)
    assert settings == InferenceSettings((192, 256), 17, 5, False, 0.3)
    assert settings.aspect_ratio == 0.75


def test_heatmaps_run_the_mirror_image_with_the_flip_test():
    ms.set_context(mode=ms.PYNATIVE_MODE)
    images = np.random.default_rng(0).standard_normal((2, 3, 16, 12)).astype(np.float32)
    output, flipped = _estimator(flip_test=False).heatmaps(images)
    np.testing.assert_array_equal(output, quarter_maps(images))
    assert flipped is None
    _, flipped = _estimator(flip_test=True).heatmaps(images)
    np.testing.assert_array_equal(flipped, quarter_maps(np.ascontiguousarray(images[:, :, :, ::-1])))


class CountedCalls(QuarterMaps):
    """:class:`QuarterMaps` that records the batch size of each call."""

    def __init__(self):
        super().__init__()
        self.batches = []

    def __call__(self, x):
        self.batches.append(x.shape[0])
        return super().__call__(x)


@pytest.mark.parametrize("flip_test", [False, True])
def test_heatmaps_are_one_network_call_with_or_without_the_flip_test(flip_test):
    """The crops and their mirror images go through the network together, in one batch of 2N."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    cfg = get_config(["--MODEL.IMAGE_SIZE", "[32,64]", "--POSE_RESNET.HEATMAP_SIZE", "[8,16]",
                      "--TEST.FLIP_TEST", str(flip_test), "--TEST.BATCH_SIZE", "4"])
    net = CountedCalls()
    estimator = PoseEstimator.from_config(cfg, net, pad_batches=True)
    image, boxes, box_scores = _image_and_boxes(3)
    estimator.estimate(image, boxes, box_scores)   # 3 boxes padded to 4
    assert net.batches == ([8] if flip_test else [4])


def test_one_call_for_both_flip_halves_gives_the_two_calls_heatmaps(mode, random_weights):
    """A real network (the tiny one, random weights) in both modes: the 2N batch's heatmaps are those of the N crops
    and of their mirror images run apart, to float32 rounding (the batch shape may change the kernels' sums)."""
    cfg = get_config(["--config_path", TINY_CONFIG, "--TEST.FLIP_TEST", "True"])
    net = get_pose_net(cfg, is_train=False, ckpt_path=random_weights.checkpoint())
    net.set_train(False)
    crops = np.random.default_rng(1).standard_normal((3, 3, 64, 32)).astype(np.float32)
    output, flipped = PoseEstimator.from_config(cfg, net).heatmaps(crops)
    apart = net(ms.Tensor(crops)).asnumpy()
    mirrored = net(ms.Tensor(np.ascontiguousarray(crops[:, :, :, ::-1]))).asnumpy()
    scale = np.abs(apart).max()
    np.testing.assert_allclose(output, apart, rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(flipped, mirrored, rtol=0, atol=1e-5 * scale)


def _image_and_boxes(count: int):
    rng = np.random.default_rng(2)
    image = rng.integers(0, 255, (120, 100, 3), dtype=np.uint8)
    boxes = np.column_stack([rng.uniform(0, 40, count), rng.uniform(0, 40, count),
                             rng.uniform(20, 60, count), rng.uniform(30, 80, count)])
    return image, boxes, rng.uniform(0.5, 1.0, count)


@pytest.mark.parametrize("flip_test", [False, True])
def test_boxes_give_the_evaluations_crops_decoding_and_scores(flip_test):
    """Five boxes in batches of 3: the crops the dataset would make, decoded together, rescored as the evaluation."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    estimator = _estimator(flip_test)
    image, boxes, box_scores = _image_and_boxes(5)
    people = estimator.estimate(image, boxes, box_scores)
    assert isinstance(people, Poses) and people.poses.shape == (5, 17, 3)

    center, scale = box_to_center_scale(boxes, 32 / 64)
    crops = []
    for c, s in zip(center, scale):
        crop, _ = crop_person(image, c.astype(np.float64), s.astype(np.float64), (32, 64))
        for op in normalize_ops():
            crop = op(crop)
        crops.append(crop)
    crops = np.stack(crops).astype(np.float32)
    flipped = quarter_maps(np.ascontiguousarray(crops[:, :, :, ::-1])) if flip_test else None
    preds, _ = PoseDecoder(estimator.decoder.codec).decode(quarter_maps(crops), center, scale, box_scores, flipped)
    np.testing.assert_allclose(people.poses, preds, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(people.scores, rescore(preds[:, :, 2], box_scores, 0.2), rtol=1e-6)
    np.testing.assert_allclose(people.areas, np.prod(scale.astype(np.float64) * PIXEL_STD, axis=1), rtol=1e-12)


def test_padded_batches_change_nothing_but_the_shapes():
    ms.set_context(mode=ms.PYNATIVE_MODE)
    image, boxes, box_scores = _image_and_boxes(3)
    plain = _estimator(batch_size=8).estimate(image, boxes, box_scores)
    padded = _estimator(batch_size=8, pad=True).estimate(image, boxes, box_scores)   # 3 boxes run as 4
    # Bit for bit: QuarterMaps copies values, which no batch shape rounds (a network's sums would round differently)
    for a, b in zip(plain, padded):
        np.testing.assert_array_equal(a, b)
    empty = _estimator().estimate(image, np.zeros((0, 4)), np.zeros(0))
    assert empty.poses.shape == (0, 17, 3) and empty.scores.shape == (0,) and empty.areas.shape == (0,)


def test_padded_count_bounds_the_batch_shapes():
    assert [padded_count(n, 8) for n in range(1, 10)] == [1, 2, 4, 4, 8, 8, 8, 8, 16]
    assert padded_count(3, 3) == 3 and padded_count(7, 3) == 9
