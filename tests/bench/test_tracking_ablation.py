"""bench/tracking_ablation.py: each (frame, box) through the network once, with the person's score rescored for the
box score given; the variants' tables with people and PoseTrack figures on a tiny synthetic video."""
import json
from types import SimpleNamespace

import numpy as np
import pytest

from src.evaluate.coco_eval import rescore
from src.inference.estimator import Poses
from tests.helpers import TINY_CONFIG


@pytest.fixture(name="bench")
def fixture_bench():
    from bench import tracking_ablation  # pylint: disable=import-outside-toplevel
    return tracking_ablation


class CountingEstimator:
    """Joints from the box (its corners and centre), maxima 0.1 to 0.9; counts the boxes it is given."""

    def __init__(self):
        self.settings = SimpleNamespace(in_vis_thre=0.2, num_joints=17)
        self.boxes = 0

    def estimate(self, image, boxes, box_scores):
        self.boxes += len(boxes)
        poses = np.zeros((len(boxes), 17, 3))
        poses[:, :, 0] = boxes[:, :1] + image[0, 0, 0]
        poses[:, :, 1] = boxes[:, 1:2]
        poses[:, :, 2] = np.linspace(0.1, 0.9, 17)
        return Poses(poses, rescore(poses[:, :, 2], box_scores, 0.2), boxes[:, 2] * boxes[:, 3])


def test_pose_memo_runs_each_frame_and_box_once(bench):
    inner = CountingEstimator()
    memo = bench.PoseMemo(inner)
    image, other = np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 5, np.uint8)
    boxes = np.array([[0, 0, 4, 4], [1, 2, 3, 4]], float)
    first = memo.estimate(image, boxes, np.array([0.9, 0.5]))
    again = memo.estimate(image, boxes[::-1], np.array([0.4, 0.8]))
    assert inner.boxes == 2 == memo.boxes_estimated
    np.testing.assert_array_equal(again.poses, first.poses[::-1])
    np.testing.assert_allclose(again.scores, rescore(first.poses[::-1, :, 2], [0.4, 0.8], 0.2))
    np.testing.assert_allclose(first.scores, inner.estimate(image, boxes, np.array([0.9, 0.5])).scores)
    moved = memo.estimate(other, boxes[:1], np.array([0.9]))         # another frame: estimated anew
    assert memo.boxes_estimated == 3 and moved.poses[0, 0, 0] == 5
    assert memo.estimate(image, np.zeros((0, 4)), np.zeros(0)).poses.shape == (0, 17, 3)
    assert memo.boxes_estimated == 3


def test_unknown_variant(bench, tmp_path, capsys):
    with pytest.raises(SystemExit):
        bench.main(["--videos", str(tmp_path), "--output", str(tmp_path), "--variants", "no flow,fast"])
    assert "unknown variant 'fast'; known: no flow, flow similarity" in capsys.readouterr().err


def test_default_variants_are_all_known(bench):
    """The default of --variants (every variant, comma-separated) splits back into the variants' names."""
    assert ",".join(bench.VARIANTS).split(",") == list(bench.VARIANTS)
    assert [bench.folder_name(v) for v in bench.VARIANTS] == ["no_flow", "flow_similarity", "propagated_boxes",
                                                              "both", "both_1_frame_kept", "both_10_frames_kept",
                                                              "both_no_colours", "both_10_kept_no_colours"]


@pytest.mark.slow
def test_ablation_tables(bench, tiny_ckpt, tmp_path, capsys):
    from src.synthetic_video import generate_videos  # pylint: disable=import-outside-toplevel
    videos = tmp_path / "videos"
    generate_videos(str(videos), num_sequences=1, num_frames=4, seed=4, width=240, height=180, posetrack=True)
    args = ["--videos", str(videos), "--output", str(tmp_path / "out"), "--variants", "no flow,both",
            "--config_path", TINY_CONFIG, "--eval_model_file", tiny_ckpt, "--TRACK.MIN_SCORE", "0",
            "--TEST.BATCH_SIZE", "1"]
    assert bench.main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("1 sequences, "))
    assert lines[start + 1].split() == ["variant", "MOTA", "IDF1", "IDsw", "FP", "misses", "AP", "PT", "AP", "PT",
                                        "MOTA"]
    assert lines[start + 2].startswith("no flow ") and lines[start + 3].startswith("both ")
    assert len(lines[start + 3].split()) == 9
    assert lines[start + 4] == "PoseTrack AP, PCKh@0.5 (joints over 0.4):"
    assert lines[start + 5].split() == ["Head", "Shou", "Elb", "Wri", "Hip", "Knee", "Ankl", "Total"]
    assert lines[start + 6].split()[:2] == ["no", "flow"] and len(lines[start + 6].split()) == 10
    assert lines[start + 8] == "PoseTrack MOTA:" and lines[-1].split()[0] == "both"
    assert (tmp_path / "out" / "both" / "posetrack" / "seq000.json").is_file()
    assert (tmp_path / "out" / "no_flow" / "seq000" / "tracks.json").is_file()


@pytest.mark.slow
def test_label_poses_and_the_table_per_kind_of_scene(bench, tmp_path, capsys):
    """With --label_poses no network is loaded: the labels' people are tracked; the family's kinds get a table."""
    from src.synthetic_video import generate_videos  # pylint: disable=import-outside-toplevel
    videos = tmp_path / "videos"
    generate_videos(str(videos), num_sequences=2, num_frames=6, seed=1, width=160, height=120, posetrack=True,
                    scenario="family")
    args = ["--videos", str(videos), "--output", str(tmp_path / "out"), "--variants", "both,both (no colours)",
            "--label_poses", "--config_path", TINY_CONFIG]
    assert bench.main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("2 sequences, ") and line.endswith("no boxes through the network") for line in lines)
    start = lines.index("per kind of scene:")
    assert lines[start + 1].split() == ["kind", "variant", "MOTA", "IDF1", "IDsw", "PT", "MOTA"]
    assert [line.split()[:2] for line in lines[start + 2:]] == [["cross_fast", "both"]] * 2 + \
        [["cross_slow", "both"]] * 2
    assert [len(line.split()) for line in lines[start + 2:]] == [6, 8] * 2


def test_label_poses_take_the_person_with_most_joints_in_sight(bench, tmp_path):
    from src.synthetic_video import generate_videos  # pylint: disable=import-outside-toplevel
    from src.tracking.video import FrameSource  # pylint: disable=import-outside-toplevel
    generate_videos(str(tmp_path), num_sequences=1, num_frames=1, seed=0, width=160, height=120,
                    scenario="crossing")
    ann_file = tmp_path / "annotations" / "cross000.json"
    oracle = bench.LabelPoses(str(tmp_path / "frames" / "cross000"), str(ann_file), 0.2)
    ann = max(json.loads(ann_file.read_text())["annotations"], key=lambda a: a["num_keypoints"])
    labels = np.reshape(ann["keypoints"], (17, 3))
    image = next(iter(FrameSource(str(tmp_path / "frames" / "cross000")))).image
    found = oracle.estimate(image, np.array([ann["bbox"], [0, 0, 2, 2]], float), np.array([0.8, 0.9]))
    np.testing.assert_array_equal(found.poses[0, :, :2], labels[:, :2])
    np.testing.assert_array_equal(found.poses[0, :, 2], np.select([labels[:, 2] == 2, labels[:, 2] == 1],
                                                                  [0.9, 0.4], 0.0))
    assert found.scores[1] == 0 and not found.poses[1].any()          # nobody in a box with no joint in sight
