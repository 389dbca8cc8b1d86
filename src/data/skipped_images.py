"""A record of the training images that could not be read, shared by all data-loading processes.

Data-loading workers are forked processes: they cannot append to a list of the main process. Each
skip is one short line appended to a small temporary file (one ``write`` with ``O_APPEND`` is
atomic), and the main process reads and resets the file once per epoch.
"""
import logging
import os
import tempfile
import weakref
from typing import List

logger = logging.getLogger(__name__)


def _remove_if_owner(path: str, owner_pid: int) -> None:
    # Forked workers hold copies of the log; only the process that made the file removes it.
    if os.getpid() == owner_pid:
        try:
            os.remove(path)
        except OSError:
            pass


class SkippedImageLog:
    """Notes unreadable images from any process; :meth:`report` tells the total in the main process."""

    def __init__(self) -> None:
        fd, self.path = tempfile.mkstemp(prefix="skipped_images_", suffix=".txt")
        os.close(fd)
        self.skipped_here = 0
        weakref.finalize(self, _remove_if_owner, self.path, os.getpid())

    def note(self, image_file: str) -> None:
        """Logs one skipped image and appends it to the shared file."""
        self.skipped_here += 1
        logger.warning("skipping unreadable image %s (%d skipped by this worker so far)", image_file,
                       self.skipped_here)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(image_file + "\n")

    def report(self, reset: bool = True) -> List[str]:
        """Logs (one warning) and returns the images skipped since the last report, by all processes."""
        try:
            with open(self.path, encoding="utf-8") as f:
                skipped = f.read().splitlines()
            if reset:
                open(self.path, "w", encoding="utf-8").close()
        except FileNotFoundError:
            skipped = []
        if skipped:
            names = sorted(set(skipped))
            shown = ", ".join(names[:20]) + (f", ... ({len(names) - 20} more)" if len(names) > 20 else "")
            logger.warning("%d unreadable training images were skipped and replaced this epoch: %s",
                           len(skipped), shown)
        return skipped
