"""``train.py`` whose samples each take ``SLOW_SAMPLE_SECONDS`` (default 0.3) to make: the training waits for its
data, as a data-bound run does, so a data worker killed between two steps leaves the main thread waiting for a
batch that cannot come. The test of that case trains through this entry point."""
import os
import sys
import time

import train
from src.dataset import PersonSamples
from src.utils.cli import run_cli

_getitem = PersonSamples.__getitem__


def _slow_getitem(self, index):
    time.sleep(float(os.environ.get("SLOW_SAMPLE_SECONDS", "0.3")))
    return _getitem(self, index)


if __name__ == "__main__":
    PersonSamples.__getitem__ = _slow_getitem
    sys.exit(run_cli(train.main))
