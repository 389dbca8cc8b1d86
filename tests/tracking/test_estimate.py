"""Pose estimation inside the tracker (src/tracking/estimate.py): few batch shapes, so few graph compilations."""
from src.tracking.estimate import padded_count


def test_padded_count_bounds_the_batch_shapes():
    assert [padded_count(n, 8) for n in range(1, 10)] == [1, 2, 4, 4, 8, 8, 8, 8, 16]
    assert padded_count(3, 3) == 3 and padded_count(7, 3) == 9
