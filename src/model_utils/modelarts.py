"""ModelArts pre- and post-processing of the entry scripts.

``moxing_wrapper`` calls these after copying ``data_url`` to ``data_path`` and
``checkpoint_url`` to ``load_path``: a zipped dataset is unzipped once per server,
and the configuration's paths are pointed at the local folders:

- ``DATASET.ROOT``: the folder under ``data_path`` that holds ``annotations/``;
- outputs (``ckpt_save_dir``, ``EXPORT.FILE_NAME``): under ``output_path``, which is
  copied to ``train_url`` after the run;
- relative input files (``MODEL.PRETRAINED``, ``TEST.MODEL_FILE``, ``resume``,
  ``TEST.COCO_BBOX_FILE``): the first that exists of ``<root>/<path>``, then
  ``<root>/<file name>``, over the roots of ``checkpoint_roots``/``bbox_roots``.
"""
import logging
import os
import zipfile
from typing import Callable, List, Optional, Sequence, Tuple

from src.errors import UserError
from src.model_utils.moxing_adapter import SYNC_TIMEOUT_S, copy_path, wait_for_marker, write_marker

__all__ = ["CODE_DIR", "unzip_once", "find_dataset_root", "prepare_dataset", "under_output", "resolve_input",
           "checkpoint_roots", "bbox_roots", "train_pre_process", "eval_pre_process", "eval_post_process",
           "export_pre_process"]

logger = logging.getLogger(__name__)

#: The code directory (of train.py): where the original resolved relative checkpoint paths.
CODE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#: The folder that marks a dataset root.
ANNOTATIONS_DIR = "annotations"
#: Unzip progress is logged at every multiple of this percentage.
PROGRESS_STEP = 10


