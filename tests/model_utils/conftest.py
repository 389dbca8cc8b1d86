"""Fixtures of the ModelArts tests (test_moxing_adapter.py, test_modelarts.py)."""
import os
import time

import pytest

from src.model_utils import moxing_adapter


@pytest.fixture
def one_job(tmp_path, monkeypatch):
    """The test is one server of its own ModelArts job: its own job id and marker folder, no device
    numbers from the environment, quick polling."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    os.makedirs(tmp_path / "tmp", exist_ok=True)
    monkeypatch.setenv("JOB_ID", f"test-{os.getpid()}-{time.monotonic_ns()}")
    for name in ("DEVICE_ID", "RANK_ID", "RANK_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(moxing_adapter, "POLL_INTERVAL_S", 0.02)
