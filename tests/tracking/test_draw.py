"""Pictures of tracks (src/tracking/draw.py, python -m src.tracking.draw): one colour per track, a strip of frames."""
import json

import cv2
import numpy as np

from src.utils.cli import run_cli
from src.tracking.draw import draw_tracks, main, strip, track_colour


def test_each_track_keeps_a_bright_colour_of_its_own():
    colours = [track_colour(i) for i in range(12)]
    assert colours == [track_colour(i) for i in range(12)]       # the same in every frame
    assert len(set(colours)) == 12 and all(max(c) == 255 for c in colours)
    assert all(np.abs(np.subtract(a, b)).sum() > 100 for a, b in zip(colours, colours[1:]))   # neighbours differ


def test_boxes_in_the_tracks_colour_and_the_frame_untouched():
    frame = np.zeros((200, 300, 3), np.uint8)
    poses = np.zeros((2, 17, 3))
    picture = draw_tracks(frame, [3, 8], [[20, 40, 60, 120], [150, 30, 80, 150]], poses, 0.2)
    assert not frame.any() and picture.shape == frame.shape
    assert tuple(picture[100, 20]) == track_colour(3) and tuple(picture[100, 80]) == track_colour(3)
    assert tuple(picture[120, 150]) == track_colour(8) and tuple(picture[179, 200]) == track_colour(8)
    assert not picture[150:195, 90:140].any()                    # between the boxes: nothing


def _tracks(folder, names):
    frames = []
    for index, name in enumerate(names):
        cv2.imwrite(str(folder / name), np.full((60, 80, 3), 40 * index, np.uint8))
        frames.append({"index": index, "file_name": name, "people": [
            {"track_id": 1, "bbox": [10, 10, 30, 40], "keypoints": [0.0] * 51}]})
    return {"frames": frames, "settings": {"in_vis_thre": 0.2}}


def test_strip_of_evenly_spaced_frames(tmp_path):
    tracks = _tracks(tmp_path, [f"{i:06d}.jpg" for i in range(5)])
    picture = strip(tracks, str(tmp_path), count=3, width=480)
    assert picture.shape == (120, 480, 3)                        # three 80×60 frames side by side, resized
    # frames 0, 2 and 4 (grey 0, 80, 160), away from the boxes and captions
    np.testing.assert_allclose([picture[20, 140 + 160 * k] for k in range(3)], [[0] * 3, [80] * 3, [160] * 3],
                               atol=6)


def test_command_line(tmp_path, capsys):
    tracks = _tracks(tmp_path, ["a.jpg", "b.jpg"])
    (tmp_path / "tracks.json").write_text(json.dumps(tracks))
    output = tmp_path / "strip.jpg"
    args = ["--tracks", str(tmp_path / "tracks.json"), "--frames", str(tmp_path), "--width", "320"]
    assert main(args + ["--output", str(output)]) == 0
    assert cv2.imread(str(output)).shape == (120, 320, 3)
    (tmp_path / "b.jpg").unlink()
    assert run_cli(main, args + ["--output", str(output)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read frame ") and "b.jpg" in err and err.count("\n") == 1
