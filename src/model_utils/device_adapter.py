"""Device/rank queries and MindSpore context set-up shared by the entry scripts.

The same environment variables (``DEVICE_ID``, ``RANK_ID``, ``RANK_SIZE``) are set by
the local launchers and by ModelArts, so the functions here serve both; ModelArts'
file synchronisation lives in ``moxing_adapter``.

A device that this MindSpore cannot use is refused in one line (:class:`DeviceUnavailableError`)
before MindSpore is asked for it. How MindSpore 2.10 decides (``mindspore/lib/plugin/`` and the
log of ``import mindspore`` with ``GLOG_v=1``): the package ships one plugin per device,
``libmindspore_ascend.so.*`` and ``libmindspore_gpu.so.<CUDA major.minor>``, and tries to load
them when it is imported. The Ascend plugin loads when the CANN libraries can be found; a GPU
plugin is chosen by the CUDA version that ``$CUDA_HOME/bin/nvcc --version`` reports (no
``CUDA_HOME``, no GPU) and loads when that CUDA's and cuDNN's libraries can be found. What
loaded is ``MSContext.is_pkg_support_device``; why a plugin did not, ``MSContext.load_plugin_error``.
"""
import glob
import logging
import os
import re
import subprocess
from typing import Dict, List, Optional, Sequence, Tuple

import mindspore as ms

from src.errors import DeviceUnavailableError
from src.model_utils.local_adapter import get_device_id, get_device_num, get_job_id, get_rank_id

__all__ = ["get_device_id", "get_device_num", "get_rank_id", "get_job_id", "init_context", "select_device",
           "set_device", "DeviceUnavailableError"]

logger = logging.getLogger(__name__)

DEVICES = ("Ascend", "GPU", "CPU")


def init_context(cfg, device_id: int = 0, distributed: bool = False, mode: int = ms.GRAPH_MODE) -> Tuple[int, int]:
    """Graph mode on ``cfg.device_target``; with ``distributed``, collective init and data parallelism.

    Ascend takes its device from ``device_id`` (the rank-table launcher sets ``DEVICE_ID``);
    distributed GPU and msrun runs let MindSpore pick the device of each local rank.

    Returns:
        ``(rank, group size)``: this process's rank and the number of ranks (``(0, 1)`` unless distributed).
    """
    ms.set_context(mode=mode)
    select_device(cfg, device_id, distributed)
    if not distributed:
        return 0, 1
    from mindspore.communication import get_group_size, get_rank, init
    init()
    ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True,
                                 device_num=get_group_size())
    return get_rank(), get_group_size()


def select_device(cfg, device_id: int = 0, distributed: bool = False) -> None:
    """Sets ``cfg.device_target`` as MindSpore's device, as ``init_context`` does.

    MindSpore accepts the same call twice, so code that needs the device before the
    entry script's ``init_context`` (the profiler of ``moxing_adapter``) calls this first.
    """
    target = cfg.device_target
    set_device(target, None if target == "CPU" or (distributed and target == "GPU") else device_id)


def set_device(target: str, device_id: Optional[int] = None) -> None:
    """Makes ``target`` MindSpore's device (``device_id``: None lets MindSpore choose).

    MindSpore 2.5 and later have ``mindspore.set_device``; earlier 2.x versions (the last ones
    with official GPU packages among them) set the device through ``set_context``.

    Raises:
        DeviceUnavailableError: this MindSpore cannot use ``target`` here (one line saying which
            devices it offers and what is missing).
    """
    check_device(target)
    try:
        ids = {} if device_id is None else {"device_id": device_id}
        if hasattr(ms, "set_device"):
            ms.set_device(target, **ids)
        else:
            ms.set_context(device_target=target, **ids)
    except RuntimeError as err:
        if "Unsupported device target" not in str(err):
            raise
        raise DeviceUnavailableError(unavailable_message(target, _plugin_report())) from None


# ---- which devices this MindSpore offers, and why one does not load ----------------------------------

def check_device(target: str) -> None:
    """Raises DeviceUnavailableError when ``target``'s plugin did not load (CPU always does).

    MindSpore versions without ``is_pkg_support_device`` are left to ``set_device``'s own error.
    """
    if target == "CPU":
        return
    context = _ms_context()
    if context is None or not hasattr(context, "is_pkg_support_device"):
        return
    if not context.is_pkg_support_device(target):
        raise DeviceUnavailableError(unavailable_message(target, _plugin_report()))


def _ms_context():
    try:
        from mindspore._c_expression import MSContext  # pylint: disable=import-outside-toplevel
    except ImportError:
        return None
    return MSContext.get_instance()


