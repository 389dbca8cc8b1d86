"""Checkpoint files of the network: writing them whole, checking them, and loading one into the network.

A checkpoint (``.ckpt``) is MindSpore's protobuf list of named arrays. Every checkpoint this project writes
(:func:`write_checkpoint`) starts with the entry :data:`CHECKSUM_ENTRY` and ends with MindSpore's CRC-32
trailer (``save_checkpoint(crc_check=True)``: ``b"crc_num"`` and the CRC-32 of everything before it). The
trailer shows changed bytes; the first entry shows that a file without its trailer was cut short, which the
trailer alone cannot (a file cut between two entries parses). Files of the original port, of the converter's
earlier versions or of other tools have neither and still load; only their parsing is checked.

Loading (:func:`read_checkpoint`) refuses a damaged file with one line; loading into a network then checks
names and shapes and refuses a file that does not fit with one line: how many parameters are missing or
shaped otherwise, a few names, and the ResNet depth the file looks like when it is another one.
"""
import binascii
import logging
import os
import re
import shutil
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn

from src.constants import RESNET_LAYERS
from src.errors import (CheckpointDamagedError, CheckpointMismatchError, CheckpointWriteError, ConfigError,
                        shown_path)

#: First entry of every checkpoint written here: the file ends with a CRC-32 trailer. Truncation removes the
#: end of a file, never its start, so a file that starts with it and lacks the trailer was cut short.
CHECKSUM_ENTRY = "checksum_crc32"
#: MindSpore's trailer: this tag, then the CRC-32 of the bytes before the trailer in 10 big-endian bytes.
_TRAILER_TAG, _TRAILER_SIZE = b"crc_num", 17
_READ_CHUNK = 16 << 20
_UNPARSABLE = "it does not parse as a MindSpore checkpoint"
#: Bytes a checkpoint holds per entry beyond the array (name, shape, type, framing); generous.
_ENTRY_OVERHEAD = 256
_BLOCK = re.compile(r"^layer([1-4])\.(\d+)\.conv(\d)\.weight$")


def resnet_depth(names) -> Optional[int]:
    """The ResNet depth whose blocks a set of parameter names has (``layer<i>.<block>.conv<k>``), or None."""
    blocks, bottleneck = [0, 0, 0, 0], False
    for name in names:
        match = _BLOCK.match(name)
        if match:
            layer, block, conv = (int(g) for g in match.groups())
            blocks[layer - 1] = max(blocks[layer - 1], block + 1)
            bottleneck |= conv == 3
    for depth, (bottle, counts) in RESNET_LAYERS.items():
        if bottle == bottleneck and tuple(blocks) == counts:
            return depth
    return None


def mismatch_report(expected: Mapping[str, Sequence[int]], found: Mapping[str, Sequence[int]],
                    unexpected: bool = False, shown: int = 3) -> str:
    """What ``found`` (name -> shape) lacks of ``expected``, or holds with another shape: one line of counts
    and the first ``shown`` names, with the ResNet depth ``found`` looks like when it is not the expected
    one; empty when they fit. With ``unexpected``, entries of ``found`` the network lacks count too."""
    groups = [("missing", [n for n in expected if n not in found]),
              ("with another shape", [f"{n} {tuple(found[n])} instead of {tuple(expected[n])}"
                                      for n in expected if n in found and tuple(found[n]) != tuple(expected[n])])]
    if unexpected:
        groups.append(("unexpected", [n for n in found if n not in expected]))
    parts = [f"{len(names)} {label} (e.g. {', '.join(names[:shown])}{', ...' if len(names) > shown else ''})"
             for label, names in groups if names]
    if not parts:
        return ""
    depth, wanted = resnet_depth(found), resnet_depth(expected)
    if depth and depth != wanted:
        parts.append(f"its blocks are those of a ResNet-{depth}: set POSE_RESNET.NUM_LAYERS {depth}")
    return "; ".join(parts)


def load_parameters(params: Sequence[ms.Parameter], checkpoint: Dict[str, Any], path: str, what: str) -> None:
    """Copies ``checkpoint[p.name]`` into each of ``params`` after checking names and shapes.

    Raises:
        CheckpointMismatchError: with counts and examples of the missing and mis-shaped parameters
            (:func:`src.network.shape.mismatch_report`).
    """
    problems = mismatch_report({p.name: tuple(p.shape) for p in params},
                               {name: tuple(value.shape) for name, value in checkpoint.items()})
    if problems:
        raise CheckpointMismatchError(f"checkpoint {path} ({what}) does not fit the network: {problems}; "
                                      "check POSE_RESNET.NUM_LAYERS and the head settings")
    for param in params:
        value = checkpoint[param.name]
        data = value.asnumpy() if hasattr(value, "asnumpy") else np.asarray(value)
        param.set_data(Tensor(data, param.dtype))


def load_network_checkpoint(net: nn.Cell, path: str) -> None:
    """Loads every parameter of ``net`` from the checkpoint ``path`` (extra entries ignored).

    Raises:
        FileNotFoundError: ``path`` is not a file.
        CheckpointDamagedError: the file is damaged (:func:`read_checkpoint`).
        CheckpointMismatchError: parameters missing from the file or of other shapes.
    """
    load_parameters(list(net.get_parameters()), read_checkpoint(path), path, "network checkpoint")


