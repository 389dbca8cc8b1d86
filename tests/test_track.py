"""track.py end to end with the tiny random network (conftest's ``tiny_ckpt``), and its one-line errors."""
import json
import os
import shutil

import cv2
import numpy as np
import pytest

import track
from src.evaluate.coco_eval import rescore
from src.utils.cli import run_cli
from src.tracking.video import VideoWriter
from src.data.posetrack_files import read_video
from src.data.posetrack_joints import POSETRACK_KEYPOINT_NAMES
from tests.helpers import TINY_CONFIG, run_script
from tests.tracking.onnx_models import write_detector

NUM_FRAMES = 4


@pytest.fixture(name="frames")
def fixture_frames(synthetic_videos, tmp_path) -> str:
    """The first frames of a synthetic sequence in a folder of their own."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(1, NUM_FRAMES + 1):
        shutil.copy(os.path.join(synthetic_videos, "frames", "seq000", f"{i:06d}.jpg"), folder)
    return str(folder)


def _check_outputs(out_dir: str, num_frames: int, size) -> dict:
    with open(os.path.join(out_dir, "tracks.json"), encoding="utf-8") as f:
        tracks = json.load(f)
    assert [frame["index"] for frame in tracks["frames"]] == list(range(num_frames))
    for frame in tracks["frames"]:
        for person in frame["people"]:
            assert isinstance(person["track_id"], int) and len(person["keypoints"]) == 51
            assert len(person["bbox"]) == 4
            # The evaluation's rescoring (box score × mean of the joint maxima above TEST.IN_VIS_THRE 0.2); not
            # bounded by 1, as a random network's maxima are not.
            confidences = np.array(person["keypoints"]).reshape(17, 3)[:, 2]
            expected = rescore(confidences[None], [person["box_score"]], 0.2)[0]
            assert person["score"] == pytest.approx(expected, rel=1e-3, abs=1e-3)
    ids = [p["track_id"] for f in tracks["frames"] for p in f["people"]]
    assert ids and min(ids) == 0 and tracks["num_tracks"] == len(set(ids))
    video = cv2.VideoCapture(os.path.join(out_dir, "tracks.mp4"))
    pictures = []
    while True:
        ok, picture = video.read()
        if not ok:
            break
        pictures.append(picture)
    assert len(pictures) == num_frames and pictures[0].shape[1::-1] == size
    return tracks


@pytest.mark.slow
def test_track_folder_with_detections_and_video_file(tiny_ckpt, frames, synthetic_videos, tmp_path, capsys):
    # Batch size 1: a single input shape, so graph mode compiles the network once per run.
    common = ["--config_path", TINY_CONFIG, "--eval_model_file", tiny_ckpt, "--TRACK.MIN_SCORE", "0",
              "--TEST.BATCH_SIZE", "1"]
    detections = os.path.join(synthetic_videos, "detections", "seq000.json")
    out = str(tmp_path / "out")
    assert run_cli(track.main, common + ["--video", frames, "--boxes", detections, "--output", out]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("frames/s: ")
    tracks = _check_outputs(out, NUM_FRAMES, (240, 180))
    assert [f["file_name"] for f in tracks["frames"]] == [f"{i:06d}.jpg" for i in range(1, NUM_FRAMES + 1)]
    with open(detections, encoding="utf-8") as f:
        first = [d for d in json.load(f) if d["image_id"] == 1]
    assert len(tracks["frames"][0]["people"]) <= len(first)

    # A video file, no boxes: the first frame is one whole-image box, then propagation alone.
    video = str(tmp_path / "clip.mp4")
    with VideoWriter(video, 10.0) as writer:
        for name in sorted(os.listdir(frames)):
            writer.write(cv2.imread(os.path.join(frames, name)))
    out = str(tmp_path / "out_video")
    assert run_cli(track.main, common + ["--video", video, "--output", out, "--TRACK.FLOW", "farneback"]) == 0
    tracks = _check_outputs(out, NUM_FRAMES, (240, 180))
    assert [f["file_name"] for f in tracks["frames"]] == [f"{i:06d}" for i in range(NUM_FRAMES)]
    assert len(tracks["frames"][0]["people"]) == 1
    assert tracks["frames"][0]["people"][0]["bbox"] == [0.0, 0.0, 240.0, 180.0]


@pytest.mark.slow
def test_track_with_a_detector_every_other_frame(tiny_ckpt, frames, tmp_path, capsys):
    # A tiny Ultralytics-layout detector with a 96×72 input: the 240×180 frames fit it at scale 0.4 with no
    # padding. One person box, centre (48, 36), 40 × 60 input pixels: [70, 15, 100, 150] in the frames.
    output = np.zeros((1, 6, 147))                    # 4 + 2 classes; 12×9 + 6×5 + 3×3 cells of strides 8, 16, 32
    output[0, :, 7] = [48, 36, 40, 60, 0.9, 0.05]
    detector = write_detector(str(tmp_path / "person.onnx"), output, input_shape=[1, 3, 72, 96])
    out = str(tmp_path / "out")
    args = ["--config_path", TINY_CONFIG, "--eval_model_file", tiny_ckpt, "--TRACK.MIN_SCORE", "0",
            "--TEST.BATCH_SIZE", "1", "--video", frames, "--detector", detector, "--TRACK.DETECTOR_EVERY", "2",
            "--output", out]
    assert run_cli(track.main, args) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("frames/s: ")
    tracks = _check_outputs(out, NUM_FRAMES, (240, 180))
    for frame in tracks["frames"][::2]:             # detector frames: its box, with its score
        detected = [p for p in frame["people"] if not p["propagated"]]
        assert [(p["bbox"], p["box_score"]) for p in detected] == [([70.0, 15.0, 100.0, 150.0], pytest.approx(0.9))]
    for frame in tracks["frames"][1::2]:            # between them: only boxes propagated along the flow
        assert all(p["propagated"] for p in frame["people"])


@pytest.mark.parametrize("args, message", [
    ([], "no video: pass --video"),
    (["--video", "{tmp}/none.mp4"], "video not found: '{tmp}/none.mp4'"),
    (["--video", "{tmp}/notes.txt"], "cannot open '{tmp}/notes.txt' as a video"),
    (["--video", "{frames}", "--TRACK.KEEP_FRAMES", "0"], "--TRACK.KEEP_FRAMES: expected an integer >= 1, got 0"),
    (["--video", "{frames}", "--TRACK.SIMILARITY_THRE", "1.5"], "--TRACK.SIMILARITY_THRE: expected a number in [0, 1], got 1.5"),
    (["--video", "{frames}", "--boxes", "{tmp}/none.json"], "boxes file not found"),
    (["--video", "{frames}", "--boxes", "[[1, 2, 3]]"], "4 numbers"),
    (["--video", "{frames}", "--TRACK.FLOW", "lk"], "--TRACK.FLOW: expected one of ['dis', 'farneback'], got 'lk'"),
    (["--video", "{frames}", "--detector", "{tmp}/none.onnx"], "detector model not found: '{tmp}/none.onnx'"),
    (["--video", "{frames}", "--detector", "{tmp}/notes.txt"], "detector {tmp}/notes.txt: not an ONNX model"),
    (["--video", "{frames}", "--detector", "{tmp}/odd.onnx"], "detector {tmp}/odd.onnx: unknown output layout"),
    (["--video", "{frames}", "--TRACK.DETECTOR_LAYOUT", "yolov7"], "--TRACK.DETECTOR_LAYOUT: expected one of"),
    (["--video", "{frames}", "--gt", "{tmp}/none.json"], "PoseTrack ground truth not found: '{tmp}/none.json'"),
    (["--video", "{frames}", "--gt", "{tmp}/notes.txt"], "ground-truth file {tmp}/notes.txt is not valid JSON"),
    (["--video", "{frames}", "--TRACK.POSETRACK_JOINT_THRE", "1.5"],
     "--TRACK.POSETRACK_JOINT_THRE: expected a number in [0, 1], got 1.5"),
    (["--video", "{frames}", "--MODEL.NUM_JOINTS", "16"], "MODEL.NUM_JOINTS 16: DATASET.DATASET coco has 17"),
])
def test_one_line_errors(args, message, frames, tmp_path, capsys):
    ckpt = tmp_path / "fake.ckpt"
    ckpt.write_bytes(b"not read before the inputs are checked")
    (tmp_path / "notes.txt").write_text("not a video")
    write_detector(str(tmp_path / "odd.onnx"), np.zeros((1, 5, 7)))
    words = [w.format(tmp=tmp_path, frames=frames) for w in args]
    assert run_cli(track.main, ["--config_path", TINY_CONFIG, "--eval_model_file", str(ckpt), *words]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert message.format(tmp=tmp_path) in err


def test_missing_checkpoint(tmp_path, capsys):
    assert run_cli(track.main, ["--eval_model_file", str(tmp_path / "no.ckpt"), "--video", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"error: checkpoint not found: {tmp_path / 'no.ckpt'} (TEST.MODEL_FILE)\n"


@pytest.mark.slow
def test_the_papers_pipeline_with_a_posetrack_network(synthetic_posetrack, tiny_ckpt, tmp_path, capsys):
    """train.py fine-tunes the COCO network on PoseTrack's joints; track.py --gt tracks with it in those joints: the
    tracks, the pictures and the PoseTrack predictions hold the network's own poses, not converted ones."""
    ckpt_dir = tmp_path / "ckpt"
    trained = run_script("train.py", ["--config_path", TINY_CONFIG, "--dataset_path", synthetic_posetrack,
                                      "--ckpt_save_dir", str(ckpt_dir), "--DATASET.DATASET", "posetrack",
                                      "--DATASET.TRAIN_SET", "posetrack18", "--TRAIN.INIT_FROM", tiny_ckpt,
                                      "--TRAIN.SINK_MODE", "False"])
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    ckpt = str(ckpt_dir / "simplepose-1_6.ckpt")
    gt = os.path.join(synthetic_posetrack, "posetrack18", "seq000.json")
    out = str(tmp_path / "out")
    args = ["--config_path", TINY_CONFIG, "--eval_model_file", ckpt, "--DATASET.DATASET", "posetrack",
            "--TRACK.MIN_SCORE", "0", "--TEST.BATCH_SIZE", "1", "--video",
            os.path.join(synthetic_posetrack, "frames", "seq000"), "--boxes",
            os.path.join(synthetic_posetrack, "detections", "seq000.json"), "--gt", gt,
            "--TRACK.POSETRACK_JOINT_THRE", "0", "--output", out]
    assert run_cli(track.main, args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-2].startswith("Total AP: ") and lines[-1].startswith("Total MOTA: ")
    tracks = _check_outputs(out, 8, (240, 180))
    assert tracks["joints"] == "posetrack" and tracks["keypoint_names"] == list(POSETRACK_KEYPOINT_NAMES)
    predictions = read_video(os.path.join(out, "seq000.json"), predictions=True)
    for frame, predicted in zip(tracks["frames"], predictions.frames):
        assert sorted(predicted.track_ids.tolist()) == sorted(p["track_id"] for p in frame["people"])
        for person in frame["people"]:   # the network's joints as they are: nothing converted, no head guessed
            k = predicted.track_ids.tolist().index(person["track_id"])
            present = predicted.present[k]
            assert present[1:3].all()        # head bottom and top, where a COCO network has its eyes
            np.testing.assert_allclose(predicted.poses[k][present], np.reshape(person["keypoints"], (17, 3))[present],
                                       atol=1e-3)
