"""Loading a network for inference (src/inference/loading.py): the checkpoint's weights, inference mode, the CPU path."""
import mindspore as ms
import numpy as np
import pytest

from src.errors import CheckpointMismatchError
from src.inference.loading import load_network
from src.model_utils.config import get_config
from tests.helpers import TINY_CONFIG


def test_the_checkpoints_weights_in_inference_mode(tiny_ckpt):
    cfg = get_config(["--config_path", TINY_CONFIG])
    net = load_network(cfg, tiny_ckpt)
    saved = ms.load_checkpoint(tiny_ckpt)
    for param in net.get_parameters():
        np.testing.assert_array_equal(param.asnumpy(), saved[param.name].asnumpy())
    assert not net.training and net.conv1.formulation is not None  # the CPU path, as MODEL.FAST_CPU says
    assert load_network(cfg, tiny_ckpt, fast_cpu=False).conv1.formulation is None  # export's stock operators


def test_a_checkpoint_of_another_network_is_refused(tiny_ckpt):
    cfg = get_config(["--config_path", TINY_CONFIG, "--POSE_RESNET.NUM_LAYERS", "34"])
    with pytest.raises(CheckpointMismatchError, match="set POSE_RESNET.NUM_LAYERS 18"):
        load_network(cfg, tiny_ckpt)
