"""PoseTrack's benchmark metrics (src/evaluate/posetrack_metrics.py) on hand-made videos whose figures are worked
out by hand (tests/evaluate/posetrack_videos.py), and the pieces (head size, PCKh assignment, VOC AP, totals)."""
import numpy as np
import pytest

from src.data.posetrack_files import EVAL_JOINT_NAMES, PoseVideo, read_video, write_video
from src.evaluate import posetrack_metrics
from src.evaluate.posetrack_metrics import (assign_people, average_precision, grouped, head_sizes, joint_distances,
                                            mot_figures, score_videos, total)
from tests.evaluate.posetrack_videos import (FRAMES, J_LEFT_WRIST, LEFT_ANKLE, LEFT_WRIST, OFFSETS, TEMPLATE, frame,
                                             gt_video, pred_video)


def run(pred: PoseVideo, gt: PoseVideo = None, quirks: bool = False):
    return score_videos([(gt or gt_video(), pred)], poseval_quirks=quirks)


def only(values, joint, value, others=100.0):
    """15 figures: ``value`` at ``joint`` (an index into the scored joints), ``others`` elsewhere."""
    out = np.full(15, others)
    out[joint] = value
    return out


# ---------------------------------------------------------------------------------------------- the pieces

def test_head_size_is_six_tenths_of_the_head_box_diagonal():
    np.testing.assert_allclose(head_sizes([[0, 0, 30, 40], [10, 10, 13, 14]]), [30.0, 3.0])


def test_distances_in_head_sizes_and_inf_where_a_joint_is_missing():
    gt = frame(0, [0], [0], gt=True)
    pred = frame(0, [9], [0])
    pred.poses[0, LEFT_WRIST, :2] += [9, 12]                 # 15 px: half a head size
    pred.present[0, LEFT_ANKLE] = False
    dist = joint_distances(gt, pred)
    assert dist.shape == (1, 1, 15)
    assert dist[0, 0, J_LEFT_WRIST] == 0.5 and dist[0, 0, EVAL_JOINT_NAMES.index("left_ankle")] == np.inf
    assert np.count_nonzero(dist == 0) == 13


def test_people_assignment_by_pckh():
    # Two predictions on person 0 (PCKh 1 and 0.8), one on both (0.8 on 0, 0.6 on 1), one on nobody.
    match = np.zeros((4, 2, 15), bool)
    match[0, 0] = True
    match[1, 0, :12] = True
    match[2, 0, :12], match[2, 1, :9] = True, True
    dist = np.where(match, 0.1, np.inf)
    gt_present = np.ones((2, 15), bool)
    # Each prediction is paired with its best person; person 0 keeps prediction 0; prediction 2, paired with
    # person 0, is not given person 1, whom nobody else wants (the benchmark's rule).
    np.testing.assert_array_equal(assign_people(dist, gt_present), [0, -1, -1, -1])
    # PCKh counts a person's labelled joints only: with 9 labelled, prediction 2 has all of person 1's.
    gt_present[1, 9:] = False
    np.testing.assert_array_equal(assign_people(dist, gt_present), [0, -1, 1, -1])
    # Ties go to the first prediction.
    np.testing.assert_array_equal(assign_people(dist[[1, 1]], gt_present), [0, -1])
    assert assign_people(np.zeros((0, 2, 15)), gt_present).shape == (0,)


def test_average_precision_by_hand():
    # Ranked: TP, FP, TP of 4 labels: precision 1, 1/2, 2/3 at recall 1/4, 1/4, 1/2; interpolated, AP = 1/4 × 1
    # + 1/4 × 2/3.
    ap, precision, recall = average_precision(np.array([0.7, 0.9, 0.8]), np.array([True, True, False]), 4)
    assert ap == pytest.approx(0.25 + 0.25 * 2 / 3) and precision == pytest.approx(2 / 3) and recall == 0.5
    assert average_precision(np.array([0.5]), np.array([True]), 1) == (1.0, 1.0, 1.0)
    assert average_precision(np.zeros(0), np.zeros(0, bool), 3) == (0.0, 0.0, 0.0)
    assert np.isnan(average_precision(np.array([0.5]), np.array([False]), 0)[0])


