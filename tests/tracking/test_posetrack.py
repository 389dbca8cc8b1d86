"""track.py's tracks as PoseTrack predictions (src/tracking/posetrack.py): with and without ground truth, the
command, and the whole path on a synthetic video: PoseTrack ground truth → track.py → predictions → the
benchmark's table."""
import json
import os

import numpy as np
import pytest

import track
from src.data.posetrack_files import PoseFrame, PoseVideo, read_video, write_video
from src.data.posetrack_joints import posetrack_from_coco
from src.errors import PoseTrackFormatError, TrackingFilesError
from src.evaluate import posetrack_eval
from src.tracking import posetrack
from src.tracking.posetrack import predictions_from_tracks, write_predictions
from src.utils.cli import run_cli
from tests.helpers import TINY_CONFIG


def _tracks(ids=(0, 1), names=("000001.jpg", "000002.jpg", "extra.jpg")):
    rng = np.random.default_rng(2)
    frames = []
    for k, name in enumerate(names):
        people = [{"track_id": i, "bbox": [1, 2, 3, 4], "score": 0.8, "box_score": 1.0,
                   "keypoints": np.column_stack([rng.uniform(0, 100, (17, 2)), np.full(17, 0.1 + 0.4 * p)])
                   .reshape(-1).tolist()} for p, i in enumerate(ids)]
        frames.append({"index": k, "file_name": name, "image_id": k + 1, "people": people})
    return {"video": "data/frames/seq007", "frames": frames}


def test_tracks_as_predictions_with_ground_truth():
    gt_frames = [PoseFrame.empty(f"frames/seq007/{k + 1:06d}.jpg", 100 + k, labelled=k != 2, frame_id=100 + k)
                 for k in range(4)]
    gt = PoseVideo("/data/gt/seq007.json", 2017, gt_frames)
    tracks = _tracks(ids=(5, 1200))
    video = predictions_from_tracks(tracks, gt, joint_thre=0.3)
    assert video.name == "seq007.json" and video.version == 2017
    assert [(f.name, f.image_id, f.labelled, f.extra) for f in video.frames] == \
        [(f.name, f.image_id, f.labelled, f.extra) for f in gt.frames]
    first = video.frames[0]
    assert first.track_ids.tolist() == [0, 1]                  # ids over 999: renumbered by first appearance
    coco = np.array(tracks["frames"][0]["people"][1]["keypoints"]).reshape(1, 17, 3)
    np.testing.assert_allclose(first.poses[1], posetrack_from_coco(coco)[0])
    assert not first.present[0].any() and first.present[1].all()   # scores 0.1 and 0.5 against 0.3
    np.testing.assert_allclose(first.boxes, [[1, 2, 3, 4]] * 2)
    assert len(video.frames[2].track_ids) == 0 and len(video.frames[3].track_ids) == 0
    with pytest.raises(PoseTrackFormatError, match="no frame of t.json is in /data/gt/seq007.json"):
        predictions_from_tracks(_tracks(names=("x.jpg",)), gt, tracks_path="t.json")


def test_posetrack_joints_are_written_as_they_are():
    tracks = {**_tracks(), "joints": "posetrack"}
    video = predictions_from_tracks(tracks)
    np.testing.assert_allclose(video.frames[0].poses[1],
                               np.reshape(tracks["frames"][0]["people"][1]["keypoints"], (17, 3)))


def test_tracks_as_predictions_without_ground_truth(tmp_path):
    video = predictions_from_tracks(_tracks(ids=(3, 4)))
    assert video.name == "seq007.json" and video.version == 2018 and len(video.frames) == 3
    assert [f.image_id for f in video.frames] == [0, 1, 2] and video.frames[0].track_ids.tolist() == [3, 4]
    assert video.frames[1].extra == {"frame_id": 1, "vid_id": "seq007", "nframes": 3}
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"frames": {}}))
    with pytest.raises(TrackingFilesError, match="not a tracks.json of track.py"):
        posetrack.write_predictions(str(path), str(tmp_path))


