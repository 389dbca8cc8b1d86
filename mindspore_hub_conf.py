"""MindSpore Hub entry: ``create_network("simple_pose", ...)`` builds SimplePoseNet for inference.

    from mindspore_hub_conf import create_network
    net = create_network("simple_pose")                      # ResNet-50, 256×192, default_config.yaml
    net = create_network("simple_pose", num_layers=18, image_size=[96, 128])
    net = create_network("simple_pose", cfg=my_config, ckpt_path="simplepose-140_1170.ckpt")

Keyword arguments: ``cfg`` (a configuration from ``src.model_utils.config.get_config``; default:
the defaults), ``ckpt_path`` (weights to load), ``fast_cpu`` (see ``src.model.get_pose_net``), and
configuration overrides, by the short names of :data:`SHORT_NAMES` or by their full keys
(``**{"POSE_RESNET.NUM_LAYERS": 101}``). An ``image_size`` without a ``heatmap_size`` gets the
heatmap size the network produces. The network is built for inference (no ImageNet backbone load).
"""
from typing import Any

from src.model import PoseResNet, get_pose_net
from src.model_utils.config_rules import heatmap_size_for
from src.model_utils.config import get_config

NETWORK_NAME = "simple_pose"
#: Keyword argument → configuration key.
SHORT_NAMES = {
    "num_layers": "POSE_RESNET.NUM_LAYERS",
    "num_joints": "MODEL.NUM_JOINTS",
    "image_size": "MODEL.IMAGE_SIZE",
    "heatmap_size": "POSE_RESNET.HEATMAP_SIZE",
    "num_deconv_filters": "POSE_RESNET.NUM_DECONV_FILTERS",
    "final_conv_kernel": "POSE_RESNET.FINAL_CONV_KERNEL",
    "device_target": "device_target",
}


def create_network(name: str, *args: Any, **kwargs: Any) -> PoseResNet:
    """The network called ``name`` (only ``"simple_pose"``), built from the configuration.

    Raises:
        NotImplementedError: another name.
        ConfigError: an unknown keyword (naming it).
    """
    del args  # the hub may pass positional arguments; the configuration says everything
    if name != NETWORK_NAME:
        raise NotImplementedError(f"network '{name}' is not provided here; this repository provides "
                                  f"'{NETWORK_NAME}'")
    cfg = kwargs.pop("cfg", None) or get_config([])
    ckpt_path = kwargs.pop("ckpt_path", None)
    fast_cpu = kwargs.pop("fast_cpu", None)
    if "image_size" in kwargs and "heatmap_size" not in kwargs:
        kwargs["heatmap_size"] = heatmap_size_for(kwargs["image_size"], int(cfg.POSE_RESNET.NUM_DECONV_LAYERS))
    for key, value in kwargs.items():
        cfg.set(SHORT_NAMES.get(key, key), value)
    return get_pose_net(cfg, is_train=False, ckpt_path=ckpt_path, fast_cpu=fast_cpu)
