"""``tracks.json`` (:data:`src.constants.TRACKS_FILE`), the tracks ``track.py`` writes: its one reader and writer.

The file holds ``video`` (the input), ``model_file`` (the checkpoint), ``joints`` (the network's data set
type, ``coco`` or ``posetrack``: the joints of the keypoints), ``keypoint_names`` (those joints in order),
``settings`` (the tracker's parameters and the flow method), ``num_tracks`` and ``frames``: per frame its
``index``, ``file_name`` and ``image_id`` and its ``people``, each with ``track_id``, ``bbox`` ``[x, y, w, h]``,
``box_score``, ``score``, ``area``, ``propagated`` (the box came from the flow) and ``keypoints``
(``[x0, y0, s0, x1, ...]``, COCO's flat layout, in the order of ``keypoint_names``), all in image pixels.
A file without ``joints`` (written before the key existed) holds COCO's.
"""
from typing import Any, Dict, Sequence

import numpy as np

from src.constants import COCO_KEYPOINTS, NUM_COCO_JOINTS, KeypointSet
from src.dataset_types import DATASET_TYPES
from src.errors import TrackingFilesError
from src.tracking.tracker import People, TrackSettings
from src.tracking.video import Frame
from src.utils.jsonio import read_json, write_json


def frame_record(frame: Frame, people: People) -> Dict[str, Any]:
    """One frame of tracks.json."""
    return {"index": frame.index, "file_name": frame.name, "image_id": frame.image_id, "people": [
        {"track_id": int(track_id), "bbox": [round(float(v), 2) for v in box], "box_score": float(box_score),
         "score": float(score), "area": float(area), "propagated": bool(propagated),
         "keypoints": [round(float(v), 4) for v in pose.reshape(-1)]}
        for track_id, box, box_score, score, pose, area, propagated in zip(
            people.track_ids, people.boxes, people.box_scores, people.scores, people.poses, people.areas,
            people.propagated)]}


def write_tracks(path: str, video: str, model_file: str, settings: TrackSettings, flow: str,
                 frames: Sequence[Dict[str, Any]], keypoints: KeypointSet = COCO_KEYPOINTS) -> int:
    """Writes tracks.json (the video, the joints, the settings, the frames) atomically; returns the number of
    tracks."""
    num_tracks = len({p["track_id"] for f in frames for p in f["people"]})
    write_json(path, {"video": video, "model_file": model_file, "joints": keypoints.name,
                      "keypoint_names": list(keypoints.keypoint_names),
                      "settings": {**settings._asdict(), "flow": flow}, "num_tracks": num_tracks,
                      "frames": list(frames)})
    return num_tracks


def read_tracks(path: str) -> Dict[str, Any]:
    """The contents of a tracks.json.

    Raises:
        FileNotFoundError: no file at ``path``.
        TrackingFilesError: not JSON, or without a ``frames`` list.
    """
    doc = read_json(path, "tracks file", TrackingFilesError)
    if not isinstance(doc, dict) or not isinstance(doc.get("frames"), list):
        raise TrackingFilesError(f"{path} is not a tracks.json of track.py (no 'frames' list)")
    joints = doc.get("joints", COCO_KEYPOINTS.name)
    if joints not in DATASET_TYPES:
        raise TrackingFilesError(f"{path}: joints '{joints}' are none of {sorted(DATASET_TYPES)}; give a tracks.json "
                                 f"of track.py")
    return doc


def tracks_keypoints(tracks: Dict[str, Any]) -> KeypointSet:
    """The joints of a tracks.json's keypoints (as :func:`read_tracks` read and checked it)."""
    return DATASET_TYPES[tracks.get("joints", COCO_KEYPOINTS.name)].keypoints


def as_poses(rows: Sequence[Sequence[float]]) -> np.ndarray:
    """Flat ``[x0, y0, v0, x1, ...]`` rows (the people's ``keypoints``, COCO's layout) as N×J×3; 0×17×3 when there
    are none."""
    if len(rows) == 0:
        return np.zeros((0, NUM_COCO_JOINTS, 3))
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1, 3)
