"""COCO keypoint annotation files: read and written here only.

An annotation file is a JSON object with ``images`` (``id``, ``file_name``, ``width``, ``height``;
the synthetic videos add ``frame_index``), ``annotations`` (``id``, ``image_id``, ``category_id``,
``bbox`` ``[x, y, w, h]``, ``keypoints`` ``[x0, y0, v0, ...]``, ``num_keypoints``, ``area``,
``iscrowd``; a video's people also carry a ``track_id``) and ``categories`` (the person with its
keypoint names and skeleton) — COCO's ``person_keypoints_*.json`` layout.
"""
import os
from typing import Any, Dict, Type

from src.errors import DatasetFormatError
from src.utils.jsonio import read_json, write_json


def read_annotations(path: str, what: str = "annotation file", hint: str = "",
                     not_found: Type[FileNotFoundError] = FileNotFoundError) -> Dict[str, Any]:
    """The contents of the annotation file ``path``, checked to have an ``images`` list.

    Args:
        path: The file.
        what: What it is, for the messages ("ground-truth file").
        hint: What to do, appended to the messages (how to get the data).
        not_found: The exception raised for a missing file.

    Raises:
        not_found: no file at ``path``.
        DatasetFormatError: not JSON, or without an ``images`` list.
    """
    doc = read_json(path, what, DatasetFormatError, hint, not_found)
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise DatasetFormatError(f"{path} is not a COCO annotation file (no 'images' list)")
    return doc


def write_annotations(path: str, doc: Dict[str, Any]) -> None:
    """Writes an annotation file (compact JSON, atomically)."""
    write_json(path, doc, compact=True)


def images_by_id(doc: Dict[str, Any], path: str) -> Dict[int, Dict[str, Any]]:
    """The ``images`` entries of an annotation file by id.

    Raises:
        DatasetFormatError: an entry without ``id`` (naming ``path``).
    """
    try:
        return {img["id"]: img for img in doc["images"]}
    except (KeyError, TypeError) as err:
        raise DatasetFormatError(f"{path}: an entry of 'images' has no 'id' ({err})") from err


def image_files(doc: Dict[str, Any], path: str, image_dir: str) -> Dict[int, str]:
    """Image id to the image's path in ``image_dir``.

    Raises:
        DatasetFormatError: an entry without ``id`` or ``file_name`` (naming ``path``).
    """
    try:
        return {int(img["id"]): os.path.join(image_dir, img["file_name"]) for img in doc["images"]}
    except (KeyError, TypeError, ValueError) as err:
        raise DatasetFormatError(f"{path}: an entry of 'images' has no 'id' or 'file_name' ({err!r})") from err
