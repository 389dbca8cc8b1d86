"""bench/speed.py's peak: NumPy's matrix product in a child process, with OpenBLAS's kernels for the instruction set
oneDNN dispatches (on a virtual CPU OpenBLAS may not know, it falls back to its SSE3 kernels)."""
import subprocess

import pytest

from bench import speed


@pytest.mark.parametrize("isa, core", [(0x67, "SkylakeX"), (0x1EF, "SkylakeX"), (0x7, "Haswell"), (0xF, "Haswell"),
                                       (0x1, None), (None, None)])
def test_openblas_kernels_follow_the_instruction_set(monkeypatch, isa, core):
    seen = {}

    def run(command, env, **kwargs):
        seen["env"] = env
        return subprocess.CompletedProcess(command, 0, stdout="12.5\n")

    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    monkeypatch.setattr(speed, "effective_isa", lambda: isa)
    monkeypatch.setattr(speed.subprocess, "run", run)
    rate, kernels = speed.matrix_product_gflops()
    assert rate == 12.5
    assert seen["env"].get("OPENBLAS_CORETYPE") == core
    assert kernels == (f"OpenBLAS's {core} kernels" if core else "its BLAS's own kernels")


def test_the_rate_is_measured():
    rate, _ = speed.matrix_product_gflops(size=128, repeats=2)
    assert 0.01 < rate < 1e5
