"""A trained network, ready for inference: the one sequence every script that loads one follows."""
import logging
from typing import Any, Optional

from mindspore import nn

from src.model import get_pose_net
from src.model_utils.device_adapter import get_device_id, init_context

logger = logging.getLogger(__name__)


def load_network(cfg: Any, model_file: Optional[str], fast_cpu: Optional[bool] = None,
                 precision: bool = True) -> nn.Cell:
    """The device context set, the network built with the weights of ``model_file`` and put in inference mode, at
    the precision ``MODEL.PRECISION`` says (:mod:`src.quantize.precision`; with ``precision`` False, float32).

    Scripts check the checkpoint first, with :func:`src.network.weights.require_model_file`, so that a
    missing one is said before anything else is read.

    Args:
        cfg: The configuration (network keys, ``device_target``).
        model_file: The checkpoint; None keeps the initial weights (the benches' timings).
        fast_cpu: Force (True) or forbid (False) the CPU formulations; None: ``MODEL.FAST_CPU`` decides.

    Raises:
        CheckpointMismatchError: the checkpoint does not fit the configured network.
    """
    init_context(cfg, device_id=get_device_id())
    if model_file:
        logger.info("loading model ckpt from %s", model_file)
    net = get_pose_net(cfg, is_train=False, ckpt_path=model_file, fast_cpu=fast_cpu)
    net.set_train(False)
    if not precision:
        return net
    from src.quantize.precision import inference_network  # pylint: disable=import-outside-toplevel
    return inference_network(cfg, net, model_file)
