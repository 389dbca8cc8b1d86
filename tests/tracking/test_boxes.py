"""Person boxes of the tracker (src/tracking/boxes.py): boxes around confident joints, IoU, box NMS."""
import numpy as np

from src.tracking.boxes import box_iou, box_nms, joint_boxes


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
