"""mindspore_hub_conf.py: the model zoo's hub entry (the original's layout, overrides, a configuration and a
checkpoint)."""
import os

import mindspore as ms
import numpy as np
import pytest

from mindspore_hub_conf import create_network
from src.errors import ConfigError
from src.model_utils.config import get_config
from tests.helpers import ROOT, TINY_CONFIG


REFERENCE_PARAMS = os.path.join(ROOT, "tests", "data", "simple_pose_r50_params.txt")


def test_default_network_is_resnet50_with_the_original_layout():
    net = create_network("simple_pose")
    assert net.num_layers == 50
    with open(REFERENCE_PARAMS, encoding="utf-8") as f:
        expected = [line.split()[0] for line in f if line.strip()]
    assert [p.name for p in net.get_parameters()] == expected


def test_overrides_and_output_shape():
    ms.set_context(mode=ms.PYNATIVE_MODE)
    net = create_network("simple_pose", num_layers=18, image_size=[32, 64], num_deconv_filters=[16, 16, 16],
                         num_joints=5, fast_cpu=False)
    net.set_train(False)
    assert net(ms.Tensor(np.zeros((1, 3, 64, 32), np.float32))).shape == (1, 5, 16, 8)


def test_config_and_checkpoint(tiny_ckpt):
    """The network of a configuration, with a checkpoint's weights: all of them, not a fresh initialisation."""
    loaded = create_network("simple_pose", cfg=get_config(["--config_path", TINY_CONFIG]), ckpt_path=tiny_ckpt)
    saved = ms.load_checkpoint(tiny_ckpt)
    params = list(loaded.get_parameters())
    assert len(params) == len(saved)
    for param in params:
        np.testing.assert_array_equal(param.asnumpy(), saved[param.name].asnumpy(), err_msg=param.name)
    fresh = create_network("simple_pose", cfg=get_config(["--config_path", TINY_CONFIG]))
    assert not np.array_equal(fresh.final_layer.weight.asnumpy(), saved["final_layer.weight"].asnumpy())


def test_errors():
    with pytest.raises(NotImplementedError, match="simple_pose"):
        create_network("resnet50")
    with pytest.raises(ConfigError, match="num_layer"):
        create_network("simple_pose", num_layer=18)
