"""Progress on a terminal: a line redrawn in place (:class:`StatusLine`), and a progress bar over a known
number of items (:class:`Progress`) that logs a line every tenth where stdout is not a terminal.

Training (:class:`src.training.callbacks.TrainLogger`), evaluation (:mod:`src.inference.runner`) and tracking
(``track.py``) all show their progress through these.
"""
import logging
import sys
import time
from typing import Optional, TextIO

logger = logging.getLogger(__name__)

BAR_WIDTH = 30


class StatusLine:
    """One line redrawn in place on a terminal; nothing is written where the stream is not a terminal."""

    def __init__(self, stream: Optional[TextIO] = None):
        self.stream = stream or sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def show(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r" + text + "\033[K")
            self.stream.flush()

    def clear(self) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()


class Progress:
    """Counts done items of ``total`` (0: unknown) and shows the rate: a bar redrawn on a terminal, else
    a log line every tenth of the total (with ``log`` False, nothing but on a terminal)."""

    def __init__(self, total: int, unit: str = "frames", stream: Optional[TextIO] = None, log: bool = True):
        self.total, self.unit = max(0, int(total)), unit
        self.status = StatusLine(stream)
        self.log = log
        self.done = 0
        self.start = time.perf_counter()
        self._next_log = 0.1

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    @property
    def rate(self) -> float:
        return self.done / max(self.elapsed, 1e-9)

    def line(self) -> str:
        """``[#####.....] 12/60 frames (20%) 4.1 frames/s``; without a total, count and rate."""
        if not self.total:
            return f"{self.done} {self.unit} {self.rate:.1f} {self.unit}/s"
        share = min(1.0, self.done / self.total)
        filled = int(round(share * BAR_WIDTH))
        return (f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.done}/{self.total} {self.unit} "
                f"({share:.0%}) {self.rate:.1f} {self.unit}/s")

    def update(self, count: int = 1) -> None:
        self.done += count
        if self.status.tty:
            self.status.show(self.line())
        elif self.log and self.total and self.done / self.total >= self._next_log - 1e-9:
            logger.info("%s", self.line())
            while self._next_log <= self.done / self.total + 1e-9:
                self._next_log += 0.1

    def close(self) -> None:
        self.status.clear()
