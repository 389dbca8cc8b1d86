"""Poses for the tracking tests: a standing person of any height anywhere in the frame."""
import numpy as np

# A standing person 1 unit tall, feet at y = 0 (image y grows downward): COCO joint order.
_TEMPLATE = np.array([[0.0, -0.93], [0.03, -0.95], [-0.03, -0.95], [0.07, -0.94], [-0.07, -0.94],
                      [0.13, -0.80], [-0.13, -0.80], [0.17, -0.62], [-0.17, -0.62], [0.18, -0.46],
                      [-0.18, -0.46], [0.09, -0.50], [-0.09, -0.50], [0.10, -0.27], [-0.10, -0.27],
                      [0.10, -0.03], [-0.10, -0.03]])


def person(x: float, feet_y: float, height: float) -> np.ndarray:
    """J×3 pose of a standing person at ``x`` with all joints confident."""
    return np.column_stack([x + _TEMPLATE[:, 0] * height, feet_y + _TEMPLATE[:, 1] * height, np.ones(17)])
