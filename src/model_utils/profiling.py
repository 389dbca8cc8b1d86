"""MindSpore's profiler around a run, when ``enable_profiling`` is set (any device, with or without ModelArts)."""
import contextlib
import logging
import os
from typing import Iterator

from src.model_utils.local_adapter import get_device_id, get_rank_id

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def profiling(cfg) -> Iterator[None]:
    """Runs the body under MindSpore's profiler when ``cfg.enable_profiling``.

    The data goes to ``<output_path>/profiler/rank_<RANK_ID>_*``. The profiler reads the
    device when it starts, so the device is selected first, as ``init_context`` will.
    """
    if not cfg.enable_profiling:
        yield
        return
    from src.model_utils.device_adapter import select_device

    select_device(cfg, get_device_id(), bool(cfg.get("run_distribute", False)))
    out_dir = os.path.join(cfg.output_path, "profiler")
    prof = _profiler(cfg.device_target, out_dir, f"rank_{get_rank_id()}")
    logger.info("profiling into %s", out_dir)
    prof.start()
    try:
        yield
    finally:
        try:
            prof.stop()  # parses the data and writes it under out_dir
        except Exception:  # the run's own result or error matters more than its profile
            logger.exception("the profiler failed to stop; its data in %s may be incomplete", out_dir)


def _profiler(device_target: str, out_dir: str, worker_name: str):
    """A profiler with ``start()`` and ``stop()`` (which writes the data to ``out_dir``).

    MindSpore 2.5 and later: ``mindspore.profiler.profile``; earlier 2.x versions (the last
    ones with official GPU packages among them) have only ``mindspore.Profiler``, whose data is
    written by ``analyse()`` after ``stop()``.
    """
    try:
        from mindspore.profiler import ProfilerActivity, profile, tensorboard_trace_handler
    except ImportError:
        import mindspore as ms

        class _Legacy:
            def __init__(self):
                self.prof = ms.Profiler(output_path=os.path.join(out_dir, worker_name), start_profile=False)

            def start(self):
                self.prof.start()

            def stop(self):
                self.prof.stop()
                self.prof.analyse()

        return _Legacy()
    device_activity = {"Ascend": [ProfilerActivity.NPU], "GPU": [ProfilerActivity.GPU]}
    return profile(activities=[ProfilerActivity.CPU] + device_activity.get(device_target, []),
                   on_trace_ready=tensorboard_trace_handler(dir_name=out_dir, worker_name=worker_name),
                   start_profile=False)
