"""PoseTrack's evaluation (src/evaluate/posetrack_eval.py): the command on hand-made prediction files and its
one-line errors; the pose network's predictions of a hand-made split (rescoring, OKS-NMS, files, AP)."""
import json
import os
import shutil

import numpy as np
import pytest

from src.data.posetrack_files import EVAL_JOINT_NAMES, PoseVideo, read_video, write_video
from src.data.posetrack_records import ground_truth_records, read_split
from src.evaluate import posetrack_eval
from src.evaluate.posetrack_eval import evaluate_poses, pair_videos, prediction_videos
from src.evaluate.posetrack_metrics import score_videos
from src.utils.cli import run_cli
from tests.data.posetrack_split import person_pose, present, write_split
from tests.evaluate.posetrack_videos import J_LEFT_WRIST, LEFT_WRIST, frame, gt_video, pred_video


# ---------------------------------------------------------------------------------------------- the command

def _write_pair(tmp_path, pred: PoseVideo, name: str = "v.json"):
    write_video(str(tmp_path / "gt" / name), gt_video())
    write_video(str(tmp_path / "pred" / name), pred, predictions=True)


def test_command_prints_the_tables_and_ends_with_the_totals(tmp_path, capsys):
    pred = pred_video()
    pred.frames[1].present[0, LEFT_WRIST] = False
    _write_pair(tmp_path, pred)
    _write_pair(tmp_path, pred_video(), "w.json")
    (tmp_path / "pred" / "tracks.json").write_text('{"frames": []}')          # track.py's own file: passed over
    assert run_cli(posetrack_eval.main, ["--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "Average Precision (AP), PCKh@0.5 (2 videos, 8 frames):"
    assert lines[1].split() == ["Head", "Shou", "Elb", "Wri", "Hip", "Knee", "Ankl", "Total"]
    assert lines[2].split() == ["100.0"] * 3 + ["96.9", "100.0", "100.0", "100.0", "99.6"]
    assert lines[4].split() == ["MOTA"] * 8 + ["MOTP", "Prec", "Rec"]
    assert lines[6].split() == ["100.0"] * 3 + ["96.9", "100.0", "100.0", "100.0", "99.6", "100.0", "100.0", "99.6"]
    total_ap = (14 * 100 + 100 * 15 / 16) / 15
    assert lines[-2:] == [f"Total AP: {total_ap:.4f}", f"Total MOTA: {total_ap:.4f}"]
    with open(tmp_path / "pred" / "posetrack_eval" / "posetrack_metrics.json", encoding="utf-8") as f:
        saved = json.load(f)
    assert saved["joints"] == list(EVAL_JOINT_NAMES) and saved["ap"][J_LEFT_WRIST] == 93.75
    assert saved["counts"]["misses"][J_LEFT_WRIST] == 1 and saved["total"]["ap"] == pytest.approx(total_ap)


@pytest.mark.parametrize("setup,words", [
    ("extra", "{pred}/x.json: no ground truth of this video (no x.json among the ground-truth files)"),
    ("missing", "{gt}/w.json: no predictions for this video (w.json is not among the prediction files"),
    ("frame", "{pred}/v.json: frame images/v/000009.jpg is not in {gt}/v.json"),
    ("no scores", "{pred}/v.json: annotation 1 has no 'scores'"),
    ("empty", "no .json file in {pred}"),
])
def test_command_errors_are_one_line(tmp_path, capsys, setup, words):
    _write_pair(tmp_path, pred_video())
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    if setup == "extra":
        write_video(str(pred / "x.json"), pred_video(), predictions=True)
    elif setup == "missing":
        write_video(str(gt / "w.json"), gt_video())
    elif setup == "frame":
        video = pred_video()
        video.frames[0] = frame(9, [5], [0.0])
        write_video(str(pred / "v.json"), video, predictions=True)
    elif setup == "no scores":
        write_video(str(pred / "v.json"), pred_video())
    else:
        shutil.rmtree(pred)
        pred.mkdir()
    assert run_cli(posetrack_eval.main, ["--gt", str(gt), "--pred", str(pred)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {words.format(pred=pred, gt=gt)}") and err.count("\n") == 1


# ---------------------------------------------------------------------------------------------- the network's poses

@pytest.fixture(name="root")
def fixture_root(tmp_path):
    return write_split(tmp_path)


def test_prediction_videos_have_every_frame_and_the_people_by_score(root):
    split = read_split(root, "val")
    preds = np.stack([person_pose(10, 20), person_pose(50, 20), person_pose(30, 40)])
    videos = prediction_videos(split, preds, np.array([0.2, 0.7, 0.5]), np.array([0, 0, 3]))
    assert [v.name for v in videos] == ["a.json", "b.json"] and [len(v.frames) for v in videos] == [3, 1]
    first = videos[0].frames[0]
    assert first.name == "images/val/a/000000.jpg" and first.image_id == 10000
    assert first.track_ids.tolist() == [0, 1] and first.scores.tolist() == [0.7, 0.2]
    np.testing.assert_array_equal(first.poses[0], person_pose(50, 20))
    assert (first.present == present()).all()             # the ears are not written
    assert len(videos[0].frames[1].track_ids) == 0 and not videos[0].frames[1].labelled
    assert videos[1].frames[0].track_ids.tolist() == [0]


def _gt_rows(split, noise=0.0):
    """Predictions at the labelled joints (``noise`` pixels off; the others scoring 0), boxes of scale 1 (area
    200²)."""
    records = ground_truth_records(split)
    preds = records.joints.astype(np.float64).copy()
    preds[:, :, :2] += noise
    preds[:, :, 2] = 0.9 * records.joints_vis[:, :, 0]
    boxes = np.zeros((len(preds), 6))
    boxes[:, 2:4], boxes[:, 4], boxes[:, 5] = 1.0, 200.0 ** 2, 1.0
    return preds, boxes, records.image_ids


def test_the_labelled_poses_score_100_and_the_files_give_the_same_ap(root, tmp_path):
    split = read_split(root, "val")
    preds, boxes, numbers = _gt_rows(split)
    result = evaluate_poses(split, preds, str(tmp_path / "results"), boxes, numbers, 0.2, 0.9)
    assert result.total_ap == pytest.approx(100.0) and result.frames == 3 and np.isnan(result.total_mota)
    files = sorted(os.listdir(tmp_path / "results" / "posetrack_predictions"))
    assert files == ["a.json", "b.json"]
    again = score_videos(pair_videos([os.path.join(root, "annotations", "val")],
                                           [str(tmp_path / "results" / "posetrack_predictions")]))
    np.testing.assert_array_equal(again.ap, result.ap)
    with open(tmp_path / "results" / "posetrack_metrics.json", encoding="utf-8") as f:
        assert json.load(f)["total"]["ap"] == pytest.approx(100.0)
    # 20 pixels off misses every joint (heads of 10 pixels: PCKh@0.5 is 0.6 × 14.1 × 0.5 = 4.2 pixels): AP 0.
    preds, boxes, numbers = _gt_rows(split, 20.0)
    assert evaluate_poses(split, preds, str(tmp_path / "far"), boxes, numbers, 0.2, 0.9).total_ap == 0.0


def test_duplicates_are_removed_by_oks_nms_over_the_labelled_joints(root, tmp_path):
    """Each person predicted twice: a copy half a pixel off scoring a little higher, whose ears (never labelled)
    are far away. OKS-NMS over the labelled joints keeps the copies only (AP 100); over all 17, or without NMS,
    the originals would be false positives ranked above other people's true ones."""
    split = read_split(root, "val")
    preds, boxes, numbers = _gt_rows(split)
    preds[:, :, 2] *= np.linspace(1.0, 0.3, len(preds))[:, None]
    copies = preds + [0.5, 0.5, 0.0]
    copies[:, :, 2] += 0.01 * (copies[:, :, 2] > 0)
    copies[:, 3:5, :2] = 1000.0
    result = evaluate_poses(split, np.concatenate([preds, copies]), str(tmp_path),
                                        np.concatenate([boxes, boxes]), np.concatenate([numbers, numbers]), 0.2, 0.9)
    assert result.total_ap == pytest.approx(100.0)
    video = read_video(str(tmp_path / "posetrack_predictions" / "a.json"), predictions=True)
    assert [len(frame.track_ids) for frame in video.frames] == [2, 0, 1]
    np.testing.assert_allclose(video.frames[0].poses[0, 0, :2], preds[0, 0, :2] + 0.5)       # a copy
    # The same predictions without NMS score lower: the test can tell.
    kept_all = prediction_videos(split, np.concatenate([preds, copies]),
                                                   np.concatenate([preds, copies])[:, 0, 2],
                                                   np.concatenate([numbers, numbers]))
    assert score_videos(list(zip(split.videos, kept_all)), mot=False).total_ap < 99.0

