"""src/network/onednn/build.py: the operators compile from the repository's sources into a clean cache, once,
keyed by what went into them, safely under concurrent first builds; where something is missing the loader says
what in one line and the network runs the im2col path."""
import ctypes
import os
import subprocess
import sys
import threading

import pytest

from src.network import onednn
from src.network.onednn import build
from src.network.onednn.isa import describe_cpu_isa

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _buildable() -> str:
    """Why the operators cannot be built here ('' when they can)."""
    if build.bundled_dnnl() is None:
        return "no bundled oneDNN"
    if build.compiler() is None:
        return "no C++ compiler"
    if build.header_dir() is None:
        return "no onednn-devel headers"
    return ""


needs_build = pytest.mark.skipif(bool(_buildable()), reason=_buildable() or "buildable")


@needs_build
def test_concurrent_first_builds_into_a_clean_cache_leave_one_good_file(tmp_path, monkeypatch):
    # Unoptimised (-O0 for -O3: half the compile time): the flags are part of the cache key, not of what the build
    # machinery does; every other test of the operators loads the -O3 build.
    monkeypatch.setattr(build, "CXX_FLAGS", tuple("-O0" if flag == "-O3" else flag for flag in build.CXX_FLAGS))
    monkeypatch.setenv("SIMPLEPOSE_ONEDNN_CACHE", str(tmp_path / "cache"))
    results = []
    threads = [threading.Thread(target=lambda: results.append(build.library())) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (path, description), other = results
    assert path is not None, description
    assert other == (path, description)
    assert os.path.dirname(path) == str(tmp_path / "cache")
    assert os.listdir(tmp_path / "cache") == [os.path.basename(path)]  # no temporary folder left behind
    lib = ctypes.CDLL(path)
    version, runtime = build.dnnl_version(build.bundled_dnnl())
    major, minor, patch = (int(v) for v in version.split("."))
    assert lib.pose_onednn_version() == major * 10000 + minor * 100 + patch
    assert lib.pose_onednn_cpu_runtime() == build.THREADPOOL_RUNTIME == runtime
    assert version in description and path in description
    built = os.stat(path).st_mtime_ns
    assert build.library()[0] == path  # a later call loads the cached file
    assert os.stat(path).st_mtime_ns == built


@needs_build
def test_cache_key_follows_the_sources(tmp_path, monkeypatch):
    cxx, include, dnnl = build.compiler(), build.header_dir(), build.bundled_dnnl()
    version = build.dnnl_version(dnnl)[0]
    key = build.build_key(cxx, include, dnnl, version)
    assert build.build_key(cxx, include, dnnl, version) == key
    for name in build.SOURCES:
        with open(os.path.join(build.SOURCE_DIR, name), encoding="utf-8") as handle:
            (tmp_path / name).write_text(handle.read() + ("\n// changed\n" if name == "conv.cc" else ""))
    monkeypatch.setattr(build, "SOURCE_DIR", str(tmp_path))
    assert build.build_key(cxx, include, dnnl, version) != key
    assert build.build_key(cxx, include, dnnl, "0.0.0") != build.build_key(cxx, include, dnnl, version)


def test_missing_compiler_is_reported(monkeypatch):
    monkeypatch.setenv("CXX", "no-such-compiler++")
    path, description = build.library()
    if build.bundled_dnnl() is None:
        assert path is None and "oneDNN" in description
        return
    assert path is None
    assert description == "no C++ compiler 'no-such-compiler++' on PATH"


def test_missing_headers_are_reported(monkeypatch):
    monkeypatch.setattr(build, "header_dir", lambda: None)
    monkeypatch.setattr(build, "compiler", lambda: "/usr/bin/g++")
    path, description = build.library()
    assert path is None
    assert "onednn-devel" in description or "oneDNN" in description


def test_switch_turns_the_operators_off(monkeypatch):
    monkeypatch.setenv(onednn.SWITCH, "0")
    onednn.library_status.cache_clear()
    try:
        assert onednn.library_status() == (None, f"turned off by {onednn.SWITCH}=0")
    finally:
        onednn.library_status.cache_clear()


SCRIPT = """
import logging, numpy as np, mindspore as ms
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
ms.set_device("CPU")
from src.model import PoseResNet
net = PoseResNet(18, 17, (16, 16, 16), (4, 4, 4), fast=True)
net.set_train(False)
print("out", net(ms.Tensor(np.zeros((1, 3, 64, 64), np.float32))).shape)
"""


@pytest.mark.slow
def test_without_a_compiler_the_network_runs_im2col_with_one_warning(tmp_path):
    """g++ hidden from PATH, an empty cache: one warning line naming what is missing, no traceback."""
    env = {**os.environ, "PATH": str(tmp_path), "SIMPLEPOSE_ONEDNN_CACHE": str(tmp_path / "cache"),
           "PYTHONPATH": ROOT}
    env.pop("CXX", None)
    env.pop(onednn.SWITCH, None)  # (the suite may run with the operators turned off)
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "out (1, 17, 16, 16)" in done.stdout
    ours = [line for line in done.stderr.splitlines() if "CPU convolutions" in line]
    assert ours == ["WARNING CPU convolutions: the im2col path, the oneDNN operators are unavailable: "
                    f"no C++ compiler 'g++' on PATH; oneDNN dispatches {describe_cpu_isa()}"]
    assert "Traceback" not in done.stderr
    assert not os.path.exists(tmp_path / "cache")
