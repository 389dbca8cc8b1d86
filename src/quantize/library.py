"""Compiles the int8 operators (``src/network/onednn/int8.cc``) on first use, as :mod:`src.network.onednn.build`
does the float ones: against MindSpore's bundled oneDNN, into the same per-user cache folder, under a name that
hashes everything that went into the file, renamed into place atomically.
"""
import ctypes
import functools
import hashlib
import logging
import os
import shutil
import tempfile
from typing import Optional, Tuple

from src.network.onednn import SWITCH, build

logger = logging.getLogger(__name__)

SOURCES = ("int8.cc", "threadpool_config.h")


def _key(cxx: str, include: str, dnnl: str, dnnl_ver: str) -> str:
    digest = hashlib.sha256()
    for name in SOURCES:
        with open(os.path.join(build.SOURCE_DIR, name), "rb") as handle:
            digest.update(name.encode() + b"\0" + handle.read())
    digest.update(build._run([cxx, "--version"]).encode())  # pylint: disable=protected-access
    digest.update(" ".join(build.CXX_FLAGS).encode())
    with open(os.path.join(include, "oneapi", "dnnl", "dnnl_version.h"), "rb") as handle:
        digest.update(handle.read())
    digest.update(f"{os.path.realpath(dnnl)} {dnnl_ver}".encode())
    return digest.hexdigest()[:20]


def _compile(cxx: str, include: str, dnnl: str, target: str) -> None:
    folder = os.path.dirname(target)
    os.makedirs(folder, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".build-", dir=folder)
    try:
        output = os.path.join(work, os.path.basename(target))
        lib_dir = os.path.dirname(dnnl)
        build._run([cxx, *build.CXX_FLAGS, f"-I{build.SOURCE_DIR}", f"-I{include}",  # pylint: disable=protected-access
                    os.path.join(build.SOURCE_DIR, "int8.cc"), "-o", output, f"-L{lib_dir}", "-l:libdnnl.so.3",
                    f"-Wl,-rpath,{lib_dir}"])
        os.replace(output, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@functools.lru_cache(maxsize=None)
def library_status() -> Tuple[Optional[str], str]:
    """``(path of the compiled int8 operators, description)``, or ``(None, why they are unavailable)``; once."""
    if os.environ.get(SWITCH, "1") == "0":
        return None, f"turned off by {SWITCH}=0"
    dnnl = build.bundled_dnnl()
    if dnnl is None:
        return None, "this MindSpore has no bundled oneDNN (mindspore/lib/libdnnl.so.3)"
    try:
        dnnl_ver, runtime = build.dnnl_version(dnnl)
    except (OSError, AttributeError) as err:
        return None, f"cannot load {dnnl}: {err}"
    if runtime != build.THREADPOOL_RUNTIME:
        return None, f"MindSpore's oneDNN {dnnl_ver} has threading runtime {runtime}, not the threadpool"
    cxx, include = build.compiler(), build.header_dir()
    if cxx is None or include is None:
        return None, "no C++ compiler or no oneDNN headers (pip install --no-deps -r requirements-onednn.txt)"
    try:
        target = os.path.join(build.cache_dir(), f"pose_int8-{_key(cxx, include, dnnl, dnnl_ver)}.so")
        if not os.path.isfile(target):
            logger.info("compiling the int8 operators into %s", target)
            _compile(cxx, include, dnnl, target)
        ctypes.CDLL(target)
    except (OSError, RuntimeError) as err:
        return None, f"building the int8 operators failed: {str(err).strip()[:300]}"
    return target, f"oneDNN {dnnl_ver} int8 operators ({target})"


def library_path() -> Optional[str]:
    """Path of the compiled int8 operators, or None."""
    return library_status()[0]


#: Bits of ``dnnl_cpu_isa_t`` that mark VNNI (avx2_vnni 0x8, avx512_core_vnni 0x40; the AMX sets hold them too).
VNNI_BITS = 0x8 | 0x40
#: Names of the instruction sets the figures are stated with.
ISA_NAMES = {0x1: "SSE4.1", 0x3: "AVX", 0x7: "AVX2", 0xF: "AVX2-VNNI", 0x1F: "AVX2-VNNI-2", 0x27: "AVX-512",
             0x67: "AVX-512-VNNI", 0xE7: "AVX-512-BF16", 0x1EF: "AVX-512-FP16", 0xFEF: "AMX", 0x1FEF: "AMX-FP16"}


def cpu_isa() -> int:
    """oneDNN's effective instruction set (``dnnl_cpu_isa_t``; ``ONEDNN_MAX_CPU_ISA`` caps it), or 0."""
    path = library_path()
    return int(ctypes.CDLL(path).pose_q_isa()) if path else 0


def has_vnni(isa: int) -> bool:
    """Whether oneDNN's int8 kernels on ``isa`` multiply with VNNI (``vpdpbusd``), which takes whole 8-bit weights;
    without it they use ``vpmaddubsw`` (see :func:`src.quantize.arithmetic.weight_grid`)."""
    return bool(isa & VNNI_BITS)


def isa_name(isa: int) -> str:
    """A readable name of a ``dnnl_cpu_isa_t`` value."""
    return ISA_NAMES.get(isa, hex(isa))
