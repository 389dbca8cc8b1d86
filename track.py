"""Pose tracking in a video: the paper's flow-based pose propagation and greedy matching.

    python track.py --eval_model_file CKPT --video VIDEO_OR_FRAME_FOLDER [--boxes DETECTIONS | --detector MODEL.onnx]
                    [--output DIR] [--gt POSETRACK_GT] [--device_target CPU] [--key value ...]

Person boxes per frame come from ``--boxes`` (a COCO detection-results file; or
``'[[x,y,w,h],...]'`` for the first frame), else from ``--detector`` (an ONNX person detector run
every ``TRACK.DETECTOR_EVERY`` frames, ``src/tracking/detector.py``), else the first frame is one
whole-image box; plus the boxes of the previous frame's people moved along the optical flow.
Poses come from the evaluation's crop, flip test and decoding, in the network's own joints (its
``DATASET.DATASET``: COCO's, or PoseTrack's for a network fine-tuned on PoseTrack); ids from greedy matching on
flow-based OKS over the last ``TRACK.KEEP_FRAMES`` frames (``src/tracking/tracker.py``). Writes ``<output>/tracks.json``
and the annotated video ``<output>/tracks.mp4``; with PoseTrack ground truth (``--gt``), also the tracks
as PoseTrack predictions (the ground truth's file name and format) and the benchmark's per-joint AP
and MOTA, ending with the lines ``Total AP: ...`` and ``Total MOTA: ...``. ``--video``, ``--boxes``,
``--detector``, ``--output`` and ``--gt`` are aliases of ``TRACK.VIDEO``, ``TRACK.BOXES``,
``TRACK.DETECTOR``, ``TRACK.OUTPUT`` and ``TRACK.POSETRACK_GT``.
"""
import logging
import os
import sys
from typing import Any, List, Optional, Sequence

from src.constants import TRACKS_FILE
from src.dataset_types import dataset_type
from src.errors import UserError
from src.evaluate.posetrack_metrics import report
from src.inference.estimator import PoseEstimator
from src.inference.loading import load_network
from src.model_utils.config import get_config
from src.network.weights import require_model_file
from src.tracking.detector import DetectorBoxes, DetectorSettings, PersonDetector
from src.tracking.pipeline import build_tracker, track_frames
from src.tracking.posetrack import check_ground_truth, score_tracks
from src.tracking.tracker import TrackSettings
from src.tracking.tracks_file import write_tracks
from src.tracking.video import DEFAULT_FPS, FrameBoxes, FrameSource, VideoWriter
from src.utils.cli import run_cli, setup_logging

logger = logging.getLogger("track")

VIDEO_FILE = "tracks.mp4"
_ALIASES = {"--video": "--TRACK.VIDEO", "--boxes": "--TRACK.BOXES", "--detector": "--TRACK.DETECTOR",
            "--output": "--TRACK.OUTPUT", "--gt": "--TRACK.POSETRACK_GT"}


def _aliases(argv: Sequence[str]) -> List[str]:
    return [_ALIASES.get(word, word) for word in argv]


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(get_config(_aliases(sys.argv[1:] if argv is None else argv)))


def run(cfg: Any) -> int:
    """Tracks the people of ``TRACK.VIDEO``; writes tracks.json and the annotated video (and with
    ``TRACK.POSETRACK_GT`` the PoseTrack predictions and their scores); returns 0."""
    setup_logging()
    keypoints = dataset_type(cfg).keypoints
    model_file = require_model_file(cfg, "track with")
    if not cfg.TRACK.VIDEO:
        raise UserError("no video: pass --video VIDEO_FILE_OR_FRAME_FOLDER (TRACK.VIDEO)")
    source = FrameSource(cfg.TRACK.VIDEO)
    if cfg.TRACK.POSETRACK_GT:
        check_ground_truth(cfg.TRACK.POSETRACK_GT)
    frame_boxes = FrameBoxes(cfg.TRACK.BOXES, float(cfg.TEST.IMAGE_THRE))
    if cfg.TRACK.DETECTOR and cfg.TRACK.BOXES.strip():
        logger.warning("TRACK.DETECTOR %s is not used: the boxes come from TRACK.BOXES", cfg.TRACK.DETECTOR)
    elif cfg.TRACK.DETECTOR:
        detector_settings = DetectorSettings.from_config(cfg)
        frame_boxes = DetectorBoxes(PersonDetector(detector_settings), detector_settings.every)
    net = load_network(cfg, model_file)
    estimator = PoseEstimator.from_config(cfg, net, pad_batches=True)
    settings = TrackSettings.from_config(cfg)
    tracker = build_tracker(settings, estimator, cfg.TRACK.FLOW, keypoints)
    out_dir = cfg.TRACK.OUTPUT
    os.makedirs(out_dir, exist_ok=True)
    fps = float(cfg.TRACK.FPS) or source.fps or DEFAULT_FPS
    video_path = os.path.join(out_dir, VIDEO_FILE)
    writer = VideoWriter(video_path, fps) if cfg.TRACK.WRITE_VIDEO else None

    logger.info("tracking %s (%s frames; boxes: %s)", cfg.TRACK.VIDEO, source.count or "?",
                cfg.TRACK.BOXES or (f"the detector every {frame_boxes.every} frames, and propagation"
                                    if isinstance(frame_boxes, DetectorBoxes)
                                    else "the whole first frame, then propagation"))
    frames, elapsed = track_frames(tracker, source, frame_boxes, writer, settings.in_vis_thre)

    tracks_path = os.path.join(out_dir, TRACKS_FILE)
    num_tracks = write_tracks(tracks_path, cfg.TRACK.VIDEO, model_file, settings, cfg.TRACK.FLOW, frames, keypoints)
    num_people = sum(len(f["people"]) for f in frames)
    logger.info("%d people in %d frames, %d tracks (%d people from propagated boxes); tracks written to %s%s",
                num_people, len(frames), num_tracks, tracker.num_propagated, tracks_path,
                f", video to {video_path}" if writer is not None else "")
    logger.info("time: %sflow %.1f s, poses %.1f s, matching %.1f s, all %.1f s",
                f"detector {frame_boxes.seconds:.1f} s ({frame_boxes.runs} frames), "
                if isinstance(frame_boxes, DetectorBoxes) else "",
                tracker.seconds["flow"], tracker.seconds["poses"], tracker.seconds["matching"], elapsed)
    print(f"frames/s: {len(frames) / max(elapsed, 1e-9):.2f}")
    if cfg.TRACK.POSETRACK_GT:
        predictions, result = score_tracks(tracks_path, cfg.TRACK.POSETRACK_GT, float(cfg.TRACK.POSETRACK_JOINT_THRE))
        logger.info("PoseTrack predictions written to %s", predictions)
        print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
