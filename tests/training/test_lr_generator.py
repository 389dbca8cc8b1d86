"""The learning-rate schedule (src/training/lr_generator.py): a step decay per epoch, hand values, resumable."""
import numpy as np
import pytest

from src.training.lr_generator import get_lr


def test_lr_schedule_hand_values():
    lr = get_lr(0, 4, 2, lr_init=0.1, factor=0.5, epoch_number_to_drop=[1, 3])
    np.testing.assert_allclose(lr, [0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025], rtol=1e-6)
    assert lr.dtype == np.float32


def test_lr_schedule_from_a_middle_epoch():
    full = get_lr(0, 140, 3, 0.001, 0.1, [90, 120])
    tail = get_lr(100, 140, 3, 0.001, 0.1, [90, 120])
    assert len(tail) == 40 * 3
    np.testing.assert_array_equal(tail, full[300:])
    np.testing.assert_allclose(tail[:3], 1e-4, rtol=1e-6)
    np.testing.assert_allclose(tail[-1], 1e-5, rtol=1e-6)
    np.testing.assert_allclose(get_lr(0, 2, 1, 0.01, 0.1, []), [0.01, 0.01])
    with pytest.raises(ValueError, match="steps_per_epoch"):
        get_lr(0, 2, 0)
