"""Hand-made PoseTrack videos whose benchmark figures are worked out by hand (tests of src/evaluate/posetrack_*.py).

4 frames, two people A (track 0) and B (track 1) 300 px apart, all 15 scored joints labelled, head boxes 30×40
(head size 0.6 × 50 = 30: joints match within 15 px). Per joint 8 labels."""
import numpy as np

from src.data.posetrack_files import EVAL_JOINT_NAMES, PoseFrame, PoseVideo
from src.data.posetrack_joints import POSETRACK_KEYPOINT_NAMES

FRAMES, OFFSETS = 4, (0.0, 300.0)
#: Distinct joint positions of a person at offset 0 (17 × [x, y]); the head box's corner is at (0, 0).
TEMPLATE = np.column_stack([20 + 7.0 * np.arange(17), 50 + 11.0 * np.arange(17)])
HEAD_BOX = np.array([0.0, 0.0, 30.0, 40.0])
SCORED = np.ones(17, bool)
SCORED[[3, 4]] = False            # the ears: never labelled
LEFT_WRIST, LEFT_ANKLE = POSETRACK_KEYPOINT_NAMES.index("left_wrist"), POSETRACK_KEYPOINT_NAMES.index("left_ankle")
J_LEFT_WRIST = EVAL_JOINT_NAMES.index("left_wrist")


def frame(k: int, track_ids, offsets, scores=0.9, gt=False, **changes) -> PoseFrame:
    """Frame ``k``: people with ``track_ids`` at ``offsets`` (x); ground truth has head boxes, predictions scores."""
    n = len(track_ids)
    poses = np.zeros((n, 17, 3))
    poses[:, :, :2] = TEMPLATE[None] + np.array([[dx, 0.0] for dx in offsets]).reshape(n, 1, 2)
    poses[:, :, 2] = 1.0 if gt else np.broadcast_to(np.asarray(scores, np.float64).reshape(-1, 1), (n, 1))
    heads = HEAD_BOX[None] + np.array([[dx, 0, dx, 0] for dx in offsets]) if gt else np.full((n, 4), np.nan)
    made = PoseFrame(f"images/v/{k:06d}.jpg", k, True, np.array(track_ids, np.int64).reshape(n), poses,
                     np.repeat(SCORED[None], n, axis=0), heads.reshape(n, 4), np.full((n, 4), np.nan),
                     np.full(n, np.nan))
    return made._replace(**changes)


def gt_video(frames=FRAMES) -> PoseVideo:
    return PoseVideo("v.json", 2018, [frame(k, [0, 1], OFFSETS, gt=True) for k in range(frames)])


def pred_video(frames=FRAMES, ids=(5, 6)) -> PoseVideo:
    return PoseVideo("v.json", 2018, [frame(k, list(ids), OFFSETS) for k in range(frames)])