def _extract(zip_path: str, dest: str) -> None:
    """Extracts every member of ``zip_path`` into ``dest``, logging the progress."""
    name = os.path.basename(zip_path)
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = archive.infolist()
            logger.info("unzipping %s (%d files) into %s", name, len(members), dest)
            next_report = PROGRESS_STEP
            for done, member in enumerate(members, 1):
                archive.extract(member, dest)
                percent = 100 * done // len(members)
                if percent >= next_report:
                    logger.info("unzipping %s: %d%% (%d/%d files)", name, percent, done, len(members))
                    next_report = (percent // PROGRESS_STEP + 1) * PROGRESS_STEP
    except zipfile.BadZipFile as err:
        raise UserError(f"{zip_path} is not a valid zip file ({err}); check modelarts_dataset_unzip_name "
                        f"and the uploaded archive") from err


def unzip_once(zip_path: str, dest: str, timeout: float = SYNC_TIMEOUT_S) -> bool:
    """Unzips ``zip_path`` into ``dest`` once, however many processes call this together.

    The first process to create the lock file ``<dest>/.<name>.unzip.lock`` extracts and
    then writes ``<dest>/.<name>.unzipped``; the others wait for that marker. Once the
    marker exists (also from an earlier run), nobody unzips again.

    Returns:
        Whether this process extracted the archive.

    Raises:
        UserError: The archive is missing or not a zip file.
        SyncError: The extracting process failed, or ``timeout`` seconds passed.
    """
    name = os.path.splitext(os.path.basename(zip_path))[0]
    done = os.path.join(dest, f".{name}.unzipped")
    lock = os.path.join(dest, f".{name}.unzip.lock")
    if os.path.exists(done):
        logger.info("%s was unzipped before (%s)", zip_path, done)
        return False
    os.makedirs(dest, exist_ok=True)
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        def extractor_stopped() -> Optional[str]:
            if os.path.exists(lock):
                return None
            return f"the process unzipping {zip_path} stopped before finishing; see its log"

        wait_for_marker(done, f"another process to unzip {zip_path} (or remove the stale lock {lock})",
                        timeout, gave_up=extractor_stopped)
        return False
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        if not os.path.isfile(zip_path):
            raise UserError(f"modelarts_dataset_unzip_name: {zip_path} not found; the name is given without "
                            f".zip and the archive must be at the top of data_url")
        _extract(zip_path, dest)
        write_marker(done, zip_path)
    finally:
        os.remove(lock)
    logger.info("unzipped %s", zip_path)
    return True


def find_dataset_root(data_path: str, max_depth: int = 3) -> Optional[str]:
    """The shallowest folder under ``data_path`` (itself included) holding ``annotations/``.

    Finds the dataset in ``data_path`` itself or inside the top folder of an unzipped
    archive (``coco2017/{annotations,train2017,val2017}``). ``None`` when there is none.
    """
    level = [data_path]
    for _ in range(max_depth + 1):
        below = []
        for folder in level:
            if os.path.isdir(os.path.join(folder, ANNOTATIONS_DIR)):
                return folder
            if os.path.isdir(folder):
                below += [os.path.join(folder, e) for e in sorted(os.listdir(folder))
                          if not e.startswith((".", "__")) and os.path.isdir(os.path.join(folder, e))]
        level = below
    return None


def _set(cfg, key: str, value) -> None:
    *parents, leaf = key.split(".")
    node = cfg
    for part in parents:
        node = node[part]
    if node[leaf] != value:
        logger.info("ModelArts: %s = %s", key, value)
        cfg.set(key, value)


def prepare_dataset(cfg) -> str:
    """Unzips ``<data_path>/<modelarts_dataset_unzip_name>.zip`` once; sets ``DATASET.ROOT``."""
    if cfg.modelarts_dataset_unzip_name:
        unzip_once(os.path.join(cfg.data_path, cfg.modelarts_dataset_unzip_name + ".zip"), cfg.data_path)
    root = find_dataset_root(cfg.data_path)
    if root is None:
        logger.warning("ModelArts: no '%s' folder in %s; DATASET.ROOT is set to it anyway",
                       ANNOTATIONS_DIR, cfg.data_path)
        root = cfg.data_path
    _set(cfg, "DATASET.ROOT", root)
    return root


def _is_within(path: str, folder: str) -> bool:
    folder = os.path.abspath(folder)
    return os.path.commonpath([folder, os.path.abspath(path)]) == folder


def under_output(cfg, path: str) -> str:
    """``path`` placed under ``output_path`` (an absolute path elsewhere keeps its last name)."""
    if os.path.isabs(path):
        if _is_within(path, cfg.output_path):
            return path
        path = os.path.basename(os.path.normpath(path))
    return os.path.normpath(os.path.join(os.path.abspath(cfg.output_path), path))


def resolve_input(path: str, roots: Sequence[str], key: str = "") -> str:
    """An existing file for a relative ``path``: ``<root>/<path>``, else ``<root>/<file name>``.

    Empty and absolute paths are kept. When nothing exists, the path under the first
    root is returned (and the places tried are logged), so the error names it.
    """
    if not path or os.path.isabs(path):
        return path
    candidates = [os.path.normpath(os.path.join(root, path)) for root in roots]
    candidates += [os.path.join(root, os.path.basename(path)) for root in roots]
    for candidate in candidates:
        if os.path.exists(candidate):
            return candidate
    logger.warning("ModelArts: %s '%s' is in none of %s", key or "file", path, ", ".join(roots))
    return candidates[0]


def checkpoint_roots(cfg) -> List[str]:
    """Where relative checkpoint paths are looked for, in order."""
    roots = [cfg.load_path] if cfg.checkpoint_url else []
    return roots + [CODE_DIR, cfg.output_path, cfg.data_path]


def bbox_roots(cfg) -> List[str]:
    """Where a relative ``TEST.COCO_BBOX_FILE`` is looked for, in order."""
    return [cfg.DATASET.ROOT, cfg.data_path, CODE_DIR]


def train_pre_process(cfg) -> None:
    """train.py: dataset, checkpoints under ``output_path``, the ImageNet or resume checkpoint."""
    prepare_dataset(cfg)
    _set(cfg, "ckpt_save_dir", under_output(cfg, cfg.ckpt_save_dir))
    roots = checkpoint_roots(cfg)
    if cfg.MODEL.INIT_WEIGHTS or cfg.MODEL.RESUME:
        _set(cfg, "MODEL.PRETRAINED", resolve_input(cfg.MODEL.PRETRAINED, roots, "MODEL.PRETRAINED"))
    if cfg.get("resume", "") not in ("", "auto"):
        _set(cfg, "resume", resolve_input(cfg.resume, roots, "resume"))


def eval_pre_process(cfg, results_dir: Callable[[str], str]) -> None:
    """eval.py: dataset, the checkpoint to evaluate, the detections.

    ``results_dir`` maps a model file to the folder its evaluation writes (eval.py's own rule).
    """
    prepare_dataset(cfg)
    _set(cfg, "TEST.MODEL_FILE", resolve_input(cfg.TEST.MODEL_FILE, checkpoint_roots(cfg), "TEST.MODEL_FILE"))
    if not cfg.TEST.USE_GT_BBOX:
        _set(cfg, "TEST.COCO_BBOX_FILE",
             resolve_input(cfg.TEST.COCO_BBOX_FILE, bbox_roots(cfg), "TEST.COCO_BBOX_FILE"))
    if cfg.TEST.MODEL_FILE:
        logger.info("ModelArts: the evaluation results will be in %s", _results_copy(cfg, results_dir)[1])


def _results_copy(cfg, results_dir: Callable[[str], str]) -> Tuple[str, str]:
    """eval.py's results folder and its copy under ``output_path``."""
    results = results_dir(cfg.TEST.MODEL_FILE)
    if _is_within(results, cfg.output_path):
        return results, results
    return results, os.path.join(cfg.output_path, *results.split(os.sep)[-2:])


def eval_post_process(cfg, results_dir: Callable[[str], str]) -> None:
    """eval.py: the results copied under ``output_path`` (announced by ``eval_pre_process``)."""
    results, target = _results_copy(cfg, results_dir)
    if os.path.isdir(results) and target != results:
        copy_path(results, target)


def export_pre_process(cfg) -> None:
    """export.py: the checkpoint to export; the exported file under ``output_path``."""
    _set(cfg, "TEST.MODEL_FILE", resolve_input(cfg.TEST.MODEL_FILE, checkpoint_roots(cfg), "TEST.MODEL_FILE"))
    _set(cfg, "EXPORT.FILE_NAME", under_output(cfg, cfg.EXPORT.FILE_NAME))
