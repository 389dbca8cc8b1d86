"""``track.py``'s tracks as PoseTrack predictions, and their scores by the benchmark's metrics.

    python -m src.tracking.posetrack --tracks tracks.json [--gt GT.json] [--output DIR] [--joint_thre 0.2]
                                     [--format 2017|2018]

writes the people of a ``track.py`` run (its ``tracks.json``, :mod:`src.tracking.tracks_file`) as a PoseTrack
prediction file (:mod:`src.data.posetrack_files`): in the format and under the file name of the ground truth
``--gt`` (all its frames, in its order, with its image ids), or without ground truth in the 2018 format as
``<video>.json``. The poses of a network with PoseTrack's joints (``DATASET.DATASET posetrack``) are written as
they are; those of a COCO network become PoseTrack's through
:func:`src.data.posetrack_joints.posetrack_from_coco` (the head bottom and top approximated). With
``TRACK.POSETRACK_GT``, ``track.py`` checks the ground truth before tracking (:func:`check_ground_truth`) and
scores its tracks after (:func:`score_tracks`, :mod:`src.evaluate.posetrack_eval`).
"""
import logging
import os
import sys
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from src.data.posetrack_files import (MAX_PREDICTED_TRACK_ID, NOT_VIDEOS, PoseFrame, PoseVideo, read_video,
                                      write_video)
from src.data.posetrack_joints import POSETRACK_KEYPOINTS, posetrack_from_coco
from src.errors import PoseTrackFormatError, shown_path
from src.evaluate.posetrack_eval import score_files
from src.evaluate.posetrack_metrics import PoseTrackResult
from src.tracking.tracks_file import as_poses, read_tracks, tracks_keypoints
from src.utils.cli import run_cli, setup_logging, tool_parser

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------- conversion

def _compact_ids(frames: Sequence[Dict[str, Any]], path: str) -> Dict[int, int]:
    """track.py's ids as PoseTrack's 0-999: kept when they fit, else renumbered by first appearance."""
    ids = list(dict.fromkeys(int(p["track_id"]) for f in frames for p in f["people"]))
    if not ids or max(ids) <= MAX_PREDICTED_TRACK_ID:
        return {i: i for i in ids}
    if len(ids) > MAX_PREDICTED_TRACK_ID + 1:
        raise PoseTrackFormatError(f"{path}: {len(ids)} tracks, more than PoseTrack's track ids 0-"
                                   f"{MAX_PREDICTED_TRACK_ID} can name")
    return {i: k for k, i in enumerate(ids)}


def predictions_from_tracks(tracks: Dict[str, Any], gt: Optional[PoseVideo] = None, joint_thre: float = 0.0,
                            name: str = "", tracks_path: str = "tracks.json") -> PoseVideo:
    """The people of a ``tracks.json`` (``track.py``) as a PoseTrack prediction video.

    Poses in PoseTrack's joints are taken as they are, COCO poses become PoseTrack's
    (:func:`posetrack_from_coco`, the head joints approximated); joints scoring ``joint_thre`` or less are left out (the benchmark counts every joint given:
    unsure ones are false positives in MOTA). Track ids over 999 are renumbered from 0.

    Args:
        tracks: The tracks.json document (as :func:`src.tracking.tracks_file.read_tracks` reads and checks it).
        gt: Ground truth of the video: the predictions then have its frames (matched by the base name
            of the file; frames track.py did not see have nobody), names, image ids, file name and format.
        joint_thre: Joints scoring this or less are not written.
        name: File name of the predictions without ground truth (default: the video's folder name).
        tracks_path: Where ``tracks`` came from, for messages.

    Returns:
        The predictions; ``version`` and file name follow ``gt`` (else 2018, ``name``).
    """
    frames_in = tracks["frames"]
    ids = _compact_ids(frames_in, tracks_path)
    convert = tracks_keypoints(tracks).name != POSETRACK_KEYPOINTS.name
    by_name = {os.path.basename(str(f.get("file_name", ""))): f for f in frames_in}
    if gt is not None:
        found = [by_name.get(os.path.basename(frame.name)) for frame in gt.frames]
        if not any(found):
            raise PoseTrackFormatError(f"no frame of {tracks_path} is in {gt.path} (frames are matched by file "
                                       f"name); give the ground truth of the video track.py read")
        skipped = len(frames_in) - sum(f is not None for f in found)
        if skipped:
            logger.info("%d frames of %s are not in %s and are left out", skipped, tracks_path, gt.path)
        frames = [_predicted_frame(f, frame.name, frame.image_id, frame.labelled, frame.extra, ids, joint_thre,
                                   convert) for f, frame in zip(found, gt.frames)]
        return PoseVideo(gt.name, gt.version, frames)
    video_name = name or os.path.basename(os.path.normpath(str(tracks.get("video", "")))) or "video"
    frames = [_predicted_frame(f, str(f.get("file_name", f"{k:06d}")), k, True,
                               {"frame_id": k, "vid_id": video_name, "nframes": len(frames_in)}, ids, joint_thre,
                               convert)
              for k, f in enumerate(frames_in)]
    return PoseVideo(name or os.path.splitext(video_name)[0] + ".json", 2018, frames)


