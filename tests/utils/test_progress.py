"""Progress on a terminal (src/utils/progress.py): a line redrawn in place, a bar, a log line every tenth."""
import io
import logging

import pytest

from src.utils import progress
from src.utils.progress import Progress, StatusLine


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def clock(monkeypatch):
    """A clock the test moves: ``clock[0]`` seconds."""
    now = [100.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: now[0])
    return now


def test_status_line_redraws_on_a_terminal_only():
    terminal, file = Terminal(), io.StringIO()
    for stream in (terminal, file):
        line = StatusLine(stream)
        line.show("epoch 1")
        line.show("epoch 2")
        line.clear()
    assert terminal.getvalue() == "\repoch 1\033[K\repoch 2\033[K\r\033[K"
    assert file.getvalue() == ""


def test_bar_count_share_and_rate(clock):
    bar = Progress(60, unit="frames", stream=io.StringIO())
    bar.update(12)
    clock[0] += 4.0
    assert bar.rate == pytest.approx(3.0)
    assert bar.line() == "[######........................] 12/60 frames (20%) 3.0 frames/s"
    bar.update(60)   # past the total: a full bar, the true count
    assert bar.line().startswith("[" + "#" * 30 + "] 72/60 frames (100%)")
    unknown = Progress(0, unit="images", stream=io.StringIO())
    unknown.update(5)
    clock[0] += 2.0
    assert unknown.line() == "5 images 2.5 images/s"


def test_terminal_shows_the_bar_at_every_update_and_clears_it(clock):
    terminal = Terminal()
    bar = Progress(4, unit="batches", stream=terminal)
    bar.update()
    bar.update()
    bar.close()
    shown = terminal.getvalue().split("\r")
    assert shown[1].startswith("[" + "#" * 8 + "." * 22 + "] 1/4 batches (25%)") and shown[1].endswith("\033[K")
    assert shown[2].startswith("[" + "#" * 15 + "." * 15 + "] 2/4 batches (50%)")
    assert shown[3] == "\033[K"


@pytest.mark.parametrize("total,steps,logged", [
    (20, [1] * 20, [f"{n}/20" for n in range(2, 21, 2)]),   # one line per tenth
    (3, [1, 1, 1], ["1/3", "2/3", "3/3"]),                   # fewer items than tenths: every item
    (100, [35, 1, 64], ["35/100", "100/100"]),              # a big step crosses several tenths: one line
])
def test_elsewhere_a_log_line_every_tenth(clock, caplog, total, steps, logged):
    bar = Progress(total, stream=io.StringIO())
    with caplog.at_level(logging.INFO, logger="src.utils.progress"):
        for count in steps:
            bar.update(count)
    assert [record.getMessage().split("] ")[1].split(" ")[0] for record in caplog.records] == logged


def test_no_log_lines_without_a_total_or_when_asked(clock, caplog):
    with caplog.at_level(logging.INFO, logger="src.utils.progress"):
        for bar in (Progress(0, stream=io.StringIO()), Progress(10, stream=io.StringIO(), log=False)):
            for _ in range(10):
                bar.update()
    assert not caplog.records
