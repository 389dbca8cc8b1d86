"""The evaluation loop (src/inference/runner.py): the estimator over every batch, in order, decoded."""
import mindspore as ms
import mindspore.dataset as ds
import numpy as np
import pytest

from src.errors import EvaluationError
from src.inference.estimator import PoseEstimator
from src.inference.runner import run_inference
from src.model_utils.config import get_config
from src.inference.decoder import PoseDecoder
from tests.inference.quarter_maps import QuarterMaps, quarter_maps


@pytest.mark.parametrize("flip_test", [False, True])
def test_every_batch_is_decoded_in_order(flip_test):
    """Seven boxes in batches of 3: the predictions are those of the whole set decoded at once."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    cfg = get_config(["--TEST.FLIP_TEST", str(flip_test)])
    rng = np.random.default_rng(1)
    columns = {"image": rng.random((7, 3, 32, 24)).astype(np.float32),
               "center": rng.uniform(50, 200, (7, 2)).astype(np.float32),
               "scale": rng.uniform(0.5, 2.0, (7, 2)).astype(np.float32),
               "score": rng.random(7).astype(np.float32), "id": np.arange(100, 107, dtype=np.int32)}
    dataset = ds.NumpySlicesDataset(columns, shuffle=False).batch(3)
    found = run_inference(PoseEstimator.from_config(cfg, QuarterMaps()), dataset, 7)
    images = columns["image"]
    flipped = quarter_maps(np.ascontiguousarray(images[:, :, :, ::-1])) if flip_test else None
    preds, boxes = PoseDecoder.from_config(cfg).decode(quarter_maps(images), columns["center"], columns["scale"],
                                                       columns["score"], flipped)
    np.testing.assert_allclose(found.preds, preds, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(found.boxes, boxes, rtol=1e-6)
    np.testing.assert_array_equal(found.image_ids, columns["id"])


def test_an_empty_set_is_a_clear_error():
    class NoBatches:
        def create_dict_iterator(self, **kwargs):
            return iter(())

    with pytest.raises(EvaluationError, match="no person boxes"):
        run_inference(PoseEstimator.from_config(get_config([]), QuarterMaps()), NoBatches(), 0)