def test_mot_figures_and_where_nothing_is_labelled_or_predicted():
    counts = {"num_objects": np.array([4.0, 0, 2]), "num_detections": np.array([3.0, 0, 0]),
              "num_misses": np.array([1.0, 0, 2]), "num_false_positives": np.array([1.0, 3, 0]),
              "num_switches": np.array([1.0, 0, 0]), "distance": np.array([0.6, 0, 0])}
    mota, motp, precision, recall = mot_figures(counts)
    np.testing.assert_allclose(mota, [1 - 3 / 4, np.nan, 0.0])
    np.testing.assert_allclose(motp, [1 - 0.6 / 3, 0.0, 0.0])
    np.testing.assert_allclose(precision, [3 / 4, 0.0, np.nan])
    np.testing.assert_allclose(recall, [3 / 4, np.nan, 0.0])


def test_totals_skip_joints_without_figures_and_groups_average_their_joints():
    values = np.arange(15, dtype=np.float64)
    assert grouped(values) == [13.0, 8.5, 8.5, 8.5, 2.5, 2.5, 2.5, 7.0]   # Head: head_top 14, neck 12, nose 13
    values[0] = np.nan
    assert total(values) == pytest.approx(np.arange(1, 15).mean()) and np.isnan(total(np.full(15, np.nan)))


# ---------------------------------------------------------------------------------------------- hand-worked cases

def test_perfect_tracks():
    result = run(pred_video())
    for figures in (result.ap, result.mota, result.motp, result.precision, result.recall):
        np.testing.assert_allclose(figures, 100.0)
    assert result.counts["labelled"].tolist() == [8] * 15 and not result.counts["switches"].any()
    assert (result.videos, result.frames, result.total_ap, result.total_mota) == (1, 4, 100.0, 100.0)


def test_one_id_switch():
    """A's track id changes in frame 2: one switch per joint, MOTA 1 - 1/8; AP does not see ids."""
    pred = pred_video()
    for k in (2, 3):
        pred.frames[k].track_ids[0] = 7
    result = run(pred)
    assert result.counts["switches"].tolist() == [1] * 15
    np.testing.assert_allclose(result.mota, 87.5)
    np.testing.assert_allclose(result.ap, 100.0)
    np.testing.assert_allclose(result.motp, 100.0)


def test_one_missed_joint():
    """A's left wrist is not predicted in frame 1: that joint's recall 7/8, AP 87.5, MOTA 87.5 (one miss);
    the Wri column and the totals average it in."""
    pred = pred_video()
    pred.frames[1].present[0, LEFT_WRIST] = False
    result = run(pred)
    np.testing.assert_allclose(result.ap, only(result.ap, J_LEFT_WRIST, 87.5))
    np.testing.assert_allclose(result.mota, only(result.mota, J_LEFT_WRIST, 87.5))
    np.testing.assert_allclose(result.recall, only(result.recall, J_LEFT_WRIST, 87.5))
    np.testing.assert_allclose(result.precision, 100.0)
    assert grouped(result.ap)[3] == pytest.approx(93.75) and grouped(result.mota)[3] == pytest.approx(93.75)
    assert result.total_ap == pytest.approx((14 * 100 + 87.5) / 15)
    assert result.total_mota == pytest.approx((14 * 100 + 87.5) / 15)
    assert result.counts["misses"][J_LEFT_WRIST] == 1 and result.counts["misses"].sum() == 1


