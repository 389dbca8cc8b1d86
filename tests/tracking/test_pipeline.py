"""The tracker assembled and run over a video (src/tracking/pipeline.py): flow only where the settings use it,
every frame recorded in order, the annotated video written."""
import json
import os
import shutil

import cv2
import mindspore as ms
import numpy as np
import pytest

from src.constants import COCO_KEYPOINTS
from src.data.posetrack_joints import POSETRACK_KEYPOINTS
from src.errors import ImageReadError
from src.inference.estimator import PoseEstimator
from src.model_utils.config import get_config
from src.tracking.pipeline import build_tracker, track_frames
from src.tracking.tracker import TrackSettings
from src.tracking.tracks_file import frame_record
from src.tracking.video import FrameBoxes, FrameSource, VideoWriter
from tests.inference.quarter_maps import QuarterMaps


def _estimator() -> PoseEstimator:
    cfg = get_config(["--MODEL.IMAGE_SIZE", "[32,64]", "--POSE_RESNET.HEATMAP_SIZE", "[8,16]",
                      "--TEST.FLIP_TEST", "False"])
    return PoseEstimator.from_config(cfg, QuarterMaps(), pad_batches=True)


def test_flow_only_where_the_settings_use_it():
    assert build_tracker(TrackSettings(), _estimator(), "dis", COCO_KEYPOINTS).flow is not None
    assert build_tracker(TrackSettings(propagate_boxes=False, similarity="oks"), _estimator(), "dis",
                         COCO_KEYPOINTS).flow is None
    assert build_tracker(TrackSettings(), _estimator(), "dis", POSETRACK_KEYPOINTS).keypoints == POSETRACK_KEYPOINTS


def test_every_frame_is_recorded_and_drawn(synthetic_videos, tmp_path):
    ms.set_context(mode=ms.PYNATIVE_MODE)
    source = FrameSource(os.path.join(synthetic_videos, "frames", "seq000"))
    boxes = FrameBoxes(os.path.join(synthetic_videos, "detections", "seq000.json"), 0.0)
    tracker = build_tracker(TrackSettings(min_score=0.0), _estimator(), "dis", COCO_KEYPOINTS)
    video = str(tmp_path / "tracks.mp4")
    frames, seconds = track_frames(tracker, source, boxes, VideoWriter(video, 10.0), 0.2)
    assert [frame["index"] for frame in frames] == list(range(source.count)) and seconds > 0
    assert all(person["track_id"] >= 0 for frame in frames for person in frame["people"])
    assert sum(len(frame["people"]) for frame in frames) >= source.count   # the detector's people at least
    capture = cv2.VideoCapture(video)
    count = 0
    while capture.read()[0]:
        count += 1
    assert count == source.count
    assert np.isfinite([p["score"] for f in frames for p in f["people"]]).all()


def test_frames_read_ahead_give_the_tracks_of_frames_in_turn(synthetic_videos):
    """Frames decoded and flows computed in a background thread, frames and flows in turn, and the tracker's own
    step: the same tracks.json frames, to the bit. The propagated people show that the flow was used."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    source = FrameSource(os.path.join(synthetic_videos, "frames", "seq000"))
    boxes = FrameBoxes(os.path.join(synthetic_videos, "detections", "seq000.json"), 0.0)
    settings = TrackSettings(min_score=0.0, propagate_joint_thre=0.0)

    def tracker():
        return build_tracker(settings, _estimator(), "dis", COCO_KEYPOINTS)

    ahead, _ = track_frames(tracker(), source, boxes, None, 0.2, read_ahead=True)
    in_turn, _ = track_frames(tracker(), source, boxes, None, 0.2, read_ahead=False)
    stepped = tracker()
    by_step = [frame_record(frame, stepped.step(frame.image, *boxes(frame))) for frame in source]
    assert json.dumps(ahead) == json.dumps(in_turn) == json.dumps(by_step)
    assert any(person["propagated"] for frame in ahead for person in frame["people"])


def test_an_error_while_reading_ahead_reaches_the_caller(synthetic_videos, tmp_path):
    """A frame that cannot be read, in the background thread, fails the tracking as it would in turn."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    frames = tmp_path / "frames"
    frames.mkdir()
    for name in sorted(os.listdir(os.path.join(synthetic_videos, "frames", "seq000")))[:3]:
        shutil.copy(os.path.join(synthetic_videos, "frames", "seq000", name), frames / name)
    (frames / "999999.jpg").write_bytes(b"not an image")
    tracker = build_tracker(TrackSettings(min_score=0.0), _estimator(), "dis", COCO_KEYPOINTS)
    with pytest.raises(ImageReadError) as error:
        track_frames(tracker, FrameSource(str(frames)), FrameBoxes("", 0.0), None, 0.2, read_ahead=True)
    assert "999999.jpg" in str(error.value)
