"""Named constants (src/constants.py) that must agree with each other and with COCO's and PoseTrack's definitions."""
import pytest

from src.constants import (COCO_KEYPOINT_NAMES, COCO_SIGMAS, COCO_SKELETON, FLIP_PAIRS, KEYPOINT_SETS, NUM_COCO_JOINTS,
                           POSETRACK_FLIP_PAIRS, POSETRACK_KEYPOINT_NAMES, POSETRACK_SIGMAS)

#: COCO's person skeleton as its annotation files write it (1-based joint numbers).
COCO_SKELETON_1_BASED = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8],
                         [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]]


def test_flip_pairs_swap_each_left_joint_with_its_right_twin():
    assert len(COCO_KEYPOINT_NAMES) == len(COCO_SIGMAS) == NUM_COCO_JOINTS == 17
    paired = set()
    for left, right in FLIP_PAIRS:
        assert COCO_KEYPOINT_NAMES[left].replace("left_", "right_") == COCO_KEYPOINT_NAMES[right]
        assert COCO_KEYPOINT_NAMES[left].startswith("left_")
        assert COCO_SIGMAS[left] == COCO_SIGMAS[right]       # a joint and its mirror are as hard to place
        paired |= {left, right}
    unpaired = [name for i, name in enumerate(COCO_KEYPOINT_NAMES) if i not in paired]
    assert unpaired == ["nose"]


def test_skeleton_is_cocos():
    assert [[a + 1, b + 1] for a, b in COCO_SKELETON] == COCO_SKELETON_1_BASED



@pytest.mark.parametrize("name", sorted(KEYPOINT_SETS))
def test_each_data_set_types_flip_pairs_are_exactly_its_left_right_twins(name):
    """Every joint named left_X is paired with right_X, and nothing else is paired: a joint on the body's axis
    (COCO's nose; PoseTrack's nose, head bottom and head top) maps to itself."""
    keypoints = KEYPOINT_SETS[name]
    names = keypoints.keypoint_names
    assert keypoints.name == name and len(names) == len(keypoints.sigmas) == 17
    twins = {(i, names.index(n.replace("left_", "right_"))) for i, n in enumerate(names) if n.startswith("left_")}
    assert set(keypoints.flip_pairs) == twins
    for left, right in keypoints.flip_pairs:
        assert keypoints.sigmas[left] == keypoints.sigmas[right]
    assert set(keypoints.labelled) <= set(range(17))


def test_posetrack_keeps_cocos_slots_with_the_head_in_the_eyes_place():
    shared = [j for j in range(17) if j not in (1, 2)]
    assert [POSETRACK_KEYPOINT_NAMES[j] for j in shared] == [COCO_KEYPOINT_NAMES[j] for j in shared]
    assert POSETRACK_KEYPOINT_NAMES[1:3] == ("head_bottom", "head_top")
    # COCO's (1, 2) pair is its eyes: PoseTrack's head joints must not be swapped by a flip.
    assert FLIP_PAIRS[0] == (1, 2) and POSETRACK_FLIP_PAIRS == FLIP_PAIRS[1:]
    assert [POSETRACK_SIGMAS[j] for j in shared] == [COCO_SIGMAS[j] for j in shared]
    posetrack = KEYPOINT_SETS["posetrack"]
    assert [posetrack.keypoint_names[j] for j in range(17) if j not in posetrack.labelled] == ["left_ear", "right_ear"]
    assert KEYPOINT_SETS["coco"].labelled == tuple(range(17))
