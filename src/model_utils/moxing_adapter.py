"""ModelArts support: copying data in and out, and the wrapper of the entry scripts.

With ``enable_modelarts True`` an entry script's run is wrapped by ``moxing_wrapper``:
``data_url`` is copied to ``data_path`` and ``checkpoint_url`` to ``load_path`` before
the run, and ``output_path`` to ``train_url`` after it, also when the run fails.

``obs://`` and ``s3://`` locations are copied with Huawei's ``moxing``, which ships with
the ModelArts images and is not on the public package index (a package of that name
there is unrelated). Local folders and ``file://`` URLs are copied with the standard
library, so the wrapper runs, and is tested, anywhere.

One process per server copies (device ids 0, 8, 16, ...); the other processes of the
server wait for its marker file in ``<tmp>/simplepose_sync_<JOB_ID>/``. ModelArts gives
each job its own ``JOB_ID``; off ModelArts it is ``default``, so a marker left by an
earlier run with the same locations lets the waiting processes go on at once (the
data that run copied is then already in place).
"""
import errno
import functools
import hashlib
import importlib
import logging
import os
import re
import shutil
import tempfile
import time
from typing import Any, Callable, Optional
from urllib.parse import unquote, urlparse

from src.errors import MoxingUnavailableError, SyncError, SyncTimeoutError
from src.utils.cli import setup_logging
from src.model_utils.config import check_config
from src.model_utils.local_adapter import get_device_id, get_device_num, get_job_id, get_rank_id
from src.model_utils.profiling import profiling

__all__ = ["get_device_id", "get_device_num", "get_rank_id", "get_job_id", "sync_data", "moxing_wrapper",
           "copy_path", "path_exists", "is_sync_process", "wait_for_marker", "profiling",
           "MoxingUnavailableError", "SyncError", "SyncTimeoutError"]

logger = logging.getLogger(__name__)

#: Locations copied with moxing.
REMOTE_SCHEMES = ("obs://", "s3://")
#: Devices of one ModelArts server; one process per server copies.
DEVICES_PER_SERVER = 8
#: How long a process waits for another one's copy (seconds).
SYNC_TIMEOUT_S = 2 * 3600.0
#: How often a waiting process looks for the marker (seconds).
POLL_INTERVAL_S = 0.2
#: Marker contents of a successful copy.
_OK = "ok"


def is_remote(location: str) -> bool:
    """Whether ``location`` is an ``obs://`` or ``s3://`` URL."""
    return location.lower().startswith(REMOTE_SCHEMES)


def _local(location: str) -> str:
    """A local path for a path or ``file://`` URL."""
    if location.lower().startswith("file://"):
        return unquote(urlparse(location).path)
    return location


def _moxing() -> Any:
    try:
        return importlib.import_module("moxing")
    except ImportError as err:
        raise MoxingUnavailableError(
            "obs:// and s3:// locations are copied with Huawei's moxing, which ships only with ModelArts "
            "images: run this job inside ModelArts, or give a local folder or file:// URL "
            "(do not pip-install 'moxing': the package of that name is unrelated)") from err


def path_exists(location: str) -> bool:
    """Whether a local path, ``file://``, ``obs://`` or ``s3://`` location exists."""
    if is_remote(location):
        return bool(_moxing().file.exists(location))
    return os.path.exists(_local(location))


def copy_path(from_path: str, to_path: str) -> None:
    """Copies a folder's contents into ``to_path`` (merging), or one file to ``to_path``.

    A file goes into ``to_path`` when that is a folder or ends with ``/``.

    Raises:
        MoxingUnavailableError: A remote location where moxing is not installed.
        FileNotFoundError: A local ``from_path`` that does not exist.
    """
    if is_remote(from_path) or is_remote(to_path):
        mox = _moxing()
        src = from_path if is_remote(from_path) else _local(from_path)
        dst = to_path if is_remote(to_path) else _local(to_path)
        is_dir = mox.file.is_directory(src) if is_remote(src) else os.path.isdir(src)
        (mox.file.copy_parallel if is_dir else mox.file.copy)(src, dst)
        return
    src, dst = _local(from_path), _local(to_path)
    if not os.path.exists(src):
        raise FileNotFoundError(errno.ENOENT, "nothing to copy, no such file or folder", src)
    if os.path.exists(dst) and os.path.samefile(src, dst):
        return
    if os.path.isdir(src):
        shutil.copytree(src, dst, dirs_exist_ok=True)
        return
    if os.path.isdir(dst) or dst.endswith(("/", os.sep)):  # into a folder
        dst = os.path.join(dst, os.path.basename(src))
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    shutil.copy2(src, dst)


def is_sync_process() -> bool:
    """Whether this process copies for its server (device id a multiple of the devices per server)."""
    return get_device_id() % max(1, min(get_device_num(), DEVICES_PER_SERVER)) == 0


def _marker_path(from_path: str, to_path: str) -> str:
    job = re.sub(r"[^\w.-]", "_", get_job_id())
    key = hashlib.sha1(f"{from_path}\n{to_path}".encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"simplepose_sync_{job}", f"{key}.done")