def test_one_false_person():
    """A third person is predicted in frame 1, far from everyone, scoring above all the others: every joint
    ranks one false positive first (AP = 8/9 at every recall), MOTA 1 - 1/8, precision 8/9."""
    pred = pred_video()
    pred.frames[1] = frame(1, [5, 6, 9], OFFSETS + (1000.0,), scores=[0.9, 0.9, 0.95])
    result = run(pred)
    np.testing.assert_allclose(result.ap, 100 * 8 / 9)
    np.testing.assert_allclose(result.mota, 87.5)
    np.testing.assert_allclose(result.precision, 100 * 8 / 9)
    np.testing.assert_allclose(result.recall, 100.0)
    assert result.counts["false_positives"].tolist() == [1] * 15
    # Scoring under the others, it costs AP nothing (all labels are found before it), MOTA the same.
    pred.frames[1] = frame(1, [5, 6, 9], OFFSETS + (1000.0,), scores=[0.9, 0.9, 0.3])
    result = run(pred)
    np.testing.assert_allclose(result.ap, 100.0)
    np.testing.assert_allclose(result.mota, 87.5)


def test_a_missed_person():
    """B is not predicted in frame 2: per joint one miss (MOTA and AP 87.5)."""
    pred = pred_video()
    pred.frames[2] = frame(2, [5], OFFSETS[:1])
    result = run(pred)
    np.testing.assert_allclose(result.mota, 87.5)
    np.testing.assert_allclose(result.ap, 87.5)


@pytest.mark.parametrize("offset,matched", [((9.0, 12.0), True), ((9.0, 12.01), False), ((-15.0, 0.0), True)])
def test_head_size_edge(offset, matched):
    """A's left wrist in frame 0 is 15 px off (exactly half a head size: a match, at distance 0.5) or just over
    (no match: a false positive and a miss; scored lower than the rest, it ranks last: AP 7/8)."""
    pred = pred_video()
    pred.frames[0].poses[0, LEFT_WRIST, :2] += offset
    pred.frames[0].poses[0, LEFT_WRIST, 2] = 0.5
    result = run(pred)
    if matched:
        np.testing.assert_allclose(result.ap, 100.0)
        np.testing.assert_allclose(result.mota, 100.0)
        np.testing.assert_allclose(result.motp, only(result.motp, J_LEFT_WRIST, 100 * (1 - 0.5 / 8)))
    else:
        np.testing.assert_allclose(result.ap, only(result.ap, J_LEFT_WRIST, 87.5))
        np.testing.assert_allclose(result.mota, only(result.mota, J_LEFT_WRIST, 75.0))
        np.testing.assert_allclose(result.precision, only(result.precision, J_LEFT_WRIST, 100 * 7 / 8))


def test_head_size_is_the_labelled_persons():
    """The same 15 px offset of a person whose head box is half the size: no match."""
    gt = gt_video()
    gt.frames[0].head_boxes[0] = [0, 0, 15, 20]
    pred = pred_video()
    pred.frames[0].poses[0, LEFT_WRIST, :2] += [9, 12]
    result = run(pred, gt)
    np.testing.assert_allclose(result.mota, only(result.mota, J_LEFT_WRIST, 75.0))


def test_a_duplicate_is_a_false_positive_for_both_metrics():
    """A second, lower-scored prediction on A in frame 0, 5 px off (PCKh 1 too): A keeps the first."""
    pred = pred_video()
    duplicate = frame(0, [5, 6, 8], OFFSETS + (5.0,), scores=[0.9, 0.9, 0.8])
    pred.frames[0] = duplicate
    result = run(pred)
    np.testing.assert_allclose(result.ap, 100.0)
    np.testing.assert_allclose(result.precision, 100 * 8 / 9)
    np.testing.assert_allclose(result.mota, 87.5)


