"""tracks.json (src/tracking/tracks_file.py): written and read back, its errors, atomic writes, its people's poses."""
import os

import numpy as np
import pytest

from src.constants import COCO_KEYPOINTS, TRACKS_FILE
from src.data.posetrack_joints import POSETRACK_KEYPOINTS
from src.errors import TrackingFilesError
from src.tracking.tracker import People, TrackSettings
from src.tracking.tracks_file import as_poses, frame_record, read_tracks, tracks_keypoints, write_tracks
from src.tracking.video import Frame


def _people() -> People:
    poses = np.arange(2 * 17 * 3, dtype=np.float64).reshape(2, 17, 3) / 7
    return People(np.array([3, 5]), np.array([[1.004, 2.0, 30.0, 60.0], [5.0, 6.0, 20.0, 40.0]]),
                  np.array([0.9, 0.8]), np.array([0.7, 0.6]), poses, np.array([1800.0, 800.0]),
                  np.array([False, True]))


def test_round_trip(tmp_path):
    frame = Frame(4, "000004.jpg", 4, np.zeros((2, 2, 3), np.uint8))
    frames = [frame_record(frame, _people()), frame_record(frame._replace(index=5, image_id=5), People.empty())]
    path = str(tmp_path / TRACKS_FILE)
    assert write_tracks(path, "video.mp4", "model.ckpt", TrackSettings(), "dis", frames) == 2
    doc = read_tracks(path)
    assert doc["video"] == "video.mp4" and doc["model_file"] == "model.ckpt" and doc["num_tracks"] == 2
    assert doc["settings"] == {**TrackSettings()._asdict(), "flow": "dis"}
    first = doc["frames"][0]
    assert (first["index"], first["file_name"], first["image_id"]) == (4, "000004.jpg", 4)
    person = first["people"][0]
    assert person["track_id"] == 3 and person["bbox"] == [1.0, 2.0, 30.0, 60.0] and person["propagated"] is False
    np.testing.assert_allclose(np.reshape(person["keypoints"], (17, 3)), _people().poses[0], atol=5e-5)
    assert first["people"][1]["propagated"] is True and doc["frames"][1]["people"] == []
    assert os.listdir(tmp_path) == [TRACKS_FILE]   # no temporary file left
    assert doc["joints"] == "coco" and tracks_keypoints(doc) == COCO_KEYPOINTS


def test_the_networks_joints_are_named(tmp_path):
    path = str(tmp_path / TRACKS_FILE)
    write_tracks(path, "v", "m", TrackSettings(), "dis", [], POSETRACK_KEYPOINTS)
    doc = read_tracks(path)
    assert doc["joints"] == "posetrack" and doc["keypoint_names"] == list(POSETRACK_KEYPOINTS.keypoint_names)
    assert tracks_keypoints(doc) == POSETRACK_KEYPOINTS
    assert tracks_keypoints({"frames": []}) == COCO_KEYPOINTS        # files from before the key hold COCO's
    (tmp_path / "odd.json").write_text('{"frames": [], "joints": "mpii"}')
    with pytest.raises(TrackingFilesError, match="joints 'mpii' are none of"):
        read_tracks(str(tmp_path / "odd.json"))


def test_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="tracks file not found"):
        read_tracks(str(tmp_path / "none.json"))
    path = tmp_path / "t.json"
    path.write_text('{"frames": {}}')
    with pytest.raises(TrackingFilesError, match="is not a tracks.json of track.py"):
        read_tracks(str(path))
    path.write_text('{"frames": [')
    with pytest.raises(TrackingFilesError, match=f"tracks file {path} is not valid JSON"):
        read_tracks(str(path))


def test_flat_keypoint_rows_as_poses():
    np.testing.assert_array_equal(as_poses([list(range(51)), list(range(51, 102))]),
                                  np.arange(102).reshape(2, 17, 3))
    assert as_poses([]).shape == (0, 17, 3)
