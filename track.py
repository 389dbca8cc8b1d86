"""Pose tracking in a video: the paper's flow-based pose propagation and greedy matching.

    python track.py --eval_model_file CKPT --video VIDEO_OR_FRAME_FOLDER [--boxes DETECTIONS | --detector MODEL.onnx]
                    [--output DIR] [--device_target CPU] [--key value ...]

Person boxes per frame come from ``--boxes`` (a COCO detection-results file; or
``'[[x,y,w,h],...]'`` for the first frame), else from ``--detector`` (an ONNX person detector run
every ``TRACK.DETECTOR_EVERY`` frames, ``src/tracking/detector.py``), else the first frame is one
whole-image box; plus the boxes of the previous frame's people moved along the optical flow.
Poses come from the evaluation's crop, flip test and decoding; ids from greedy matching on
flow-based OKS over the last ``TRACK.KEEP_FRAMES`` frames (``src/tracking/tracker.py``). Writes ``<output>/tracks.json``
and the annotated video ``<output>/tracks.mp4``. ``--video``, ``--boxes``, ``--detector`` and
``--output`` are aliases of ``TRACK.VIDEO``, ``TRACK.BOXES``, ``TRACK.DETECTOR`` and ``TRACK.OUTPUT``.
"""
import json
import logging
import os
import sys
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from src.checkpoint import require_model_file
from src.model import get_pose_net
from src.model_utils.cli import UserError, run_cli, setup_logging
from src.model_utils.config import get_config
from src.model_utils.device_adapter import get_device_id, init_context
from src.tracking.detector import DetectorBoxes, DetectorSettings, PersonDetector
from src.tracking.draw import draw_tracks
from src.tracking.estimate import network_estimator
from src.tracking.flow import make_flow
from src.utils.progress import Progress
from src.tracking.tracker import People, PoseTracker, TrackSettings
from src.tracking.video import DEFAULT_FPS, Frame, FrameBoxes, FrameSource, VideoWriter

logger = logging.getLogger("track")

TRACKS_FILE, VIDEO_FILE = "tracks.json", "tracks.mp4"
_ALIASES = {"--video": "--TRACK.VIDEO", "--boxes": "--TRACK.BOXES", "--detector": "--TRACK.DETECTOR",
            "--output": "--TRACK.OUTPUT"}


def _aliases(argv: Sequence[str]) -> List[str]:
    return [_ALIASES.get(word, word) for word in argv]


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(get_config(_aliases(sys.argv[1:] if argv is None else argv)))


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
                 frames: List[Dict[str, Any]]) -> int:
    """Writes tracks.json (the video, the settings, the frames); returns the number of tracks."""
    num_tracks = len({p["track_id"] for f in frames for p in f["people"]})
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"video": video, "model_file": model_file, "settings": {**settings._asdict(), "flow": flow},
                   "num_tracks": num_tracks, "frames": frames}, f)
    return num_tracks


def track_frames(tracker: PoseTracker, source: FrameSource, frame_boxes: FrameBoxes,
                 writer: Optional[VideoWriter], vis_thre: float) -> Tuple[List[Dict[str, Any]], float]:
    """Runs ``tracker`` over the frames with a progress bar, drawing each into ``writer`` (closed at the end).

    Returns:
        ``(tracks.json frames, seconds)``.
    """
    frames = []
    progress = Progress(source.count)
    start = time.perf_counter()
    try:
        for frame in source:
            boxes, scores = frame_boxes(frame)
            people = tracker.step(frame.image, boxes, scores)
            frames.append(frame_record(frame, people))
            if writer is not None:
                writer.write(draw_tracks(frame.image, people.track_ids, people.boxes, people.poses, vis_thre,
                                         frame.name))
            progress.update()
    finally:
        progress.close()
        if writer is not None:
            writer.close()
    return frames, time.perf_counter() - start


def run(cfg: Any) -> int:
    """Tracks the people of ``TRACK.VIDEO``; writes tracks.json and the annotated video; returns 0."""
    setup_logging()
    model_file = require_model_file(cfg, "track with")
    if not cfg.TRACK.VIDEO:
        raise UserError("no video: pass --video VIDEO_FILE_OR_FRAME_FOLDER (TRACK.VIDEO)")
    source = FrameSource(cfg.TRACK.VIDEO)
    frame_boxes = FrameBoxes(cfg.TRACK.BOXES, float(cfg.TEST.IMAGE_THRE))
    if cfg.TRACK.DETECTOR and cfg.TRACK.BOXES.strip():
        logger.warning("TRACK.DETECTOR %s is not used: the boxes come from TRACK.BOXES", cfg.TRACK.DETECTOR)
    elif cfg.TRACK.DETECTOR:
        detector_settings = DetectorSettings.from_config(cfg)
        frame_boxes = DetectorBoxes(PersonDetector(detector_settings), detector_settings.every)
    init_context(cfg, device_id=get_device_id())
    net = get_pose_net(cfg, is_train=False, ckpt_path=model_file)
    net.set_train(False)
    settings = TrackSettings.from_config(cfg)
    tracker = PoseTracker(settings, network_estimator(cfg, net),
                          make_flow(cfg.TRACK.FLOW) if settings.uses_flow else None)
    out_dir = cfg.TRACK.OUTPUT
    os.makedirs(out_dir, exist_ok=True)
    fps = float(cfg.TRACK.FPS) or source.fps or DEFAULT_FPS
    video_path = os.path.join(out_dir, VIDEO_FILE)
    writer = VideoWriter(video_path, fps) if cfg.TRACK.WRITE_VIDEO else None

    logger.info("tracking %s (%s frames; boxes: %s)", cfg.TRACK.VIDEO, source.count or "?",
                cfg.TRACK.BOXES or (f"the detector every {cfg.TRACK.DETECTOR_EVERY} frames, and propagation"
                                    if isinstance(frame_boxes, DetectorBoxes)
                                    else "the whole first frame, then propagation"))
    frames, elapsed = track_frames(tracker, source, frame_boxes, writer, float(cfg.TEST.IN_VIS_THRE))

    tracks_path = os.path.join(out_dir, TRACKS_FILE)
    num_tracks = write_tracks(tracks_path, cfg.TRACK.VIDEO, model_file, settings, cfg.TRACK.FLOW, frames)
    num_people = sum(len(f["people"]) for f in frames)
    logger.info("%d people in %d frames, %d tracks (%d people from propagated boxes); tracks written to %s%s",
                num_people, len(frames), num_tracks, tracker.num_propagated, tracks_path,
                f", video to {video_path}" if writer is not None else "")
    logger.info("time: %sflow %.1f s, poses %.1f s, matching %.1f s, all %.1f s",
                f"detector {frame_boxes.seconds:.1f} s ({frame_boxes.runs} frames), "
                if isinstance(frame_boxes, DetectorBoxes) else "",
                tracker.seconds["flow"], tracker.seconds["poses"], tracker.seconds["matching"], elapsed)
    print(f"frames/s: {len(frames) / max(elapsed, 1e-9):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
