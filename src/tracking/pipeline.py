"""The tracker assembled from its settings and a pose estimator, and run over the frames of a video.

``track.py`` and ``bench/tracking_ablation.py`` both track through here, so the ablation measures
exactly what users run.
"""
import time
from typing import Any, Dict, List, Optional, Tuple

from src.constants import KeypointSet
from src.inference.estimator import PoseEstimator
from src.tracking.draw import draw_tracks
from src.tracking.flow import make_flow
from src.tracking.tracker import PoseTracker, TrackSettings
from src.tracking.tracks_file import frame_record
from src.tracking.video import FrameBoxes, FrameSource, VideoWriter
from src.utils.progress import Progress


def build_tracker(settings: TrackSettings, estimator: PoseEstimator, flow_method: str,
                  keypoints: KeypointSet) -> PoseTracker:
    """The tracker of ``settings``, estimating poses with ``estimator`` in the joints ``keypoints`` (the network's
    data set type's: :func:`src.dataset_types.dataset_type`), with the optical flow of ``flow_method``
    (``TRACK.FLOW``) when the settings use flow."""
    return PoseTracker(settings, estimator.estimate, make_flow(flow_method) if settings.uses_flow else None,
                       keypoints)


def track_frames(tracker: PoseTracker, source: FrameSource, frame_boxes: FrameBoxes,
                 writer: Optional[VideoWriter], vis_thre: float) -> Tuple[List[Dict[str, Any]], float]:
    """Runs ``tracker`` over the frames, drawing each into ``writer`` (put in place at the end; dropped when the
    tracking fails).

    Args:
        tracker: The tracker, fresh for this video (the skeletons are drawn in its joints).
        source: The frames.
        frame_boxes: The detector's boxes of each frame.
        writer: The annotated video, or None.
        vis_thre: Joints drawn above this score.

    Returns:
        ``(tracks.json frames, seconds)``.
    """
    frames = []
    bar = Progress(source.count)
    start = time.perf_counter()
    try:
        for frame in source:
            boxes, scores = frame_boxes(frame)
            people = tracker.step(frame.image, boxes, scores)
            frames.append(frame_record(frame, people))
            if writer is not None:
                writer.write(draw_tracks(frame.image, people.track_ids, people.boxes, people.poses, vis_thre,
                                         frame.name, tracker.keypoints))
            bar.update()
    except BaseException:
        if writer is not None:
            writer.discard()   # no half video under the real name
        raise
    finally:
        bar.close()
    if writer is not None:
        writer.close()
    return frames, time.perf_counter() - start
