"""Frames in and video out (src/tracking/video.py): folders and video files, boxes per frame, the .mp4 writer."""
import json
import os

import cv2
import numpy as np
import pytest

from src.errors import BoxesError, UserError, VideoError
from src.tracking.video import Frame, FrameBoxes, FrameSource, VideoWriter


def frame(index, name="x.jpg", image_id=0, size=(40, 30)):
    return Frame(index, name, image_id, np.zeros((size[1], size[0], 3), np.uint8))


def test_a_folder_gives_its_images_in_name_order_with_coco_ids(tmp_path):
    for name, value in (("000000000012.jpg", 10), ("b.png", 20), ("a.png", 30)):
        cv2.imwrite(str(tmp_path / name), np.full((6, 8, 3), value, np.uint8))
    (tmp_path / "notes.txt").write_text("not a frame")
    source = FrameSource(str(tmp_path))
    frames = list(source)
    assert source.count == 3 and source.fps is None
    assert [(f.index, f.name, f.image_id) for f in frames] == [(0, "000000000012.jpg", 12), (1, "a.png", 1),
                                                               (2, "b.png", 2)]
    assert [int(f.image[0, 0, 0]) for f in frames[1:]] == [30, 20] and frames[0].image.shape == (6, 8, 3)


def test_a_video_file_written_then_read(tmp_path):
    path = str(tmp_path / "clip.mp4")
    with VideoWriter(path, 12.0) as writer:
        for value in (0, 80, 160):
            writer.write(np.full((48, 64, 3), value, np.uint8))
        writer.write(np.full((24, 32, 3), 240, np.uint8))   # another size: resized to the first
    source = FrameSource(path)
    assert source.count == 4 and source.fps == pytest.approx(12.0)
    frames = list(source)
    assert [(f.index, f.name, f.image_id) for f in frames] == [(i, f"{i:06d}", i) for i in range(4)]
    assert all(f.image.shape == (48, 64, 3) for f in frames)
    np.testing.assert_allclose([f.image.mean() for f in frames], [0, 80, 160, 240], atol=8)   # lossy, but close
    assert os.listdir(tmp_path) == ["clip.mp4"]


def test_a_video_is_put_in_place_only_when_complete(tmp_path):
    path = str(tmp_path / "clip.mp4")
    with pytest.raises(RuntimeError):
        with VideoWriter(path, 12.0) as writer:
            writer.write(np.zeros((48, 64, 3), np.uint8))
            assert os.listdir(tmp_path) == [".clip.partial.mp4"]   # what a killed run leaves
            raise RuntimeError("the tracking failed")
    assert os.listdir(tmp_path) == []
    writer = VideoWriter(path, 12.0)
    writer.write(np.zeros((48, 64, 3), np.uint8))
    assert not os.path.exists(path)
    writer.close()
    assert os.listdir(tmp_path) == ["clip.mp4"] and FrameSource(path).count == 1


def test_what_is_not_a_video(tmp_path):
    with pytest.raises(FileNotFoundError, match="video not found: '.*none.mp4'"):
        FrameSource(str(tmp_path / "none.mp4"))
    (tmp_path / "notes.txt").write_text("not a video")
    with pytest.raises(VideoError, match="cannot open '.*notes.txt' as a video"):
        FrameSource(str(tmp_path / "notes.txt"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError):
        FrameSource(str(tmp_path / "empty"))


def test_boxes_of_the_first_frame_or_the_whole_of_it():
    whole = FrameBoxes("", 0.0)
    boxes, scores = whole(frame(0))
    np.testing.assert_array_equal(boxes, [[0, 0, 40, 30]])
    np.testing.assert_array_equal(scores, [1])
    assert whole(frame(1))[0].shape == (0, 4)               # later frames: propagation only
    given = FrameBoxes("[[1, 2, 3, 4], [5, 6, 7, 8, 0.05]]", 0.1)
    boxes, scores = given(frame(0))
    np.testing.assert_array_equal(boxes, [[1, 2, 3, 4]])
    assert given(frame(1))[0].shape == (0, 4)


def test_boxes_from_a_detection_file_by_name_then_id(tmp_path):
    dets = [{"file_name": "clip/a.jpg", "bbox": [0, 0, 10, 20], "score": 0.9, "category_id": 1},
            {"image_id": 5, "bbox": [1, 1, 5, 5], "score": 0.8, "category_id": 1},
            {"image_id": 5, "bbox": [2, 2, 5, 5], "score": 0.01, "category_id": 1}]
    path = tmp_path / "dets.json"
    path.write_text(json.dumps(dets))
    boxes = FrameBoxes(str(path), 0.1)
    np.testing.assert_array_equal(boxes(frame(3, "a.jpg", 5))[0], [[0, 0, 10, 20]])   # the name wins
    found, scores = boxes(frame(4, "b.jpg", 5))
    np.testing.assert_array_equal(found, [[1, 1, 5, 5]])
    np.testing.assert_allclose(scores, [0.8])
    assert boxes(frame(0, "c.jpg", 9))[0].shape == (0, 4)
    path.write_text(json.dumps([{"image_id": 1, "bbox": [0, 0, 0, 4], "score": 1.0}]))
    with pytest.raises(BoxesError, match="widths and heights must be positive"):
        FrameBoxes(str(path), 0.0)(frame(0, "x.jpg", 1))
    with pytest.raises(FileNotFoundError, match="boxes file not found"):
        FrameBoxes(str(tmp_path / "none.json"), 0.0)
