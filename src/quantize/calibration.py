"""The calibration file: the activation ranges of a checkpoint's layers, which int8 inference quantizes with.

One small JSON file, written by ``python -m src.quantize.calibrate`` beside the checkpoint
(``<checkpoint without .ckpt>.int8.json``) or where ``--output`` says, read through ``MODEL.CALIBRATION_FILE``
(empty: beside the checkpoint). Its fields::

    {"format": "simple_pose.int8_calibration", "version": 1,
     "network": {"num_layers": 18, "num_joints": 17, "deconv_filters": [...], "deconv_kernels": [...],
                 "deconv_with_bias": false, "final_kernel": 1},
     "image_size": [w, h],
     "checkpoint": {"file": "simplepose-7_188.ckpt", "bytes": 123, "sha256": "..."},
     "samples": 256, "data": "training crops of ...", "statistic": "max |x| over the crops",
     "ranges": {"input": 2.64, "conv1": 7.1, "layer1.0.conv1": ..., "final_layer": ...},
     "percentile": {...}}           # the 99.99th percentile of |x| per batch, averaged: measured, not used

``ranges`` holds, for the network's input and each layer's output, the max |x| that maps to the largest integer.
A file of another format or version, another network, another input size or another checkpoint (its bytes
changed since) is refused with one line naming the file (:class:`src.errors.CalibrationError`).
"""
import hashlib
import json
import os
from typing import Any, Dict, List, Optional, Sequence

from src.errors import CalibrationError, shown_path

FORMAT = "simple_pose.int8_calibration"
VERSION = 1
SUFFIX = ".int8.json"


def default_path(checkpoint: str) -> str:
    """``<checkpoint without .ckpt>.int8.json``."""
    stem = checkpoint[:-len(".ckpt")] if checkpoint.endswith(".ckpt") else checkpoint
    return stem + SUFFIX


def network_of(cfg: Any) -> Dict[str, Any]:
    """The network settings a calibration belongs to, from the configuration."""
    pose = cfg.POSE_RESNET
    return {"num_layers": int(pose.NUM_LAYERS), "num_joints": int(cfg.MODEL.NUM_JOINTS),
            "deconv_filters": [int(v) for v in pose.NUM_DECONV_FILTERS],
            "deconv_kernels": [int(v) for v in pose.NUM_DECONV_KERNELS],
            "deconv_with_bias": bool(pose.DECONV_WITH_BIAS), "final_kernel": int(pose.FINAL_CONV_KERNEL)}


def checkpoint_identity(path: str) -> Dict[str, Any]:
    """The checkpoint's file name, size and SHA-256 (a calibration is stale once they change)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"file": os.path.basename(path), "bytes": os.path.getsize(path), "sha256": digest.hexdigest()}


def write(path: str, cfg: Any, checkpoint: str, ranges: Dict[str, float], percentiles: Dict[str, float],
          samples: int, data: str, statistic: str) -> None:
    """Writes the calibration file (through a temporary file renamed into place)."""
    record = {"format": FORMAT, "version": VERSION, "network": network_of(cfg),
              "image_size": [int(v) for v in cfg.MODEL.IMAGE_SIZE], "checkpoint": checkpoint_identity(checkpoint),
              "samples": int(samples), "data": data, "statistic": statistic,
              "ranges": {k: float(v) for k, v in ranges.items()},
              "percentile": {k: float(v) for k, v in percentiles.items()}}
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=1)
    os.replace(temporary, path)


def read(path: str, cfg: Any, checkpoint: Optional[str], layers: Sequence[str]) -> Dict[str, float]:
    """The ranges of a calibration file, after checking that it fits the configuration and the checkpoint.

    Args:
        layers: the names the network needs a range for.
        checkpoint: the checkpoint the network was loaded from (None: not checked).

    Raises:
        CalibrationError: a missing, unreadable, foreign, stale or mismatched file (one line, naming it).
    """
    shown = shown_path(path)
    if not os.path.isfile(path):
        raise CalibrationError(f"calibration file not found: {shown}; write it with: python -m "
                               f"src.quantize.calibrate --config_path <config> --ckpt <checkpoint>")
    try:
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CalibrationError(f"calibration file {shown} cannot be read: {err}") from err
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise CalibrationError(f"{shown} is not a calibration file (no \"format\": \"{FORMAT}\")")
    if record.get("version") != VERSION:
        raise CalibrationError(f"calibration file {shown} has version {record.get('version')!r}, this code reads "
                               f"version {VERSION}; calibrate again")
    problems: List[str] = []
    if record.get("network") != network_of(cfg):
        problems.append(f"it is of another network ({record.get('network')}, the configuration's is {network_of(cfg)})")
    if record.get("image_size") != [int(v) for v in cfg.MODEL.IMAGE_SIZE]:
        problems.append(f"it is for input size {record.get('image_size')}, MODEL.IMAGE_SIZE is {list(cfg.MODEL.IMAGE_SIZE)}")
    if checkpoint and not problems:
        stored = record.get("checkpoint") or {}
        if stored.get("bytes") != os.path.getsize(checkpoint) or stored.get("sha256") != checkpoint_identity(checkpoint)["sha256"]:
            problems.append(f"it was made from another checkpoint ({stored.get('file')}) than {os.path.basename(checkpoint)}, "
                            f"or the checkpoint changed since")
    ranges = record.get("ranges")
    if not problems and (not isinstance(ranges, dict) or any(not isinstance(ranges.get(k), (int, float))
                                                             or not ranges[k] > 0 for k in layers)):
        missing = [k for k in layers if not isinstance(ranges, dict) or not isinstance(ranges.get(k), (int, float))
                   or not ranges[k] > 0]
        problems.append(f"it lacks positive ranges for {missing[:3]}{' …' if len(missing) > 3 else ''}")
    if problems:
        raise CalibrationError(f"calibration file {shown} does not fit: {'; '.join(problems)}; calibrate again")
    return {k: float(ranges[k]) for k in layers}
