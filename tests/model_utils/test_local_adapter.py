"""Device and rank numbers of a local run (src/model_utils/local_adapter.py), from the launchers' environment."""
import pytest

from src.model_utils.local_adapter import get_device_id, get_device_num, get_job_id, get_rank_id


def test_job_id(monkeypatch):
    monkeypatch.setenv("JOB_ID", "job-42")
    assert get_job_id() == "job-42"
    monkeypatch.delenv("JOB_ID")
    assert get_job_id() == "default"
    monkeypatch.setenv("JOB_ID", "  ")
    assert get_job_id() == "default"


@pytest.mark.parametrize("value,device,ranks,rank", [
    (None, 0, 1, 0),          # unset: one process, device 0
    ("3", 3, 3, 3),
    ("-1", -1, -1, -1),       # read as written; the checks are the callers'
    ("two", 0, 1, 0),         # not a number: the default
    ("", 0, 1, 0),
])
def test_numbers_from_the_environment(monkeypatch, value, device, ranks, rank):
    for name in ("DEVICE_ID", "RANK_SIZE", "RANK_ID"):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert (get_device_id(), get_device_num(), get_rank_id()) == (device, ranks, rank)
