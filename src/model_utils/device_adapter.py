"""Device/rank queries and MindSpore context set-up shared by the entry scripts.

The same environment variables (``DEVICE_ID``, ``RANK_ID``, ``RANK_SIZE``) are set by
the local launchers and by ModelArts, so the functions here serve both; ModelArts'
file synchronisation lives in ``moxing_adapter``.
"""
import logging

import mindspore as ms

from src.model_utils.local_adapter import get_device_id, get_device_num, get_job_id, get_rank_id

__all__ = ["get_device_id", "get_device_num", "get_rank_id", "get_job_id", "init_context", "select_device"]

logger = logging.getLogger(__name__)


def init_context(cfg, device_id: int = 0, distributed: bool = False, mode: int = ms.GRAPH_MODE) -> None:
    """Graph mode on ``cfg.device_target``; with ``distributed``, collective init and data parallelism.

    Ascend takes its device from ``device_id`` (the rank-table launcher sets ``DEVICE_ID``);
    distributed GPU and msrun runs let MindSpore pick the device of each local rank.
    """
    ms.set_context(mode=mode)
    select_device(cfg, device_id, distributed)
    if distributed:
        from mindspore.communication import get_group_size, init
        init()
        ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True,
                                     device_num=get_group_size())


def select_device(cfg, device_id: int = 0, distributed: bool = False) -> None:
    """Sets ``cfg.device_target`` as MindSpore's device, as ``init_context`` does.

    MindSpore accepts the same call twice, so code that needs the device before the
    entry script's ``init_context`` (the profiler of ``moxing_adapter``) calls this first.
    """
    target = cfg.device_target
    if target == "CPU" or (distributed and target == "GPU"):
        ms.set_device(target)
    else:
        ms.set_device(target, device_id)
