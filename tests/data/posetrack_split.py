"""A hand-made PoseTrack split (tests of src/data/posetrack_records.py and src/evaluate/posetrack_eval.py)."""
import numpy as np

from src.data.posetrack_files import PoseFrame, PoseVideo, write_video
from src.data.posetrack_joints import NUM_POSETRACK_JOINTS

J = NUM_POSETRACK_JOINTS
LABELLED = [j for j in range(J) if j not in (3, 4)]   # PoseTrack never labels the ears


def person_pose(x0: float, y0: float) -> np.ndarray:
    """A J×3 pose ``[x, y, 1]`` of distinct joints around ``(x0, y0)``."""
    pose = np.ones((J, 3))
    pose[:, 0] = x0 + 3 * np.arange(J)
    pose[:, 1] = y0 + 2 * np.arange(J)
    return pose


def make_frame(name, image_id, people, labelled=True, regions=()):
    """``people``: (track id, pose J×3, present J, box [x, y, w, h] or None)."""
    if not people:
        return PoseFrame.empty(name, image_id, labelled)._replace(ignore_regions=tuple(regions))
    poses = np.stack([p[1] for p in people])
    heads = np.array([[p[1][2, 0] - 5, p[1][2, 1] - 5, p[1][2, 0] + 5, p[1][2, 1] + 5] for p in people])
    boxes = np.array([p[3] if p[3] is not None else [np.nan] * 4 for p in people], np.float64)
    return PoseFrame(name, image_id, labelled, np.array([p[0] for p in people]), poses,
                     np.stack([p[2] for p in people]), heads, boxes, np.full(len(people), np.nan), tuple(regions))


def present(*missing):
    mask = np.zeros(J, bool)
    mask[LABELLED] = True
    mask[list(missing)] = False
    return mask



def write_split(folder) -> str:
    """A PoseTrack root in ``folder`` (a ``pathlib.Path``) with the split ``val``: video a (3 frames) and video b
    (1 frame), written by the format's writer. Frame numbers: a/0 -> 0, a/1 -> 1, a/2 -> 2, b/0 -> 3. Returns the
    root."""
    region = np.array([[200.0, 0.0], [300.0, 0.0], [300.0, 100.0], [200.0, 100.0]])
    nobody = np.zeros(J, bool)
    a = PoseVideo("a.json", 2018, [
        # two people; the second has no box: its box is that of its joints and head box
        make_frame("images/val/a/000000.jpg", 10000, [(0, person_pose(10, 20), present(), [5, 15, 60, 50]),
                                                      (1, person_pose(100, 20), present(0), None)]),
        # not labelled: no records
        make_frame("images/val/a/000001.jpg", 10001, [(0, person_pose(10, 20), present(), [5, 15, 60, 50])],
                   labelled=False),
        # a person without labelled joints, one inside the ignore region, one with two joints inside it
        make_frame("images/val/a/000002.jpg", 10002, [(0, person_pose(10, 20), nobody, [5, 15, 60, 50]),
                                                      (1, person_pose(210, 10), present(), [205, 5, 60, 50]),
                                                      (2, person_pose(170, 10), present(), [165, 5, 60, 50])],
                   regions=[region])])
    b = PoseVideo("b.json", 2018, [make_frame("images/val/b/000000.jpg", 20000,
                                              [(4, person_pose(30, 40), present(), [25, 35, 60, 50])])])
    for video in (b, a):
        write_video(str(folder / "annotations" / "val" / video.name), video)
    return str(folder)