def write_marker(path: str, text: str) -> None:
    """Writes a marker file atomically (a waiting process never reads it half written)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def wait_for_marker(path: str, what: str, timeout: float = SYNC_TIMEOUT_S,
                    gave_up: Optional[Callable[[], Optional[str]]] = None) -> str:
    """Waits until the marker file ``path`` exists and returns its text.

    Args:
        path: The marker file another process writes when done.
        what: What is waited for, for messages ("the copy of A to B").
        timeout: Seconds to wait.
        gave_up: Called while waiting; a message it returns means the other process
            stopped without writing the marker, and is raised as ``SyncError``.

    Raises:
        SyncTimeoutError: The marker did not appear within ``timeout`` seconds.
        SyncError: ``gave_up`` reported a failure.
    """
    deadline = time.monotonic() + timeout
    logger.info("waiting for %s (marker %s)", what, path)
    while not os.path.exists(path):
        problem = gave_up() if gave_up else None
        if problem and not os.path.exists(path):
            raise SyncError(problem)
        if time.monotonic() > deadline:
            raise SyncTimeoutError(f"timed out after {timeout:.0f} s waiting for {what}: the marker file {path} "
                                   f"did not appear; check the log of the process doing it")
        time.sleep(POLL_INTERVAL_S)
    with open(path, encoding="utf-8") as f:
        return f.read()


def sync_data(from_path: str, to_path: str, wait: bool = True, timeout: float = SYNC_TIMEOUT_S,
              missing_ok: bool = False, quiet: bool = False) -> None:
    """Copies ``from_path`` to ``to_path`` once per server.

    The copying process (``is_sync_process``) writes a marker when done; with ``wait``
    the other processes of the server wait for it, without they return at once. With
    ``missing_ok`` a missing ``from_path`` is skipped; only the copying process looks,
    so all processes agree even if it appears meanwhile. ``quiet`` logs at debug level.

    Raises:
        SyncError: The copying process failed (its error is quoted), or the wait timed out.
        MoxingUnavailableError, FileNotFoundError: From the copy itself.
    """
    marker = _marker_path(from_path, to_path)
    if not is_sync_process():
        if wait:
            status = wait_for_marker(marker, f"the copy of {from_path} to {to_path}", timeout)
            if status != _OK:
                raise SyncError(f"the process copying {from_path} to {to_path} failed: {status}")
        return
    level = logging.DEBUG if quiet else logging.INFO
    start = time.monotonic()
    try:
        if missing_ok and not path_exists(from_path):
            logger.log(level, "nothing to copy from %s", from_path)
            write_marker(marker, _OK)
            return
        logger.log(level, "copying %s to %s", from_path, to_path)
        copy_path(from_path, to_path)
    except BaseException as err:
        write_marker(marker, f"{type(err).__name__}: {err}")
        raise
    write_marker(marker, _OK)
    logger.log(level, "copied %s to %s in %.1f s", from_path, to_path, time.monotonic() - start)


def _sync_inputs(cfg) -> None:
    if cfg.data_url:
        sync_data(cfg.data_url, cfg.data_path)
    if cfg.checkpoint_url:
        sync_data(cfg.checkpoint_url, cfg.load_path)
    # Outputs of an earlier job in train_url come back, so `--resume auto` can continue it.
    if cfg.train_url:
        sync_data(cfg.train_url, cfg.output_path, missing_ok=True)


def _sync_outputs(cfg, after_failure: bool) -> None:
    # The other processes do not wait: nothing after the run needs the copy. Quiet, so
    # that the run's last line (eval.py's `AP: ...`) stays the last; announced before.
    if not cfg.train_url:
        return
    if not after_failure:
        sync_data(cfg.output_path, cfg.train_url, wait=False, quiet=True)
        return
    try:
        sync_data(cfg.output_path, cfg.train_url, wait=False)
    except Exception:  # keep the run's own error, which is re-raised
        logger.exception("could not copy %s to %s after the failure", cfg.output_path, cfg.train_url)


def moxing_wrapper(pre_process: Optional[Callable[[Any], None]] = None,
                   post_process: Optional[Callable[[Any], None]] = None) -> Callable:
    """Decorates an entry script's ``run(cfg, ...)`` for ModelArts.

    With ``cfg.enable_modelarts``: copy ``data_url``/``checkpoint_url`` (and earlier
    outputs in ``train_url``) in, ``pre_process(cfg)``, the run (profiled with
    ``cfg.enable_profiling``), ``post_process(cfg)``, and copy ``output_path`` to
    ``train_url`` — also when the run fails, before its exception propagates.
    Otherwise only the run (profiled with ``cfg.enable_profiling``).

    Example::

        @moxing_wrapper(pre_process=train_pre_process)
        def run(cfg) -> int:
            ...
    """
    def decorator(run: Callable) -> Callable:
        @functools.wraps(run)
        def wrapped(cfg, *args, **kwargs):
            if not cfg.enable_modelarts:
                with profiling(cfg):
                    return run(cfg, *args, **kwargs)
            setup_logging(get_rank_id())
            _sync_inputs(cfg)
            os.makedirs(cfg.output_path, exist_ok=True)
            if cfg.train_url and is_sync_process():
                logger.info("%s will be copied to %s after the run", cfg.output_path, cfg.train_url)
            try:
                if pre_process:
                    pre_process(cfg)
                    check_config(cfg)   # the paths it set, with every other value, as get_config checked them
                with profiling(cfg):
                    result = run(cfg, *args, **kwargs)
                if post_process:
                    post_process(cfg)
            except BaseException:
                _sync_outputs(cfg, after_failure=True)
                raise
            _sync_outputs(cfg, after_failure=False)
            return result
        return wrapped
    return decorator
