"""The tracker (src/tracking/tracker.py) through a crossing, an occlusion and missed detections, with the
estimator and flow a perfect network would give."""
from typing import Dict, List, Tuple

import numpy as np
import pytest

from src.model_utils.config import get_config
from src.tracking.boxes import box_iou, joint_boxes
from src.tracking.tracker import PoseTracker, TrackSettings
from tests.tracking.poses import person


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


@pytest.mark.parametrize("unify_thre, expected", [(0.5, [(0, False)]), (1.0, [(0, False), (1, True)])])
def test_a_detected_and_a_propagated_box_on_one_person_give_one_person(unify_thre, expected):
    """In the second frame the detector boxes only the upper part of the person (too little overlap with the
    propagated box for the box NMS), and the two boxes give poses 6 px apart (OKS 0.75, kept by the
    evaluation's OKS-NMS at 0.9): unified, they are one person, the detected one."""
    pose = person(150, 170, 120)
    flow = np.zeros((200, 320, 2), np.float32)

    def estimate(image, boxes, scores):
        poses = np.repeat(pose[None], len(boxes), axis=0)
        poses[:, :, 0] += 6.0 * np.arange(len(boxes))[:, None]
        return poses, np.asarray(scores) * 0.9, np.full(len(boxes), 6000.0)

    tracker = PoseTracker(TrackSettings(unify_thre=unify_thre), estimate, lambda previous, current: flow)
    frame = np.zeros((200, 320, 3), np.uint8)
    whole = joint_boxes(pose[None], 0.2, 0.1, (320, 200))[0]
    tracker.step(frame, whole, np.array([0.9]))
    upper = whole * [1, 1, 1, 0.4]
    assert box_iou(upper, joint_boxes(pose[None], 0.4, 0.15, (320, 200))[0])[0, 0] < 0.5
    people = tracker.step(frame, upper, np.array([0.9]))
    assert list(zip(people.track_ids.tolist(), people.propagated.tolist())) == expected


def test_settings_defaults_are_the_configurations():
    assert TrackSettings.from_config(get_config([])) == TrackSettings()


class LabelOracle:
    """The estimator a good network would be on a rendered synthetic video: in each box, the labelled person with
    the most joints in sight inside it (the one a network would see there), joints in sight scored 0.9, hidden ones
    0.4, outside the frame 0; nobody (score 0) where no one shows two joints."""

    def __init__(self, frames):
        self.frames = frames
        self.t = 0

    def __call__(self, image, boxes, scores):
        anns = self.frames[self.t].annotations
        kpts = np.array([a["keypoints"] for a in anns], np.float64).reshape(len(anns), 17, 3)
        poses, out = [], []
        for (x, y, w, h), score in zip(boxes, scores):
            inside = (kpts[:, :, 0] >= x) & (kpts[:, :, 0] <= x + w) & (kpts[:, :, 1] >= y) & (kpts[:, :, 1] <= y + h)
            shown = (inside & (kpts[:, :, 2] == 2)).sum(axis=1)
            best = int(np.argmax(shown)) if len(anns) else -1
            if best < 0 or shown[best] < 2:
                poses.append(np.zeros((17, 3)))
                out.append(0.0)
                continue
            pose = kpts[best].copy()
            pose[:, 2] = np.select([kpts[best, :, 2] == 2, kpts[best, :, 2] == 1], [0.9, 0.4], 0.0)
            poses.append(pose)
            out.append(score * 0.9)
        return np.array(poses), np.array(out), boxes[:, 2] * boxes[:, 3] * 1.25 ** 2


def track_crossing(settings: TrackSettings, scenario: str = "crossing", sequence: int = 0, num_frames: int = 60,
                   size=(480, 360)):
    """Tracks a synthetic scene (by default the crossing, ``--scenario crossing``, seed 0) with its detection boxes,
    DIS flow and the label oracle; returns per frame ``{labelled track: tracked id}`` and the tracked people no
    label matches."""
    from src.synthetic_video import render_sequence  # pylint: disable=import-outside-toplevel
    from src.tracking.flow import make_flow  # pylint: disable=import-outside-toplevel
    from src.tracking.mot_eval import coco_oks  # pylint: disable=import-outside-toplevel
    frames = list(render_sequence(0, sequence, num_frames, *size, scenario=scenario))
    oracle = LabelOracle(frames)
    tracker = PoseTracker(settings, oracle, make_flow("dis"))
    found, extra = [], []
    for oracle.t, frame in enumerate(frames):
        boxes = np.array([d["bbox"] for d in frame.detections]).reshape(-1, 4)
        people = tracker.step(frame.image, boxes, np.array([d["score"] for d in frame.detections]))
        ids, unmatched = {}, 0
        for track_id, pose in zip(people.track_ids, people.poses):
            oks = [coco_oks(np.reshape(a["keypoints"], (17, 3)), a["area"], pose[None])[0] for a in frame.annotations]
            if max(oks) >= 0.5 and frame.annotations[int(np.argmax(oks))]["track_id"] not in ids:
                ids[frame.annotations[int(np.argmax(oks))]["track_id"]] = int(track_id)
            else:
                unmatched += 1
        found.append(ids)
        extra.append(unmatched)
    return frames, found, extra


def test_crossing_keeps_both_identities_and_adds_nobody():
    """Two people cross, the farther hidden and missed by the detector for 3 frames, a false box in every frame:
    while they overlap neither takes the other's id, the hidden one, lost for 7 frames (fewer than
    TRACK.KEEP_FRAMES; the oracle sees the nearer one in their box while they are mostly hidden), gets their id
    back, and no propagated box adds a person the labels do not have."""
    frames, found, extra = track_crossing(TrackSettings())
    assert sum(len(f.detections) == 2 for f in frames) == 3          # one person and the false box
    ids = {k: {f[k] for f in found if k in f} for k in (0, 1)}
    assert len(ids[0]) == len(ids[1]) == 1 and ids[0] != ids[1], found
    hidden = [t for t, f in enumerate(found) if 1 not in f]
    assert 3 <= len(hidden) < TrackSettings().keep_frames and hidden == list(range(hidden[0], hidden[-1] + 1))
    assert sum(extra) == 0, extra



def test_a_person_who_walks_out_and_back_gets_their_id_back_by_colour():
    """The family's re-entry (sequence 6, seed 0): one person walks out of the frame and comes back more than 10 frames later,
    so no remembered pose is where they come back; their torso colours give them
    their id back. Without the colour stage (TRACK.APPEARANCE_THRE 0) they come back under a new id."""
    for settings, ids_of_0 in ((TrackSettings(), 1), (TrackSettings(appearance_thre=0.0), 2)):
        _, found, extra = track_crossing(settings, "family", 6, 40, (320, 240))
        ids = {k: {f[k] for f in found if k in f} for k in (0, 1)}
        absent = [t for t, f in enumerate(found) if 0 not in f]
        assert len(absent) >= 10 and absent == list(range(absent[0], absent[-1] + 1))
        assert len(ids[0]) == ids_of_0 and len(ids[1]) == 1 and not ids[0] & ids[1], found
        assert sum(extra) == 0
