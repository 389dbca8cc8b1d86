"""src/tracking: flow propagation, boxes, greedy matching, and the tracker through a crossing and an occlusion."""
from typing import Dict, List, Tuple

import cv2
import numpy as np
import pytest

from src.tracking.boxes import box_iou, box_nms, joint_boxes
from src.tracking.estimate import padded_count
from src.tracking.flow import make_flow, propagate, sample_flow
from src.tracking.matching import greedy_match, pose_similarity
from src.tracking.tracker import PoseTracker, TrackSettings

# A standing person 1 unit tall, feet at y = 0 (image y grows downward): COCO joint order.
_TEMPLATE = np.array([[0.0, -0.93], [0.03, -0.95], [-0.03, -0.95], [0.07, -0.94], [-0.07, -0.94],
                      [0.13, -0.80], [-0.13, -0.80], [0.17, -0.62], [-0.17, -0.62], [0.18, -0.46],
                      [-0.18, -0.46], [0.09, -0.50], [-0.09, -0.50], [0.10, -0.27], [-0.10, -0.27],
                      [0.10, -0.03], [-0.10, -0.03]])


def person(x: float, feet_y: float, height: float) -> np.ndarray:
    """J×3 pose of a standing person at ``x`` with all joints confident."""
    return np.column_stack([x + _TEMPLATE[:, 0] * height, feet_y + _TEMPLATE[:, 1] * height, np.ones(17)])


# ----------------------------------------------------------------------------- flow

