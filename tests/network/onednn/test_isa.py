"""src/network/onednn/isa.py: the instruction set oneDNN dispatches to, as the CPU path's log line and bench/speed.py
name it, capped by ONEDNN_MAX_CPU_ISA; bench/speed.py --max_isa sets the caps of its contenders."""
import logging
import os
import subprocess
import sys

import pytest

from bench import speed
from src.network import cpu_path
from src.network.onednn import isa

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
needs_dnnl = pytest.mark.skipif(isa.bundled_dnnl() is None, reason="MindSpore's oneDNN library is not found")


def _in_subprocess(code: str, **env: str) -> str:
    """stdout of ``code`` run in a fresh interpreter (oneDNN reads its cap once per process)."""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": ROOT, **env}, timeout=120)
    return done.stdout.strip()


def test_names_and_bits():
    assert isa.isa_name(0x7) == "AVX2" and isa.isa_name(0x27) == "AVX512_CORE" and isa.isa_name(None) == "unknown"
    assert isa.isa_name(0x12345) == "0x12345"
    assert not isa.above_avx2(0x7) and not isa.above_avx2(0x3) and not isa.above_avx2(None)
    assert isa.above_avx2(0x27) and isa.above_avx2(0xF)
    # every set holds AVX2's bits from AVX2 on
    assert all(value & isa.AVX2_BITS == isa.AVX2_BITS for value in isa.ISA_NAMES if value >= 0x7)
    # VNNI from AVX2_VNNI and AVX512_CORE_VNNI on, bf16 from AVX512_CORE_BF16 on (AMX included)
    assert not isa.has_vnni(0x7) and not isa.has_vnni(0x27) and not isa.has_vnni(None)
    assert isa.has_vnni(0xF) and isa.has_vnni(0x67) and isa.has_vnni(0xFEF)
    assert not isa.has_bf16(0x67) and not isa.has_bf16(0x7) and not isa.has_bf16(None)
    assert isa.has_bf16(0xE7) and isa.has_bf16(0xFEF) and isa.has_bf16(0x22FFF)
    # bf16 convolutions at all (emulated below AVX512_CORE_BF16) from AVX512_CORE on; none on AVX2 (measured), and
    # AVX2_VNNI_2's (a preview in oneDNN, on no CPU here) not counted
    assert not isa.runs_bf16(0x7) and not isa.runs_bf16(0x1F) and not isa.runs_bf16(None)
    assert isa.runs_bf16(0x27) and isa.runs_bf16(0x67) and isa.runs_bf16(0xE7) and isa.runs_bf16(0x22FFF)


@needs_dnnl
def test_the_cap_lowers_the_dispatched_set():
    code = "from src.network.onednn.isa import effective_isa; print(effective_isa())"
    native = int(_in_subprocess(code, ONEDNN_MAX_CPU_ISA="ALL"))
    capped = int(_in_subprocess(code, ONEDNN_MAX_CPU_ISA="AVX"))
    assert native & isa.AVX2_BITS == isa.AVX2_BITS, "an x86-64 CPU of the supported classes has AVX2"
    assert capped == 0x3
    described = _in_subprocess("from src.network.onednn.isa import describe_cpu_isa; print(describe_cpu_isa())",
                               ONEDNN_MAX_CPU_ISA="AVX")
    assert described == "AVX (ONEDNN_MAX_CPU_ISA=AVX)"


def test_the_cpu_paths_log_line_names_the_set(monkeypatch, caplog):
    monkeypatch.setattr(cpu_path, "_ANNOUNCED", set())
    with caplog.at_level(logging.INFO, logger=cpu_path.__name__):
        assert cpu_path.cpu_path("im2col") is cpu_path.CpuPath.IM2COL
    assert [r.getMessage() for r in caplog.records] == [
        f"CPU convolutions: the im2col path (MODEL.FAST_CPU im2col); oneDNN dispatches {isa.describe_cpu_isa()}"]


def test_bench_max_isa_sets_the_contenders_caps():
    assert speed.isa_env("") == {}
    assert speed.isa_env("avx2") == {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}
    assert speed.isa_env("AVX512_CORE") == {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}
    assert speed.parse_args(["--max_isa", "avx2"]).max_isa == "AVX2"
    with pytest.raises(SystemExit):
        speed.parse_args(["--max_isa", "AVX3"])
