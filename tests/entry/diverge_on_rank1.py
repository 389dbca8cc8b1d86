"""``train.py`` in which rank 1's targets turn NaN from the second epoch on, and only rank 1's.

Identical replicas that diverge together do not show what a NaN on one rank does to the
others; the divergence-guard test trains through this entry point instead.
"""
import sys

import numpy as np

import train
from src.dataset import PersonSamples
from src.utils.cli import run_cli
from src.data.sampler import decode_index

_getitem = PersonSamples.__getitem__


def _poisoned_getitem(self, index):
    sample = _getitem(self, index)
    epoch, _ = decode_index(index, len(self))
    if self.rank == 1 and epoch >= 1:
        sample = (sample[0], sample[1] * np.float32("nan"), *sample[2:])
    return sample


if __name__ == "__main__":
    PersonSamples.__getitem__ = _poisoned_getitem
    sys.exit(run_cli(train.main))
