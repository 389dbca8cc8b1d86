"""Step learning-rate schedule of the reference (multiply by a factor at given epochs)."""
from typing import Sequence

import numpy as np


def get_lr(begin_epoch: int, total_epochs: int, steps_per_epoch: int, lr_init: float = 0.001,
           factor: float = 0.1, epoch_number_to_drop: Sequence[int] = (90, 120)) -> np.ndarray:
    """Per-step learning rates from ``begin_epoch`` to ``total_epochs`` (exclusive).

    The rate of epoch ``e`` is ``lr_init * factor ** k`` where ``k`` counts the
    entries of ``epoch_number_to_drop`` that are ``<= e``.

    Returns:
        float32 array of ``(total_epochs - begin_epoch) * steps_per_epoch`` rates.
    """
    if steps_per_epoch <= 0:
        raise ValueError(f"steps_per_epoch must be positive, got {steps_per_epoch}")
    epochs = np.arange(begin_epoch * steps_per_epoch, total_epochs * steps_per_epoch) // steps_per_epoch
    drops = (epochs[:, None] >= np.asarray(list(epoch_number_to_drop) or [np.inf])[None, :]).sum(axis=1)
    return (lr_init * np.power(float(factor), drops)).astype(np.float32)
