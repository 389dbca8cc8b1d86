"""MindSpore's profiler around a run (src/model_utils/profiling.py): data under output_path, one folder per
rank; the run's result wins over a profiler that fails; MindSpore before 2.5 through its older Profiler."""
import logging
import os
import subprocess
import sys

import mindspore as ms
import mindspore.profiler
import pytest

from src.model_utils import profiling
from src.model_utils.config import get_config
from src.model_utils.modelarts import CODE_DIR as REPO


PROFILED = """
import sys
import numpy as np
import mindspore as ms
from mindspore import nn
from src.model_utils.config import get_config
from src.model_utils.device_adapter import init_context
from src.model_utils.moxing_adapter import moxing_wrapper

@moxing_wrapper()
def run(cfg):
    init_context(cfg)
    net = nn.Dense(4, 3)
    print(net(ms.Tensor(np.ones((2, 4), np.float32))).shape)
    return 0

sys.exit(run(get_config(sys.argv[1:])))
"""


def test_profiling_writes_under_output_path(tmp_path):
    out = subprocess.run([sys.executable, "-c", PROFILED, "--device_target", "CPU", "--enable_profiling", "True",
                          "--output_path", str(tmp_path / "out")], cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    found = [os.path.join(folder, name) for folder, _, names in os.walk(tmp_path / "out" / "profiler")
             for name in names]
    assert any(path.endswith("trace_view.json") for path in found), found
    assert all(os.path.relpath(path, tmp_path / "out" / "profiler").startswith("rank_0") for path in found)


class FakeProfiler:
    def __init__(self, calls, fail_stop=False):
        self.calls, self.fail_stop = calls, fail_stop

    def start(self):
        self.calls.append("start")

    def stop(self):
        self.calls.append("stop")
        if self.fail_stop:
            raise RuntimeError("no data")


def test_off_by_default_and_a_failing_stop_does_not_hide_the_run(tmp_path, monkeypatch, caplog):
    calls = []
    monkeypatch.setattr(profiling, "_profiler", lambda target, out_dir, worker: calls.append((out_dir, worker))
                        or FakeProfiler(calls, fail_stop=True))
    with profiling.profiling(get_config(["--device_target", "CPU"])):
        calls.append("run")
    assert calls == ["run"]
    cfg = get_config(["--device_target", "CPU", "--enable_profiling", "True", "--output_path", str(tmp_path)])
    with caplog.at_level(logging.ERROR, logger="src.model_utils.profiling"):
        with profiling.profiling(cfg):
            calls.append("profiled run")
    assert calls[1:] == [(str(tmp_path / "profiler"), "rank_0"), "start", "profiled run", "stop"]
    assert "the profiler failed to stop" in caplog.text
    with pytest.raises(ValueError, match="the run's own error"):
        with profiling.profiling(cfg):
            raise ValueError("the run's own error")


def test_before_mindspore_2_5_the_profiler_is_mindspore_profiler(monkeypatch, tmp_path):
    """MindSpore before 2.5 has no mindspore.profiler.profile; the ModelArts profiling uses ms.Profiler."""
    calls = []

    class OldProfiler:
        def __init__(self, **kwargs):
            calls.append(("init", kwargs))

        def start(self):
            calls.append("start")

        def stop(self):
            calls.append("stop")

        def analyse(self):
            calls.append("analyse")

    monkeypatch.delattr(mindspore.profiler, "profile")
    monkeypatch.setattr(ms, "Profiler", OldProfiler)
    prof = profiling._profiler("GPU", str(tmp_path), "rank_0")
    prof.start()
    prof.stop()
    assert calls == [("init", {"output_path": str(tmp_path / "rank_0"), "start_profile": False}),
                     "start", "stop", "analyse"]
