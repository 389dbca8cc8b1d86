"""The log of unreadable training images (src/data/skipped_images.py): shared by forked workers, reported per epoch."""
import gc
import logging
import multiprocessing
import os

import pytest

from src.data.skipped_images import SkippedImageLog


def _note_in_a_child(log: SkippedImageLog, names) -> None:
    for name in names:
        log.note(name)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="data-loading workers are forked processes")
def test_skips_noted_by_forked_workers_are_reported_once_by_the_main_process(caplog):
    log = SkippedImageLog()
    log.note("a.jpg")
    workers = [multiprocessing.get_context("fork").Process(target=_note_in_a_child, args=(log, names))
               for names in (["b.jpg", "c.jpg"], ["b.jpg"])]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert os.path.isfile(log.path)          # a worker's exit does not remove the main process's file
    with caplog.at_level(logging.WARNING, logger="src.data.skipped_images"):
        skipped = log.report()
    assert sorted(skipped) == ["a.jpg", "b.jpg", "b.jpg", "c.jpg"]
    assert "4 unreadable training images were skipped and replaced this epoch: a.jpg, b.jpg, c.jpg" in caplog.text
    assert log.skipped_here == 1             # this process's own count
    assert log.report() == []                # reset: the next epoch starts from nothing


def test_report_without_reset_keeps_the_list_and_long_lists_are_shortened(caplog):
    log = SkippedImageLog()
    names = [f"{i:03d}.jpg" for i in range(25)]
    for name in names:
        log.note(name)
    with caplog.at_level(logging.WARNING, logger="src.data.skipped_images"):
        assert log.report(reset=False) == names
        assert log.report() == names
    assert "25 unreadable training images" in caplog.records[-1].getMessage()
    assert caplog.records[-1].getMessage().endswith("019.jpg, ... (5 more)")
    assert "020.jpg" not in caplog.records[-1].getMessage()


def test_the_file_goes_with_the_log():
    log = SkippedImageLog()
    path = log.path
    assert os.path.isfile(path)
    del log
    gc.collect()
    assert not os.path.exists(path)