def test_command_writes_predictions_named_as_the_ground_truth(tmp_path, capsys):
    gt = PoseVideo("gt.json", 2018, [PoseFrame.empty("frames/seq007/000001.jpg", 1),
                                     PoseFrame.empty("frames/seq007/000002.jpg", 2)])
    gt_path = write_video(str(tmp_path / "gt" / "seq007.json"), gt)
    tracks_path = tmp_path / "out" / "tracks.json"
    tracks_path.parent.mkdir()
    tracks_path.write_text(json.dumps(_tracks()))
    assert run_cli(posetrack.main, ["--tracks", str(tracks_path), "--gt", gt_path, "--joint_thre", "0.2"]) == 0
    written = read_video(str(tmp_path / "out" / "seq007.json"), predictions=True)
    assert [len(f.track_ids) for f in written.frames] == [2, 2]
    assert written.frames[0].present[0].sum() == 0 and written.frames[0].present[1].sum() == 17
    assert run_cli(posetrack.main, ["--tracks", str(tracks_path), "--format", "2017", "--output",
                                    str(tmp_path / "o17")]) == 0
    assert read_video(str(tmp_path / "o17" / "seq007.json"), predictions=True).version == 2017
    assert run_cli(posetrack.main, ["--tracks", str(tmp_path / "none.json")]) == 2
    assert capsys.readouterr().err.startswith("error: tracks file not found: ")
    assert os.path.isfile(tmp_path / "o17" / "seq007.json")


@pytest.mark.slow
def test_synthetic_video_through_track_py_to_the_benchmark_table(tmp_path, tiny_ckpt, capsys):
    """A synthetic video written as PoseTrack ground truth, tracked by track.py --gt (the tiny random network):
    its predictions beside tracks.json under the ground truth's name, the table printed as posetrack_eval prints
    it for them; the labels themselves, as predictions, score 100."""
    from src.synthetic_video import generate_videos  # pylint: disable=import-outside-toplevel
    root = tmp_path / "videos"
    generate_videos(str(root), num_sequences=1, num_frames=4, seed=4, width=240, height=180, posetrack=True)
    gt = root / "posetrack18" / "seq000.json"
    out = tmp_path / "track"
    argv = ["--config_path", TINY_CONFIG, "--eval_model_file", tiny_ckpt, "--TRACK.MIN_SCORE", "0",
            "--TEST.BATCH_SIZE", "1", "--TRACK.WRITE_VIDEO", "False", "--video", str(root / "frames" / "seq000"),
            "--boxes", str(root / "detections" / "seq000.json"), "--output", str(out), "--gt", str(gt),
            "--TRACK.POSETRACK_JOINT_THRE", "0.1"]
    assert run_cli(track.main, argv) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    table = printed.index("Average Precision (AP), PCKh@0.5 (1 videos, 4 frames):")
    assert any(line.startswith("frames/s: ") for line in printed[:table]) and printed[-2].startswith("Total AP: ")
    assert sorted(os.listdir(out)) == ["posetrack_metrics.json", "seq000.json", "tracks.json"]
    written = read_video(str(out / "seq000.json"), predictions=True)
    assert written.version == 2018 and [f.name for f in written.frames] == [f.name for f in read_video(str(gt)).frames]
    expected = write_predictions(str(out / "tracks.json"), str(tmp_path / "again"), str(gt), joint_thre=0.1)
    with open(expected, encoding="utf-8") as f, open(out / "seq000.json", encoding="utf-8") as g:
        assert json.load(f) == json.load(g)
    assert any(f.present.any() for f in written.frames)
    assert all((f.poses[f.present][:, 2] > 0.1).all() for f in written.frames)
    assert run_cli(posetrack_eval.main, ["--gt", str(gt.parent), "--pred", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert printed[table:] == lines[-len(printed[table:]):]
    ap, mota = float(lines[-2].split(": ")[1]), float(lines[-1].split(": ")[1])
    assert 0.0 <= ap <= 100.0 and mota <= 100.0
    assert "Multiple Object Tracking (MOT):" in lines
    # The labels as predictions: perfect.
    labels = read_video(str(gt))
    write_video(str(tmp_path / "labels" / "seq000.json"), labels, predictions=True)
    assert run_cli(posetrack_eval.main, ["--gt", str(gt), "--pred", str(tmp_path / "labels")]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-2:] == ["Total AP: 100.0000", "Total MOTA: 100.0000"]
