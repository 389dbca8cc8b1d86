"""Compiles the oneDNN operators (:data:`UNITS`, with :data:`HEADERS`) on first use into a per-user cache, and
loads them.

The library is built against the oneDNN that MindSpore's wheel bundles (``mindspore/lib/libdnnl.so.3``,
threadpool runtime) with the headers of the pinned ``onednn-devel`` package, by the C++ compiler ``$CXX``
(default ``g++``). The cache file's name holds a hash of what went into it: the sources, the compiler's
version, the flags, the headers' version and the library's version, so a change of any of them builds a new
file (a test checks that every C++ file of the folder is among the sources). Concurrent first builds (several
ranks or test workers) each compile in a temporary folder and rename the result into place, an atomic step, so no process ever loads a partial file.

Where something is missing (compiler, headers, a MindSpore without the bundled oneDNN or with another
threading runtime) :func:`library` returns None and the reason, and the caller falls back to the im2col path.

Cache folder: ``$SIMPLEPOSE_ONEDNN_CACHE``, else ``$XDG_CACHE_HOME/simple_pose/onednn``, else
``~/.cache/simple_pose/onednn``.
"""
import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import sysconfig
import tempfile
from typing import List, Optional, Tuple

from src.network.onednn.isa import bundled_dnnl

logger = logging.getLogger(__name__)

SOURCE_DIR = os.path.dirname(os.path.abspath(__file__))
#: The library's translation units, by concern: the runtime (thread pool, engine, primitive cache, AOT wrapper), the
#: oneDNN convolutions and transposed convolutions, the oneDNN max-pooling, the hand-written BatchNorm, the int8
#: inference operators (src/quantize's), Winograd's inference convolution.
UNITS = ("runtime.cc", "conv.cc", "pool.cc", "batchnorm.cc", "int8.cc", "winograd.cc")
#: The headers they include: the settings vector (the contract with ops.py), the runtime's and the oneDNN operators'
#: shared declarations, transposed convolutions by output phases (int8.cc's), the oneDNN configuration
#: of MindSpore's build.
HEADERS = ("settings.h", "runtime.h", "primitives.h", "phases.h", "threadpool_config.h")
SOURCES = UNITS + HEADERS
#: oneDNN's threading runtime "threadpool" (dnnl_version()->cpu_runtime): the bundled library's.
THREADPOOL_RUNTIME = 8
CXX_FLAGS = ("-O3", "-std=c++20", "-fPIC", "-shared", "-fvisibility=hidden", "-pthread")
COMPILE_TIMEOUT = 600  # seconds


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_int), ("minor", ctypes.c_int), ("patch", ctypes.c_int),
                ("hash", ctypes.c_char_p), ("cpu_runtime", ctypes.c_uint), ("gpu_runtime", ctypes.c_uint)]


def cache_dir() -> str:
    """The folder compiled libraries are kept in (see the module docstring)."""
    if os.environ.get("SIMPLEPOSE_ONEDNN_CACHE"):
        return os.environ["SIMPLEPOSE_ONEDNN_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "simple_pose", "onednn")


def dnnl_version(path: str) -> Tuple[str, int]:
    """(``major.minor.patch``, CPU runtime) of the oneDNN library at ``path``."""
    lib = ctypes.CDLL(path)
    lib.dnnl_version.restype = ctypes.POINTER(_Version)
    version = lib.dnnl_version().contents
    return f"{version.major}.{version.minor}.{version.patch}", int(version.cpu_runtime)


def header_dir() -> Optional[str]:
    """The include folder holding ``oneapi/dnnl/dnnl.hpp`` (``onednn-devel``), or None."""
    candidates = [os.environ.get("SIMPLEPOSE_ONEDNN_INCLUDE", ""), os.path.join(sysconfig.get_paths()["data"], "include")]
    for folder in candidates:
        if folder and os.path.isfile(os.path.join(folder, "oneapi", "dnnl", "dnnl.hpp")):
            return folder
    return None


def compiler() -> Optional[str]:
    """The C++ compiler: ``$CXX`` or ``g++``, found on PATH, or None."""
    return shutil.which(os.environ.get("CXX", "g++"))


def _run(command: List[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=COMPILE_TIMEOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError((done.stderr or done.stdout).strip().splitlines()[-1] if (done.stderr or done.stdout)
                           else f"exit status {done.returncode}")
    return done.stdout


def build_key(cxx: str, include: str, dnnl: str, dnnl_ver: str) -> str:
    """Hash of everything the library depends on: sources, compiler, flags, headers and library versions."""
    digest = hashlib.sha256()
    for name in SOURCES:
        with open(os.path.join(SOURCE_DIR, name), "rb") as handle:
            digest.update(name.encode() + b"\0" + handle.read())
    digest.update(_run([cxx, "--version"]).encode())
    digest.update(" ".join(CXX_FLAGS).encode())
    with open(os.path.join(include, "oneapi", "dnnl", "dnnl_version.h"), "rb") as handle:
        digest.update(handle.read())
    digest.update(f"{os.path.realpath(dnnl)} {dnnl_ver}".encode())
    return digest.hexdigest()[:20]


def compile_library(cxx: str, include: str, dnnl: str, target: str) -> None:
    """Compiles :data:`UNITS` into ``target`` through a temporary file in the same folder, renamed into place."""
    folder = os.path.dirname(target)
    os.makedirs(folder, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".build-", dir=folder)
    try:
        output = os.path.join(work, os.path.basename(target))
        lib_dir = os.path.dirname(dnnl)
        _run([cxx, *CXX_FLAGS, f"-I{SOURCE_DIR}", f"-I{include}", *(os.path.join(SOURCE_DIR, u) for u in UNITS),
              "-o", output, f"-L{lib_dir}", "-l:libdnnl.so.3", f"-Wl,-rpath,{lib_dir}"])
        os.replace(output, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def library() -> Tuple[Optional[str], str]:
    """The compiled operators' library, building it if needed.

    Returns:
        ``(path, description)`` when it is usable, else ``(None, what is missing)``.
    """
    dnnl = bundled_dnnl()
    if dnnl is None:
        return None, "this MindSpore has no bundled oneDNN (mindspore/lib/libdnnl.so.3)"
    try:
        dnnl_ver, runtime = dnnl_version(dnnl)
    except (OSError, AttributeError) as err:
        return None, f"cannot load {dnnl}: {err}"
    if runtime != THREADPOOL_RUNTIME:
        return None, f"MindSpore's oneDNN {dnnl_ver} has threading runtime {runtime}, not the threadpool ({THREADPOOL_RUNTIME})"
    cxx = compiler()
    if cxx is None:
        return None, f"no C++ compiler '{os.environ.get('CXX', 'g++')}' on PATH"
    include = header_dir()
    if include is None:
        return None, "no oneDNN headers (pip install --no-deps -r requirements-onednn.txt)"
    try:
        target = os.path.join(cache_dir(), f"pose_onednn-{build_key(cxx, include, dnnl, dnnl_ver)}.so")
        if not os.path.isfile(target):
            logger.info("compiling the oneDNN operators into %s", target)
            compile_library(cxx, include, dnnl, target)
        ctypes.CDLL(target)
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as err:
        return None, f"building the oneDNN operators failed: {str(err).strip()[:300]}"
    return target, f"oneDNN {dnnl_ver} custom operators ({target})"