def test_sample_flow_is_bilinear_and_clamped():
    ys, xs = np.mgrid[0:20, 0:30].astype(np.float32)
    flow = np.stack([0.5 * xs + 2 * ys, -xs + 0.25 * ys], axis=2)   # linear: bilinear sampling is exact
    points = np.array([[3.25, 4.5], [0.0, 0.0], [28.9, 18.1]])
    expected = np.stack([0.5 * points[:, 0] + 2 * points[:, 1], -points[:, 0] + 0.25 * points[:, 1]], axis=1)
    np.testing.assert_allclose(sample_flow(flow, points), expected, atol=1e-9)
    # Outside the frame: the nearest border pixel's flow.
    np.testing.assert_allclose(sample_flow(flow, [[-5.0, 30.0]]), [flow[19, 0]])
    assert sample_flow(flow, np.zeros((2, 3, 2))).shape == (2, 3, 2)


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_propagation_moves_joints_by_a_known_shift(method):
    """A textured frame shifted by (3, -2) px: joints inside move by the shift, scores stay."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (140, 180)).astype(np.float32), (0, 0), 2.0)
    texture = cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    shift = np.array([3.0, -2.0])
    moved = cv2.warpAffine(texture, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), (180, 140),
                           borderMode=cv2.BORDER_REFLECT)
    poses = np.stack([person(70, 110, 80), person(120, 120, 60)])
    poses[1, 3, 2] = 0.1
    out = propagate(poses, make_flow(method)(texture, moved))
    np.testing.assert_allclose(out[..., :2] - poses[..., :2], np.broadcast_to(shift, (2, 17, 2)), atol=0.3)
    np.testing.assert_array_equal(out[..., 2], poses[..., 2])
    with pytest.raises(ValueError, match="flow method"):
        make_flow("lucas-kanade")


# ----------------------------------------------------------------------------- boxes

def test_joint_boxes_enlarge_and_clip():
    poses = np.zeros((3, 17, 3))
    poses[0, :2] = [[10, 20, 0.9], [30, 60, 0.9]]          # two confident joints: a box
    poses[1, :1] = [[5, 5, 0.9]]                           # one: none
    poses[2, :2] = [[90, 80, 0.9], [110, 100, 0.9]]        # runs off a 100×100 frame: clipped
    boxes, kept = joint_boxes(poses, 0.2, 0.5, (100, 100))
    np.testing.assert_array_equal(kept, [0, 2])
    np.testing.assert_allclose(boxes, [[5, 10, 30, 60], [85, 75, 15, 25]])


def test_box_iou_and_nms():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 5, 5]], float)
    np.testing.assert_allclose(box_iou(boxes[:1], boxes[1:2]), [[81 / 119]])
    np.testing.assert_array_equal(box_nms(boxes, [0.5, 0.9, 0.1], 0.5), [1, 2])
    np.testing.assert_array_equal(box_nms(boxes, [0.5, 0.9, 0.1], 0.7), [1, 0, 2])
    # Secondary boxes come after the others whatever their scores.
    np.testing.assert_array_equal(box_nms(boxes, [0.5, 0.9, 0.1], 0.5, secondary=[False, True, False]), [0, 2])


def test_padded_count_bounds_the_batch_shapes():
    assert [padded_count(n, 8) for n in range(1, 10)] == [1, 2, 4, 4, 8, 8, 8, 8, 16]
    assert padded_count(3, 3) == 3 and padded_count(7, 3) == 9


# ----------------------------------------------------------------------------- matching

def test_greedy_match_takes_the_best_pair_first():
    similarity = np.array([[0.9, 0.8, 0.0],
                           [0.85, 0.1, 0.7],
                           [0.0, 0.2, 0.25]])
    # Greedy: (0, track 5) first; person 1's best remaining is track 9 at 0.7 (its 0.85 is taken);
    # person 2's 0.25 is under the threshold: a new track. Track 5's second pose is never reused.
    ids = greedy_match(similarity, np.array([5, 7, 9]), 0.3)
    np.testing.assert_array_equal(ids, [5, 9, -1])
    np.testing.assert_array_equal(greedy_match(similarity, np.array([5, 5, 9]), 0.3), [5, 9, -1])
    assert greedy_match(np.zeros((2, 0)), np.zeros(0, np.int64), 0.3).tolist() == [-1, -1]


def test_pose_similarity_is_oks():
    a, b = person(50, 100, 80), person(54, 100, 80)
    sim = pose_similarity(np.stack([a, b]), np.array([4000.0, 4000.0]), np.stack([a]), np.array([4000.0]), 0.2)
    assert sim.shape == (2, 1) and sim[0, 0] == pytest.approx(1.0) and 0.3 < sim[1, 0] < 1.0


# ----------------------------------------------------------------------------- the tracker

class Scene:
    """People walking in a 320×200 frame with the estimator and flow a perfect network would give.

    ``poses[t][k]`` is person k's pose in frame t; ``hidden[t]`` the people nobody can see then. The
    flow moves each pixel of a visible person's box with that person (the front one where boxes
    overlap), everything else stays; the estimator returns the pose of the visible person whose box
    overlaps the asked box most, or a score of 0 (nobody there).
    """

    def __init__(self, poses: List[List[np.ndarray]], hidden: Dict[int, set], front: int = 0):
        self.poses, self.hidden, self.front = poses, hidden, front
        self.t = 0

    def visible(self, t: int) -> List[int]:
        return [k for k in range(len(self.poses[t])) if k not in self.hidden.get(t, set())]

    def box(self, t: int, k: int) -> np.ndarray:
        return joint_boxes(self.poses[t][k][None], 0.2, 0.1, (320, 200))[0][0]

    def flow(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        field = np.zeros((200, 320, 2), np.float32)
        order = sorted(self.visible(self.t - 1), key=lambda k: k == self.front)   # the front one last
        for k in order:
            x, y, w, h = self.box(self.t - 1, k).astype(int)
            field[y:y + h, x:x + w] = (self.poses[self.t][k] - self.poses[self.t - 1][k])[0, :2]
        return field

    def estimate(self, image, boxes, scores) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        visible = self.visible(self.t)
        poses, out_scores = [], []
        for box, score in zip(boxes, scores):
            iou = [box_iou(box, self.box(self.t, k))[0, 0] for k in visible]
            best = int(np.argmax(iou)) if iou else -1
            if best < 0 or iou[best] < 0.3:
                poses.append(np.zeros((17, 3)))
                out_scores.append(0.0)
            else:
                poses.append(self.poses[self.t][visible[best]])
                out_scores.append(score)
        return np.array(poses), np.array(out_scores), boxes[:, 2] * boxes[:, 3]

    def run(self, settings: TrackSettings) -> List[Dict[int, int]]:
        """Track ids per frame: ``{person: track id}``; the detector boxes every visible person."""
        tracker = PoseTracker(settings, self.estimate, self.flow)
        frame = np.zeros((200, 320, 3), np.uint8)
        found = []
        for self.t in range(len(self.poses)):
            visible = self.visible(self.t)
            boxes = np.array([self.box(self.t, k) for k in visible]).reshape(-1, 4)
            people = tracker.step(frame, boxes, np.full(len(visible), 0.9))
            ids = {}
            for track_id, pose in zip(people.track_ids, people.poses):
                k = min(visible, key=lambda k: np.abs(self.poses[self.t][k][:, :2] - pose[:, :2]).sum())
                ids[k] = int(track_id)
            found.append(ids)
        return found


def test_ids_kept_through_a_crossing():
    """Two people walk towards each other and cross, the nearer one in front: each keeps their id."""
    poses = [[person(60 + 5 * t, 175, 120), person(260 - 5 * t, 150, 75)] for t in range(42)]
    for similarity in ("flow_oks", "oks"):
        found = Scene(poses, {}).run(TrackSettings(similarity=similarity))
        assert all(ids == {0: 0, 1: 1} for ids in found), (similarity, found)


def test_ids_kept_through_an_occlusion_shorter_than_kept():
    """One person is hidden (and missed by the detector) for 4 frames: with 6 frames kept they get their
    id back; with 3 frames kept they come back as a new track."""
    poses = [[person(60 + 2 * t, 170, 120), person(200, 160, 100)] for t in range(16)]
    hidden = {t: {0} for t in range(6, 10)}
    found = Scene(poses, hidden).run(TrackSettings(keep_frames=6))
    assert [ids.get(0) for ids in found] == [0] * 6 + [None] * 4 + [0] * 6
    assert all(ids[1] == 1 for ids in found)
    short = Scene(poses, hidden).run(TrackSettings(keep_frames=3))
    assert [ids.get(0) for ids in short] == [0] * 6 + [None] * 4 + [2] * 6


def test_propagated_boxes_bridge_missed_detections():
    """The detector misses a visible person for 3 frames; the box propagated from the previous frame
    finds them (marked ``propagated``) only when propagation is on. Where the detector finds them,
    its box wins over the propagated one, though scored lower."""
    poses = [[person(60 + 3 * t, 170, 120)] for t in range(8)]

    class Missed(Scene):
        def visible(self, t):
            return [0]

    def run(propagate_boxes: bool) -> List[Tuple[int, bool]]:
        scene = Missed(poses, {})
        tracker = PoseTracker(TrackSettings(propagate_boxes=propagate_boxes), scene.estimate, scene.flow)
        out = []
        for scene.t in range(len(poses)):
            boxes = np.zeros((0, 4)) if 3 <= scene.t < 6 else scene.box(scene.t, 0)[None]
            people = tracker.step(np.zeros((200, 320, 3), np.uint8), boxes, np.full(len(boxes), 0.9 - 0.05 * scene.t))
            out.append([(int(i), bool(p)) for i, p in zip(people.track_ids, people.propagated)])
        return out

    with_flow = run(True)
    assert [len(f) for f in with_flow] == [1] * 8 and all(f[0][0] == 0 for f in with_flow)
    assert [f[0][1] for f in with_flow] == [False] * 3 + [True] * 3 + [False] * 2
    without = run(False)
    assert [len(f) for f in without] == [1, 1, 1, 0, 0, 0, 1, 1]


def test_settings_defaults_are_the_configurations():
    from src.model_utils.config import get_config  # pylint: disable=import-outside-toplevel
    assert TrackSettings.from_config(get_config([])) == TrackSettings()