def _predicted_frame(record: Optional[Dict[str, Any]], name: str, image_id: int, labelled: bool,
                     extra: Dict[str, Any], ids: Dict[int, int], joint_thre: float, convert: bool) -> PoseFrame:
    people = (record or {}).get("people") or []
    if not people:
        return PoseFrame.empty(name, image_id, labelled, **extra)
    poses = as_poses([p["keypoints"] for p in people])
    if convert:
        poses = posetrack_from_coco(poses)
    return PoseFrame(name, image_id, labelled, np.array([ids[int(p["track_id"])] for p in people], np.int64),
                     poses, poses[:, :, 2] > joint_thre, np.full((len(people), 4), np.nan),
                     np.array([p.get("bbox", [np.nan] * 4) for p in people], np.float64),
                     np.array([p.get("score", np.nan) for p in people], np.float64), (), dict(extra))


def write_predictions(tracks_path: str, output_dir: str, gt_path: str = "", joint_thre: float = 0.0,
                      version: Optional[int] = None) -> str:
    """Writes the PoseTrack predictions of a ``tracks.json`` into ``output_dir``; returns the file's path.

    The file has the ground truth's name and format (``gt_path``), or without it is
    ``<video folder name>.json`` in the 2018 format; ``version`` overrides the format.
    """
    tracks = read_tracks(tracks_path)
    gt = read_video(gt_path) if gt_path else None
    video = predictions_from_tracks(tracks, gt, joint_thre, tracks_path=tracks_path)
    path = write_video(os.path.join(output_dir, video.name), video, version or video.version, predictions=True)
    logger.info("PoseTrack %d predictions of %d frames written to %s", version or video.version, len(video.frames),
                path)
    return path


# ---------------------------------------------------------------------------------------------- track.py

def check_ground_truth(path: str) -> PoseVideo:
    """Reads ``track.py``'s PoseTrack ground truth (``TRACK.POSETRACK_GT``) before any tracking, so that a
    bad file stops it at once.

    Raises:
        FileNotFoundError: no file at ``path``.
        PoseTrackFormatError: not a PoseTrack file, or named as ``track.py``'s own tracks file.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"PoseTrack ground truth not found: '{shown_path(path)}' (TRACK.POSETRACK_GT, --gt); "
                                f"give the PoseTrack 2017 or 2018 file of the video")
    if os.path.basename(path) in NOT_VIDEOS:
        raise PoseTrackFormatError(f"{path}: a ground-truth file named {os.path.basename(path)} would share its "
                                   f"name with track.py's own file; rename it (predictions take its name)")
    return read_video(path)


def score_tracks(tracks_path: str, gt_path: str, joint_thre: float) -> Tuple[str, PoseTrackResult]:
    """Writes the tracks of ``tracks_path`` (a ``tracks.json``) as PoseTrack predictions beside it, under the
    ground truth's file name and in its format (joints scoring ``joint_thre`` or less left out), and scores
    them; ``posetrack_metrics.json`` is written there too.

    Returns:
        ``(prediction file, result)``.
    """
    folder = os.path.dirname(os.path.abspath(tracks_path))
    predictions = write_predictions(tracks_path, folder, gt_path, joint_thre)
    return predictions, score_files([gt_path], [predictions], folder)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = tool_parser("python -m src.tracking.posetrack", __doc__)
    parser.add_argument("--tracks", required=True, help="tracks.json written by track.py")
    parser.add_argument("--gt", default="", help="PoseTrack ground truth of the video (its frames, name, format)")
    parser.add_argument("--output", default="", help="folder of the prediction file (default: the tracks' folder)")
    parser.add_argument("--joint_thre", type=float, default=0.0,
                        help="joints scoring this or less are left out (default 0: all)")
    parser.add_argument("--format", type=int, choices=(2017, 2018), default=None,
                        help="PoseTrack format (default: the ground truth's, else 2018)")
    args = parser.parse_args(argv)
    setup_logging()
    write_predictions(args.tracks, args.output or os.path.dirname(os.path.abspath(args.tracks)), args.gt,
                      args.joint_thre, args.format)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
