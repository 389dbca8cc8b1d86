"""The instruction set oneDNN dispatches to: MindSpore's bundled oneDNN, which runs MindSpore's stock CPU
convolutions and the project's oneDNN operators alike, picks its kernels from the CPU, capped by the
environment variable ``ONEDNN_MAX_CPU_ISA`` (``AVX2``, ``AVX512_CORE``, ...).

Only the library is loaded (``ctypes``), not MindSpore, so scripts can ask cheaply.
"""
import ctypes
import importlib.util
import os
from typing import Optional

#: Environment variable that caps oneDNN's instruction set (read once, when oneDNN first dispatches).
MAX_ISA_ENV = "ONEDNN_MAX_CPU_ISA"
#: dnnl_cpu_isa_t values (oneapi/dnnl/dnnl_types.h): bit masks, each set holding the bits of those below it.
ISA_NAMES = {0x1: "SSE41", 0x3: "AVX", 0x7: "AVX2", 0xF: "AVX2_VNNI", 0x1F: "AVX2_VNNI_2", 0x27: "AVX512_CORE",
             0x67: "AVX512_CORE_VNNI", 0xE7: "AVX512_CORE_BF16", 0x1EF: "AVX10_1_512", 0xFEF: "AVX10_1_512_AMX",
             0x1FEF: "AVX10_1_512_AMX_FP16", 0x201FF: "AVX10_2", 0x22FFF: "AVX10_2_AMX_2"}
#: Other names ``ONEDNN_MAX_CPU_ISA`` takes (aliases of the values above, and no cap).
ISA_ALIASES = ("AVX512_CORE_FP16", "AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16", "ALL")
AVX2_BITS = 0x7
#: Bits that mark VNNI (avx2_vnni 0x8, avx512_core_vnni 0x40; the sets above them hold them too).
VNNI_BITS = 0x8 | 0x40
#: Bit of avx512_core_bf16 (the AMX sets hold it too).
BF16_BIT = 0x80
#: Bit of avx512_core, from which oneDNN has bf16 convolutions: emulated below avx512_core_bf16, slower than float32.
AVX512_CORE_BIT = 0x20


def bundled_dnnl() -> Optional[str]:
    """Path of the oneDNN library bundled with MindSpore (``mindspore/lib/libdnnl.so.3``), or None."""
    spec = importlib.util.find_spec("mindspore")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(folder, "lib", "libdnnl.so.3")
        if os.path.isfile(path):
            return path
    return None


def effective_isa() -> Optional[int]:
    """The instruction set oneDNN dispatches to in this process (``dnnl_get_effective_cpu_isa``, a key of
    :data:`ISA_NAMES`), or None where MindSpore's oneDNN is not found."""
    path = bundled_dnnl()
    if path is None:
        return None
    try:
        return int(ctypes.CDLL(path).dnnl_get_effective_cpu_isa())
    except (OSError, AttributeError):
        return None


def isa_name(isa: Optional[int]) -> str:
    """The name of an :func:`effective_isa` value (``unknown`` for None)."""
    if isa is None:
        return "unknown"
    return ISA_NAMES.get(isa, hex(isa))


def above_avx2(isa: Optional[int]) -> bool:
    """Whether ``isa`` holds more than AVX2 (AVX-512, AMX, AVX2-VNNI)."""
    return isa is not None and bool(isa & ~AVX2_BITS)


def has_vnni(isa: Optional[int]) -> bool:
    """Whether oneDNN's int8 kernels on ``isa`` multiply with VNNI (``vpdpbusd``), which takes whole 8-bit weights;
    without it they use ``vpmaddubsw`` (see :func:`src.quantize.arithmetic.weight_grid`)."""
    return isa is not None and bool(isa & VNNI_BITS)


def has_bf16(isa: Optional[int]) -> bool:
    """Whether oneDNN has bf16 kernels on ``isa`` (avx512_core_bf16 or AMX)."""
    return isa is not None and bool(isa & BF16_BIT)


def runs_bf16(isa: Optional[int]) -> bool:
    """Whether oneDNN's bf16 convolutions run on ``isa`` at all: natively (:func:`has_bf16`), or emulated with
    AVX-512 instructions (slower than float32); not on AVX2 (oneDNN 3.10 has none there). AVX2_VNNI_2, on which
    oneDNN previews bf16, is not counted: no CPU here had it."""
    return isa is not None and bool(isa & AVX512_CORE_BIT)


def describe_cpu_isa() -> str:
    """One phrase for log lines: the name of the instruction set, and the cap where one is set
    (``AVX2``, ``AVX2 (ONEDNN_MAX_CPU_ISA=AVX2)``)."""
    cap = os.environ.get(MAX_ISA_ENV, "")
    name = isa_name(effective_isa())
    return f"{name} ({MAX_ISA_ENV}={cap})" if cap else name
