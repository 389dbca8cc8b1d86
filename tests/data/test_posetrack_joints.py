"""PoseTrack's joints (src/data/posetrack_joints.py): its keypoint set against COCO's, the joint lists, and the
COCO mapping both ways with the head joints COCO lacks."""
import numpy as np

from src.constants import COCO_KEYPOINT_NAMES, COCO_SIGMAS, COCO_SKELETON, FLIP_PAIRS
from src.data.posetrack_files import EVAL_JOINT_NAMES, EVAL_JOINTS
from src.data.posetrack_joints import (COCO_OF_POSETRACK, POSETRACK_FLIP_PAIRS, POSETRACK_KEYPOINT_NAMES,
                                       POSETRACK_KEYPOINTS, POSETRACK_OF_COCO, POSETRACK_SIGMAS, approximate_head,
                                       coco_from_posetrack, posetrack_from_coco)


def test_posetrack_keeps_cocos_slots_with_the_head_in_the_eyes_place():
    shared = [j for j in range(17) if j not in (1, 2)]
    assert [POSETRACK_KEYPOINT_NAMES[j] for j in shared] == [COCO_KEYPOINT_NAMES[j] for j in shared]
    assert POSETRACK_KEYPOINT_NAMES[1:3] == ("head_bottom", "head_top")
    # COCO's (1, 2) pair is its eyes: PoseTrack's head joints must not be swapped by a flip.
    assert FLIP_PAIRS[0] == (1, 2) and POSETRACK_FLIP_PAIRS == FLIP_PAIRS[1:]
    assert [POSETRACK_SIGMAS[j] for j in shared] == [COCO_SIGMAS[j] for j in shared]
    assert [POSETRACK_KEYPOINT_NAMES[j] for j in range(17) if j not in POSETRACK_KEYPOINTS.labelled] == \
        ["left_ear", "right_ear"]
    # PoseTrack's files write COCO's skeleton (1-based): the head bottom and top joined as the eyes are.
    assert POSETRACK_KEYPOINTS.skeleton == COCO_SKELETON


def test_joint_lists_and_the_coco_mapping_both_ways():
    assert len(POSETRACK_KEYPOINT_NAMES) == 17 and POSETRACK_KEYPOINT_NAMES[:3] == ("nose", "head_bottom", "head_top")
    assert len(EVAL_JOINT_NAMES) == 15 and set(EVAL_JOINT_NAMES) == set(POSETRACK_KEYPOINT_NAMES) - {"left_ear",
                                                                                                      "right_ear"}
    assert EVAL_JOINT_NAMES[:3] == ("right_ankle", "right_knee", "right_hip") and EVAL_JOINT_NAMES[12] == "head_bottom"
    assert [POSETRACK_KEYPOINT_NAMES[j] for j in EVAL_JOINTS] == list(EVAL_JOINT_NAMES)
    # Same name, same joint; the others have no counterpart.
    for mapping, names_from, names_to in ((COCO_OF_POSETRACK, POSETRACK_KEYPOINT_NAMES, COCO_KEYPOINT_NAMES),
                                          (POSETRACK_OF_COCO, COCO_KEYPOINT_NAMES, POSETRACK_KEYPOINT_NAMES)):
        assert [names_to[i] if i >= 0 else None for i in mapping] == \
            [n if n in names_to else None for n in names_from]
    assert [COCO_KEYPOINT_NAMES[i] for i in range(17) if POSETRACK_OF_COCO[i] < 0] == ["left_eye", "right_eye"]
    assert [POSETRACK_KEYPOINT_NAMES[i] for i in range(17) if COCO_OF_POSETRACK[i] < 0] == ["head_bottom",
                                                                                            "head_top"]


def test_head_joints_from_shoulders_and_ears():
    coco = np.zeros((1, 17, 3))
    coco[0, 5], coco[0, 6] = [0, 100, 0.8], [20, 100, 0.6]       # shoulders: midpoint (10, 100), mean score 0.7
    coco[0, :5] = [10, 80, 1.0]                                    # head centre (10, 80)
    np.testing.assert_allclose(approximate_head(coco)[0], [[10, 90, 0.7], [10, 70, 0.7]])
    # Nose and eyes count a tenth as much as the ears: centre x = (2 × 10 + 0.3 × 33) / 2.3 = 13.
    coco[0, :3, 0] = 33
    np.testing.assert_allclose(approximate_head(coco)[0, :, :2], [[11.5, 90], [14.5, 70]])
    # Unsure ears (score 0.01) leave the centre to the nose and eyes; the score is the face's weighted mean.
    coco[0, 3:5] = [[-40, 80, 0.01], [-40, 80, 0.01]]
    head = approximate_head(coco)[0]
    centre_x = (0.3 * 33 - 0.02 * 40) / 0.32
    np.testing.assert_allclose(head[:, :2], [[10 + (centre_x - 10) / 2, 90], [10 + 1.5 * (centre_x - 10), 70]])
    np.testing.assert_allclose(head[:, 2], (0.3 + 0.02) / 2.3)


def test_coco_poses_as_posetrack_and_back():
    coco = np.random.default_rng(0).uniform(1, 100, (3, 17, 3))
    ours = posetrack_from_coco(coco)
    same = [0, 3, 4] + list(range(5, 17))
    np.testing.assert_array_equal(ours[:, same], coco[:, same])
    np.testing.assert_allclose(ours[:, 1:3], approximate_head(coco))
    assert not posetrack_from_coco(coco, head=False)[:, 1:3].any()
    back = coco_from_posetrack(ours)
    np.testing.assert_array_equal(back[:, same], coco[:, same])
    assert not back[:, 1:3].any()
