"""Named constants (src/constants.py) that must agree with each other and with COCO's definitions. (Every data set
type's keypoint set: tests/test_dataset_types.py.)"""
from src.constants import COCO_KEYPOINT_NAMES, COCO_SIGMAS, COCO_SKELETON, FLIP_PAIRS, NUM_COCO_JOINTS

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