def channel_sources(source_names: Sequence[str], target_names: Sequence[str]) -> np.ndarray:
    """For each joint of ``target_names``, the index of the same joint in ``source_names``, -1 where it has none.

    COCO to PoseTrack: ``[0, -1, -1, 3, 4, ..., 16]`` (the two lists share 15 slots; COCO's eyes sit where
    PoseTrack has the head bottom and top).
    """
    return np.array([source_names.index(name) if name in source_names else -1 for name in target_names], np.int64)


def load_initial_weights(net: nn.Cell, path: str, sources: Sequence[int], output_layer: str = "final_layer",
                         what: str = "TRAIN.INIT_FROM") -> None:
    """Loads a whole-network checkpoint as the start of a training run on other joints.

    Every parameter is the checkpoint's, except that output channel ``j`` of ``output_layer`` (PoseResNet's
    heatmap convolution: its weight's and bias's first axis) is the checkpoint's channel ``sources[j]``, and
    keeps the network's initial values where ``sources[j]`` is -1 (a joint the checkpoint's data set lacks).
    Optimizer state and run entries in the file are ignored.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        CheckpointMismatchError: parameters missing from the file or of other shapes (``what`` names the setting).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: '{shown_path(path)}' ({what})")
    checkpoint = dict(ms.load_checkpoint(path))
    sources = np.asarray(sources, np.int64)
    params = list(net.get_parameters())
    for param in params:
        value = checkpoint.get(param.name)
        if not param.name.startswith(output_layer + ".") or value is None or tuple(value.shape) != tuple(param.shape):
            continue   # (a shape that does not fit is reported by load_parameters)
        if len(sources) != param.shape[0]:
            raise ValueError(f"{len(sources)} channel sources for the {param.shape[0]} channels of {param.name}")
        mapped = param.asnumpy().copy()
        taken = sources >= 0
        mapped[taken] = value.asnumpy()[sources[taken]]
        checkpoint[param.name] = mapped
    load_parameters(params, checkpoint, path, what)


def require_model_file(cfg, purpose: str) -> str:
    """``TEST.MODEL_FILE``, checked to be set and to exist, for the scripts that load a network."""
    model_file = cfg.TEST.MODEL_FILE
    if not model_file:
        raise ConfigError(f"no checkpoint to {purpose}: pass --eval_model_file PATH (or set TEST.MODEL_FILE)")
    if not os.path.isfile(model_file):
        raise FileNotFoundError(f"checkpoint not found: {shown_path(model_file)} (TEST.MODEL_FILE)")
    return model_file


# ---- the file: checked reading, whole-or-nothing writing -------------------------------------------------------

def _varint(data: bytes, pos: int) -> Tuple[int, int]:
    """The protobuf varint at ``pos`` of ``data``: ``(value, position after it)``; value -1 when cut."""
    value = shift = 0
    while pos < len(data):
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7
    return -1, pos


def first_entry_name(head: bytes) -> str:
    """The name of a checkpoint's first entry, from the file's first bytes ("" when they are not a checkpoint's).

    A checkpoint is a protobuf ``Checkpoint`` whose entries (field 1) each start with their name (field 1);
    both are length-delimited, key byte ``0x0A``.
    """
    pos, length = 0, -1
    for _ in range(2):
        if pos >= len(head) or head[pos] != 0x0A:
            return ""
        length, pos = _varint(head, pos + 1)
    return head[pos:pos + length].decode("utf-8", "replace") if length >= 0 else ""


def checkpoint_problem(path: str, parse: bool = False) -> str:
    """What is wrong with the checkpoint file ``path``, in a few words; "" when nothing is found.

    A file with a CRC-32 trailer is checked against it (one read of the file, about 0.15 s per 400 MiB);
    a file marked with :data:`CHECKSUM_ENTRY` must have the trailer. An unmarked file without a trailer
    (the original port's, converted PyTorch weights of earlier versions) has nothing to check it by: with
    ``parse`` it is parsed, which finds a cut in the middle of an entry but not changed bytes.
    """
    size = os.path.getsize(path)
    if size == 0:
        return "empty (0 bytes)"
    with open(path, "rb") as f:
        marked = first_entry_name(f.read(256)) == CHECKSUM_ENTRY
        trailer = b""
        if size >= _TRAILER_SIZE:
            f.seek(size - _TRAILER_SIZE)
            trailer = f.read(_TRAILER_SIZE)
        if not trailer.startswith(_TRAILER_TAG):
            if marked:
                return f"cut short ({size} bytes, no checksum at its end)"
            return _parse_problem(path) if parse else ""
        f.seek(0)
        left, crc = size - _TRAILER_SIZE, 0
        while left > 0:
            chunk = f.read(min(_READ_CHUNK, left))
            if not chunk:
                return f"cut short while being read ({size - left} of {size} bytes)"
            crc = binascii.crc32(chunk, crc)
            left -= len(chunk)
    written = int.from_bytes(trailer[len(_TRAILER_TAG):], "big")
    if crc != written:
        return f"checksum mismatch (CRC-32 {crc:08x}, written {written:08x}): its bytes changed after it was written"
    return ""


def _parse_problem(path: str) -> str:
    try:
        with _quiet_mindspore("Failed to read the checkpoint file"):
            ms.load_checkpoint(path)
    except ValueError:
        return _UNPARSABLE
    return ""


class _DropRecords(logging.Filter):
    """Drops log records whose message starts with ``prefix``."""

    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefix)


@contextmanager
def _quiet_mindspore(prefix: str) -> Iterator[None]:
    """Leaves out MindSpore's own log lines starting with ``prefix``: the one-line error says it better."""
    from mindspore import log as ms_log  # pylint: disable=import-outside-toplevel
    ms_logger = ms_log._get_logger()  # pylint: disable=protected-access
    dropper = _DropRecords(prefix)
    ms_logger.addFilter(dropper)
    try:
        yield
    finally:
        ms_logger.removeFilter(dropper)


def read_checkpoint(path: str, what: str = "checkpoint") -> Dict[str, Any]:
    """The entries of the checkpoint ``path`` (name -> Parameter), after checking that the file is whole.

    Args:
        path: The file.
        what: What it is, for the messages ("ImageNet checkpoint (MODEL.PRETRAINED)").

    Raises:
        FileNotFoundError: nothing at ``path``.
        CheckpointDamagedError: the file was cut short, its bytes changed, or it does not parse.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} not found: '{shown_path(path)}'")
    problem = checkpoint_problem(path)
    if problem:
        raise CheckpointDamagedError(f"{what} {path} is damaged: {problem}; use another checkpoint")
    try:
        with _quiet_mindspore("Failed to read the checkpoint file"):
            params = ms.load_checkpoint(path)
    except ValueError as err:
        raise CheckpointDamagedError(f"{what} {path} is damaged: {_UNPARSABLE}; use another checkpoint") from err
    params.pop(CHECKSUM_ENTRY, None)
    return params


def checkpoint_bytes(entries: Sequence[Mapping[str, Any]]) -> int:
    """About the size in bytes of the checkpoint of ``entries`` (``{"name", "data"}``), a little over."""
    return sum(int(np.prod(entry["data"].shape)) * entry["data"].itemsize + _ENTRY_OVERHEAD for entry in entries)


def format_bytes(count: float) -> str:
    """``"391.0 MiB"``, ``"12 bytes"``."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024.0
    return f"{count:.1f} TiB"


def space_note(folder: str, needed: int) -> str:
    """``"12.0 MiB free in FOLDER, a checkpoint needs about 130.1 MiB"``."""
    try:
        free = f"{format_bytes(shutil.disk_usage(folder).free)} free"
    except OSError:
        free = "free space unknown"
    return f"{free} in {folder}, a checkpoint needs about {format_bytes(needed)}"


def staging_paths(path: str) -> List[str]:
    """The files :func:`write_checkpoint` writes before ``path``: ``<name>.new.ckpt``, and the
    ``<name>.new.tmp`` MindSpore writes that one under."""
    base = path[:-len(".ckpt")] if path.endswith(".ckpt") else path
    return [base + ".new.ckpt", base + ".new.tmp"]


def _fsync(path: str, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_checkpoint(entries: Sequence[Mapping[str, Any]], path: str) -> None:
    """Writes ``entries`` (``{"name": str, "data": Tensor}``, in this order) as the checkpoint ``path``, whole
    or not at all.

    The file gets :data:`CHECKSUM_ENTRY` first and the CRC-32 trailer last. It is written under a staging
    name (:func:`staging_paths`), flushed to the disk, read back and checked, then renamed over ``path``;
    until then a file already at ``path`` stays as it is. (MindSpore's own save deletes it first.)

    Raises:
        CheckpointWriteError: the folder is not writable, the disk is full, the file size limit is reached
            or the file read back does not check; the staging files are removed.
    """
    folder = os.path.dirname(os.path.abspath(path))
    staged = staging_paths(path)
    marked = [{"name": CHECKSUM_ENTRY, "data": Tensor(np.array([1], np.int32))}, *entries]
    try:
        os.makedirs(folder, exist_ok=True)
        with _quiet_mindspore("Failed to save the checkpoint file"):
            ms.save_checkpoint(marked, staged[0], crc_check=True)
        _fsync(staged[0])
        problem = checkpoint_problem(staged[0])
        if problem:
            raise CheckpointWriteError(f"checkpoint {path} did not read back whole ({problem}); check the disk "
                                       f"of {folder}")
        os.replace(staged[0], path)
        _fsync(folder, directory=True)
    except OSError as err:
        raise CheckpointWriteError(f"cannot write checkpoint {path}: {err.strerror or err} "
                                   f"({space_note(folder, checkpoint_bytes(marked))}); the older checkpoints "
                                   "are intact") from err
    finally:
        for leftover in staged:
            if os.path.exists(leftover):
                os.remove(leftover)