def test_unlabelled_frames_ignore_regions_and_missing_frames():
    gt = gt_video(FRAMES + 1)
    gt.frames[4] = gt.frames[4]._replace(labelled=False)
    region = np.array([[900, 0], [1200, 0], [1200, 400], [900, 400]], np.float64)
    gt.frames[1] = gt.frames[1]._replace(ignore_regions=(region,))
    pred = pred_video(FRAMES + 1)
    pred.frames[4] = frame(4, [5, 9], (0.0, 1000.0))                         # an unlabelled frame: not scored
    pred.frames[1] = frame(1, [5, 6, 9], OFFSETS + (1000.0,), scores=0.95)   # the false person is ignored
    result = run(pred, gt)
    assert result.frames == 4
    np.testing.assert_allclose(result.ap, 100.0)
    np.testing.assert_allclose(result.mota, 100.0)
    # A region over A's left ankle in frame 3 removes that label and the joint predicted there.
    ankle = TEMPLATE[LEFT_ANKLE]
    gt.frames[3] = gt.frames[3]._replace(ignore_regions=(np.array([ankle - 2, ankle + [2, -2], ankle + 2]),))
    result = run(pred, gt)
    assert result.counts["labelled"][EVAL_JOINT_NAMES.index("left_ankle")] == 7
    np.testing.assert_allclose(result.mota, 100.0)
    # Frames without predictions have nobody predicted: frame 2 missing costs both people.
    pred = pred_video()
    del pred.frames[2]
    np.testing.assert_allclose(run(pred).mota, 75.0)


def test_poseval_quirks():
    """With --poseval_quirks the last frame is not scored for MOT (the id switch in frame 3 is not seen), and a
    frame nobody is predicted in counts one miss and one false positive per joint instead of two misses."""
    pred = pred_video()
    pred.frames[3].track_ids[0] = 7
    np.testing.assert_allclose(run(pred).mota, 87.5)
    quirky = run(pred, quirks=True)
    np.testing.assert_allclose(quirky.mota, 100.0)
    assert quirky.counts["labelled"].tolist() == [6] * 15
    np.testing.assert_allclose(quirky.ap, 100.0)                 # AP scores every frame either way
    pred = pred_video()
    pred.frames[1] = frame(1, [], ())
    np.testing.assert_allclose(run(pred).mota, 75.0)             # 2 misses of 8
    np.testing.assert_allclose(run(pred, quirks=True).mota, 100 * (1 - 2 / 5))


def test_several_videos_add_up_and_formats_agree(tmp_path):
    """Counts add over videos; the same video in the 2017 format scores the same."""
    pred = pred_video()
    pred.frames[1].present[0, LEFT_WRIST] = False
    both = score_videos([(gt_video(), pred), (gt_video(), pred_video())])
    np.testing.assert_allclose(both.ap, only(both.ap, J_LEFT_WRIST, 100 * 15 / 16))
    np.testing.assert_allclose(both.mota, only(both.mota, J_LEFT_WRIST, 100 * 15 / 16))
    gt17 = read_video(write_video(str(tmp_path / "gt.json"), gt_video(), version=2017))
    pred17 = read_video(write_video(str(tmp_path / "pred.json"), pred, version=2017, predictions=True),
                        predictions=True)
    old = score_videos([(gt17, pred17)])
    new = score_videos([(gt_video(), pred)])
    for key in ("ap", "mota", "motp", "precision", "recall"):
        np.testing.assert_allclose(getattr(old, key), getattr(new, key))


def test_without_mot_the_ap_is_the_same_and_the_mot_figures_are_absent():
    """Pose estimation (eval.py on PoseTrack) scores AP only: the same AP, NaN for the MOT figures, and the AP table
    is the first three lines of the benchmark's."""
    pred = pred_video()
    pred.frames[1].present[0, LEFT_WRIST] = False
    both = score_videos([(gt_video(), pred)])
    ap_only = score_videos([(gt_video(), pred)], mot=False)
    np.testing.assert_array_equal(ap_only.ap, both.ap)
    np.testing.assert_array_equal(ap_only.ap_precision, both.ap_precision)
    assert np.isnan(ap_only.mota).all() and np.isnan(ap_only.recall).all() and np.isnan(ap_only.total_mota)
    assert not ap_only.counts["matches"].any() and ap_only.frames == both.frames
    assert posetrack_metrics.ap_table(ap_only) == "\n".join(posetrack_metrics.benchmark_table(both).splitlines()[:3])
