"""File layout shared by preprocess.py, the inference apps and postprocess.py.

Symbols: B batch size (of the exported model), J joints, H×W network input,
Hh×Wh heatmap. ``PRE`` is ``INFER.PRE_RESULT_PATH``, ``POST`` is
``INFER.POST_RESULT_PATH``::

    PRE/00_data/sp_bs<B>_<i>.bin        float32 B×3×H×W, batch i of normalised crops
    PRE/00_data/sp_flip_bs<B>_<i>.bin   the same batch mirrored horizontally (TEST.FLIP_TEST)
    PRE/meta/sp_bs<B>_<i>.npz           center B×2, scale B×2, score B, image_id B, count
    PRE/meta/info.json                  batch_size, image_size [W, H], num_batches,
                                        num_samples, flip_test
    POST/<name>_0.bin                   float32 B×J×Hh×Wh, output 0 for input <name>.bin

The last batch is padded with zero images up to B; ``count`` in its metadata is
the number of real crops, so postprocess.py drops the padding rows and every
crop is counted once. The inference apps (``ascend310_infer`` and
``src.deploy.mindir``) only see the ``.bin`` files: one model input per file,
one output file per input.
"""
import os
from typing import Any, Dict, List, NamedTuple, Sequence

import numpy as np

from src.errors import InferFilesError, shown_path
from src.utils.files import written_whole
from src.utils.jsonio import read_json, write_json

DATA_DIR = "00_data"
META_DIR = "meta"
INFO_FILE = "info.json"
PREFIX = "sp"
FLIP_PREFIX = "sp_flip"
#: Output index the apps append to an input file's name.
OUTPUT_SUFFIX = "_0.bin"


class BatchMeta(NamedTuple):
    """Per-crop metadata of one batch (padding rows included; ``count`` are real)."""
    center: np.ndarray    # B×2 image pixels
    scale: np.ndarray     # B×2 units of PIXEL_STD
    score: np.ndarray     # B detector scores
    image_id: np.ndarray  # B COCO image ids
    count: int


def batch_name(batch_size: int, index: int, flipped: bool = False) -> str:
    """``sp_bs<B>_<i>`` (or ``sp_flip_bs<B>_<i>``), the stem of a batch's files."""
    return f"{FLIP_PREFIX if flipped else PREFIX}_bs{batch_size}_{index}"


def data_path(pre_dir: str, batch_size: int, index: int, flipped: bool = False) -> str:
    return os.path.join(pre_dir, DATA_DIR, batch_name(batch_size, index, flipped) + ".bin")


def meta_path(pre_dir: str, batch_size: int, index: int) -> str:
    return os.path.join(pre_dir, META_DIR, batch_name(batch_size, index) + ".npz")


def result_path(post_dir: str, batch_size: int, index: int, flipped: bool = False) -> str:
    return os.path.join(post_dir, batch_name(batch_size, index, flipped) + OUTPUT_SUFFIX)


def pad_batch(array: np.ndarray, batch_size: int) -> np.ndarray:
    """``array`` (n ≤ B rows) with zero rows appended up to B rows."""
    array = np.asarray(array)
    if len(array) > batch_size:
        raise ValueError(f"a batch of {len(array)} rows is larger than the batch size {batch_size}")
    pad = np.zeros((batch_size - len(array),) + array.shape[1:], dtype=array.dtype)
    return np.concatenate([array, pad])


def write_batch(pre_dir: str, index: int, batch_size: int, images: np.ndarray, center: np.ndarray,
                scale: np.ndarray, score: np.ndarray, image_id: np.ndarray, flip: bool) -> int:
    """Writes batch ``index`` (n ≤ B crops, padded to B) and its metadata; returns n."""
    count = len(images)
    padded = np.ascontiguousarray(pad_batch(images.astype(np.float32), batch_size))
    with written_whole(data_path(pre_dir, batch_size, index)) as temp:
        padded.tofile(temp)
    if flip:
        with written_whole(data_path(pre_dir, batch_size, index, flipped=True)) as temp:
            np.ascontiguousarray(padded[:, :, :, ::-1]).tofile(temp)
    with written_whole(meta_path(pre_dir, batch_size, index)) as temp:
        np.savez(temp, center=pad_batch(np.asarray(center, np.float32).reshape(count, -1)[:, :2], batch_size),
                 scale=pad_batch(np.asarray(scale, np.float32).reshape(count, -1)[:, :2], batch_size),
                 score=pad_batch(np.asarray(score, np.float32).reshape(-1), batch_size),
                 image_id=pad_batch(np.asarray(image_id, np.int64).reshape(-1), batch_size),
                 count=np.int64(count))
    return count