def offered_devices(plugin_dir: Optional[str] = None) -> Dict[str, List[str]]:
    """The devices this MindSpore package has plugins for: name -> CUDA versions (GPU) or [].

    Read from the file names in ``mindspore/lib/plugin/``; CPU is always there.
    """
    plugin_dir = plugin_dir or os.path.join(os.path.dirname(ms.__file__), "lib", "plugin")
    offered: Dict[str, List[str]] = {}
    if glob.glob(os.path.join(plugin_dir, "libmindspore_ascend.so*")):
        offered["Ascend"] = []
    cuda = sorted({os.path.basename(p).split(".so.", 1)[1]
                   for p in glob.glob(os.path.join(plugin_dir, "libmindspore_gpu.so.*"))},
                  key=lambda v: [int(x) for x in re.findall(r"\d+", v)])
    if cuda:
        offered["GPU"] = cuda
    offered["CPU"] = []
    return offered


def _plugin_report() -> dict:
    """What :func:`unavailable_message` needs to know about this machine."""
    context = _ms_context()
    loaded = [d for d in DEVICES if context is not None and hasattr(context, "is_pkg_support_device")
              and context.is_pkg_support_device(d)]
    errors = context.load_plugin_error() if context is not None and hasattr(context, "load_plugin_error") else ""
    cuda_home = os.environ.get("CUDA_HOME", "")
    return {"version": ms.__version__, "offered": offered_devices(), "loaded": loaded or ["CPU"],
            "plugin_errors": [line for line in errors.splitlines() if line.strip()],
            "cuda_home": cuda_home, "nvcc_version": _nvcc_version(cuda_home)}


def _nvcc_version(cuda_home: str) -> str:
    """The CUDA release ``$CUDA_HOME/bin/nvcc --version`` reports (``"11.6"``), or ``""``."""
    nvcc = os.path.join(cuda_home, "bin", "nvcc")
    if not cuda_home or not os.access(nvcc, os.X_OK):
        return ""
    try:
        out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    found = re.search(r"release (\d+\.\d+)", out)
    return found.group(1) if found else ""


def _list(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _plugin_failure(errors: Sequence[str], library: str) -> str:
    """The reason MindSpore gave for not loading ``library`` (``libmindspore_gpu``), or ``""``."""
    for line in errors:
        if library in line:
            return line.split(" failed. ", 1)[-1].strip()
    return ""


def unavailable_message(target: str, report: dict) -> str:
    """One line: ``target`` is not available, what this MindSpore offers, what is missing, what to do.

    ``report`` holds ``version``, ``offered`` (:func:`offered_devices`), ``loaded`` (device names),
    ``plugin_errors`` (lines of ``load_plugin_error``), ``cuda_home`` and ``nvcc_version``.
    """
    offered = report["offered"]
    cuda = offered.get("GPU", [])
    names = [f"GPU (CUDA {' or '.join(cuda)})" if d == "GPU" else d for d in offered]
    loaded = report["loaded"]
    head = (f"device_target {target} is not available here: this MindSpore {report['version']} offers "
            f"{_list(names)}, and on this machine only {_list(loaded)} {'loads' if len(loaded) == 1 else 'load'}")
    alternative = f"or run with --device_target {_list(loaded).replace(' and ', ' or ')}"
    if target not in offered:
        return (f"{head}; this package has no {target} plugin: install a MindSpore package built for {target} "
                f"(see the README's Environment section), {alternative}")
    if target == "Ascend":
        failure = _plugin_failure(report["plugin_errors"], "libmindspore_ascend")
        why = f"its Ascend plugin did not load ({failure})" if failure else "its Ascend plugin did not load"
        return (f"{head}; {why}: install the Ascend driver and the CANN toolkit that match this MindSpore and "
                f"`source <CANN>/set_env.sh`, {alternative}")
    cuda_text = " or ".join(cuda)
    home, nvcc = report["cuda_home"], report["nvcc_version"]
    failure = _plugin_failure(report["plugin_errors"], "libmindspore_gpu")
    if not home:
        why = ("CUDA_HOME is not set (MindSpore chooses its GPU plugin by the CUDA version of "
               "$CUDA_HOME/bin/nvcc)")
    elif failure:
        why = f"its GPU plugin for CUDA {nvcc or '?'} did not load ({failure})"
    elif not nvcc:
        why = f"CUDA_HOME is {home}, which has no working bin/nvcc"
    else:
        why = f"CUDA_HOME is {home} with CUDA {nvcc}, for which this package has no GPU plugin"
    return (f"{head}; {why}: install CUDA {cuda_text} with its cuDNN, set CUDA_HOME to it and put its lib64 on "
            f"LD_LIBRARY_PATH, {alternative}")
