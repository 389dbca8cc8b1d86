"""The tracker assembled from its settings and a pose estimator, and run over the frames of a video.

``track.py`` and ``bench/tracking_ablation.py`` both track through here, so the ablation measures
exactly what users run.
"""
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from src.constants import KeypointSet
from src.inference.estimator import PoseEstimator
from src.tracking.draw import draw_tracks
from src.tracking.flow import FlowFn, FrameFlow, make_flow
from src.tracking.tracker import PoseTracker, TrackSettings
from src.tracking.tracks_file import frame_record
from src.tracking.video import Frame, FrameBoxes, FrameSource, VideoWriter
from src.utils.progress import Progress


def build_tracker(settings: TrackSettings, estimator: PoseEstimator, flow_method: str,
                  keypoints: KeypointSet) -> PoseTracker:
    """The tracker of ``settings``, estimating poses with ``estimator`` in the joints ``keypoints`` (the network's
    data set type's: :func:`src.dataset_types.dataset_type`), with the optical flow of ``flow_method``
    (``TRACK.FLOW``) when the settings use flow."""
    return PoseTracker(settings, estimator.estimate, make_flow(flow_method) if settings.uses_flow else None,
                       keypoints)


#: A frame, the flow from the previous frame to it (None for the first, or without flow), and the seconds the
#: caller spent on that flow (computing it, or waiting for it to be computed ahead).
FrameWithFlow = Tuple[Frame, Optional[np.ndarray], float]


def frames_with_flow(source: FrameSource, flow: Optional[FlowFn]) -> Iterator[FrameWithFlow]:
    """The frames of ``source`` with the flow ``flow`` computes from each to the next, in turn."""
    frame_flow = FrameFlow(flow) if flow is not None else None
    for frame in source:
        start = time.perf_counter()
        field = frame_flow(frame.image) if frame_flow is not None else None
        yield frame, field, time.perf_counter() - start


def ahead(items: Iterator[FrameWithFlow]) -> Iterator[FrameWithFlow]:
    """The same frames and flows, each read (decoded) and its flow computed in a background thread while the
    caller works on the one before; the seconds are those the caller waited for them.

    OpenCV (decoding, the flow) and MindSpore (the network) release the GIL while they compute, so the two
    threads overlap. The flows depend on the frames alone, so they are those computed in turn.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="frames-ahead") as worker:
        pending = worker.submit(next, items, None)
        while True:
            start = time.perf_counter()
            item = pending.result()
            if item is None:
                return
            pending = worker.submit(next, items, None)
            yield item[0], item[1], time.perf_counter() - start


def track_frames(tracker: PoseTracker, source: FrameSource, frame_boxes: FrameBoxes,
                 writer: Optional[VideoWriter], vis_thre: float,
                 read_ahead: bool = True) -> Tuple[List[Dict[str, Any]], float]:
    """Runs ``tracker`` over the frames, drawing each into ``writer`` (put in place at the end; dropped when the
    tracking fails).

    Args:
        tracker: The tracker, fresh for this video (the skeletons are drawn in its joints).
        source: The frames.
        frame_boxes: The detector's boxes of each frame.
        writer: The annotated video, or None.
        vis_thre: Joints drawn above this score.
        read_ahead: Read the next frame and compute its flow in a background thread while the network runs on this
            one (the same results as without, sooner).

    Returns:
        ``(tracks.json frames, seconds)``.
    """
    frames = []
    bar = Progress(source.count)
    start = time.perf_counter()
    try:
        frames_in_turn = frames_with_flow(source, tracker.flow)
        for frame, flow, flow_seconds in ahead(frames_in_turn) if read_ahead else frames_in_turn:
            tracker.seconds["flow"] += flow_seconds
            boxes, scores = frame_boxes(frame)
            people = tracker.track(frame.image, boxes, scores, flow)
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