def make_dirs(pre_dir: str) -> None:
    for sub in (DATA_DIR, META_DIR):
        os.makedirs(os.path.join(pre_dir, sub), exist_ok=True)


def clear_batches(pre_dir: str) -> None:
    """Removes the ``sp_*`` files of an earlier run (and the temporary ones of a killed run) and its description,
    so no stale batch is inferred."""
    for sub in (DATA_DIR, META_DIR):
        folder = os.path.join(pre_dir, sub)
        for name in os.listdir(folder) if os.path.isdir(folder) else ():
            if name.startswith((PREFIX + "_", f".{PREFIX}_")) and name.endswith((".bin", ".npz")):
                os.remove(os.path.join(folder, name))
    info = os.path.join(pre_dir, META_DIR, INFO_FILE)
    if os.path.exists(info):   # written last: a run killed before then leaves no description of half the batches
        os.remove(info)


def write_info(pre_dir: str, batch_size: int, image_size: Sequence[int], num_batches: int,
               num_samples: int, flip_test: bool) -> None:
    info = {"batch_size": int(batch_size), "image_size": [int(v) for v in image_size],
            "num_batches": int(num_batches), "num_samples": int(num_samples), "flip_test": bool(flip_test)}
    write_json(os.path.join(pre_dir, META_DIR, INFO_FILE), info, indent=2)


def read_info(pre_dir: str) -> Dict[str, Any]:
    path = os.path.join(pre_dir, META_DIR, INFO_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no preprocessed data: {shown_path(path)} not found; run preprocess.py first "
                                f"(INFER.PRE_RESULT_PATH is {pre_dir})")
    return read_json(path, "preprocessed data description", InferFilesError, "run preprocess.py again")


def read_meta(pre_dir: str, batch_size: int, index: int) -> BatchMeta:
    path = meta_path(pre_dir, batch_size, index)
    if not os.path.isfile(path):
        raise InferFilesError(f"batch metadata {path} is missing; run preprocess.py again")
    with np.load(path) as meta:
        return BatchMeta(meta["center"], meta["scale"], meta["score"], meta["image_id"], int(meta["count"]))


def read_result(path: str, shape: Sequence[int]) -> np.ndarray:
    """A result file as a float32 array of ``shape``; names the file when it is missing or the wrong size."""
    if not os.path.isfile(path):
        raise InferFilesError(f"inference result {path} is missing; run the inference app on every "
                              f"input file (INFER.POST_RESULT_PATH is {os.path.dirname(path)})")
    data = np.fromfile(path, dtype=np.float32)
    expected = int(np.prod(shape))
    if data.size != expected:
        raise InferFilesError(f"inference result {path} holds {data.size} float32 values, expected "
                              f"{'×'.join(str(s) for s in shape)} = {expected} (batch × joints × heatmap "
                              f"height × width); check TEST.BATCH_SIZE, MODEL.NUM_JOINTS and "
                              f"POSE_RESNET.HEATMAP_SIZE")
    return data.reshape(shape)


def list_inputs(input_dir: str) -> List[str]:
    """The ``.bin`` files of ``input_dir`` in name order (the order the apps run them in)."""
    if not os.path.isdir(input_dir):
        raise NotADirectoryError(f"input folder not found: {shown_path(input_dir)} (--input0_path)")
    names = sorted(name for name in os.listdir(input_dir) if name.endswith(".bin"))
    if not names:
        raise InferFilesError(f"no .bin files in {input_dir} (--input0_path); run preprocess.py first")
    return [os.path.join(input_dir, name) for name in names]
