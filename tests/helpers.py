"""Shared test helpers: run entry scripts and launchers in subprocesses; damaged checkpoints, a full disk and a
read-only folder; build stub runtimes for the C++ app."""
import contextlib
import os
import subprocess
import sys
from typing import Dict, Optional, Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_CONFIG = os.path.join(ROOT, "tests", "tiny_config.yaml")
#: Batch of conftest's exported MindIR (``tiny_mindir``) and of preprocess.py's .bin files in the chain tests.
INFER_BATCH = 3


def subprocess_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("GLOG_v", "3")           # MindSpore: errors only
    env["PYTHON"] = sys.executable          # launchers use the test interpreter
    env.update(extra or {})
    return env


def run_script(script: str, args: Sequence[str], cwd: Optional[str] = None, timeout: int = 600,
               env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    """Runs ``python <script> args`` (a top-level entry script) and captures its output."""
    return subprocess.run([sys.executable, os.path.join(ROOT, script), *args], cwd=cwd or ROOT,
                          env=subprocess_env(env), capture_output=True, text=True, timeout=timeout)


def run_launcher(script: str, args: Sequence[str], cwd: str, timeout: int = 600,
                 env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    """Runs ``bash scripts/<script> args`` in the foreground."""
    extra = {"FOREGROUND": "1", **(env or {})}
    return subprocess.run(["bash", os.path.join(ROOT, "scripts", script), *args], cwd=cwd,
                          env=subprocess_env(extra), capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 now."""
    import socket  # pylint: disable=import-outside-toplevel
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_msrun(script: str, args: Sequence[str], log_dir: str, port: int, worker_num: int,
                local_worker_num: Optional[int] = None, node_rank: int = 0, cwd: Optional[str] = None
                ) -> subprocess.Popen:
    """Starts ``msrun`` for one server (``node_rank``) of a job on 127.0.0.1; ``script`` relative to ROOT."""
    msrun = os.path.join(os.path.dirname(sys.executable), "msrun")
    env = subprocess_env({"PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")})
    command = [msrun, f"--worker_num={worker_num}", f"--local_worker_num={local_worker_num or worker_num}",
               "--master_addr=127.0.0.1", f"--master_port={port}", f"--node_rank={node_rank}",
               f"--log_dir={log_dir}", "--join=True", os.path.join(ROOT, script), *args]
    return subprocess.Popen(command, cwd=cwd or ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


# ----------------------------------------------------------------------------- faults
# Damaged files, a full disk and a read-only folder, made for real (docs/training.md, "Faults").

def damage_checkpoint(path: str, how: str) -> None:
    """Damages the checkpoint ``path`` in place: ``"truncated"`` (cut in the middle of an entry),
    ``"truncated_between_entries"`` (cut where an entry ends, the case a trailer alone cannot tell from a
    file without checksum) or ``"zeroed"`` (4 KiB of zeros in the middle, as a bad block leaves)."""
    with open(path, "rb") as f:
        data = f.read()
    middle = len(data) // 2
    if how == "zeroed":
        data = data[:middle] + bytes(4096) + data[middle + 4096:]
    elif how == "truncated":
        data = data[:middle]
    elif how == "truncated_between_entries":
        ends, pos = [], 0
        while data[pos] == 0x0A:              # each entry: key 0x0A, varint length, the entry
            length, shift, pos = 0, 0, pos + 1
            while True:
                length |= (data[pos] & 0x7F) << shift
                shift, pos = shift + 7, pos + 1
                if not data[pos - 1] & 0x80:
                    break
            pos += length
            ends.append(pos)
        data = data[:ends[len(ends) // 2]]
    else:
        raise ValueError(how)
    os.chmod(path, 0o644)   # checkpoints are written read-only
    with open(path, "wb") as f:
        f.write(data)


@contextlib.contextmanager
def file_size_limit(nbytes: int):
    """This process and its children may write files of at most ``nbytes`` (RLIMIT_FSIZE, as ``ulimit -f``);
    Python ignores SIGXFSZ, so a larger write fails with EFBIG ("File too large")."""
    import resource  # pylint: disable=import-outside-toplevel
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def _writable(folder: str) -> bool:
    try:
        with open(os.path.join(folder, ".probe"), "w", encoding="ascii"):
            pass
        os.remove(os.path.join(folder, ".probe"))
        return True
    except OSError:
        return False


@contextlib.contextmanager
def read_only_folder(folder: str):
    """``folder`` (created) made read-only: by its permissions, or, for root who ignores them, by mounting a
    read-only tmpfs over it; skips the test where neither works."""
    import pytest  # pylint: disable=import-outside-toplevel
    os.makedirs(folder, exist_ok=True)
    os.chmod(folder, 0o555)
    mounted = False
    try:
        if _writable(folder):
            mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", folder],
                                     capture_output=True, check=False).returncode == 0
            if not mounted or _writable(folder):
                pytest.skip("cannot make a read-only folder here (root without mount)")
        yield folder
    finally:
        if mounted:
            subprocess.run(["umount", folder], capture_output=True, check=False)
        os.chmod(folder, 0o755)


# ----------------------------------------------------------------------------- the C++ inference app
# tests/ascend310_stub holds stand-ins for MindSpore's C++ headers and a stub runtime library. The tests make a
# fake MindSpore Lite package and a fake MindSpore 310 package from them, with different string ABIs, and build
# and run the app through build.sh and CMake as a user would.

STUB = os.path.join(ROOT, "tests", "ascend310_stub")
BUILD_SH = os.path.join(ROOT, "ascend310_infer", "build.sh")
#: The environment variables that point build.sh at a runtime or a toolkit.
RUNTIME_VARS = ("MS_LITE_HOME", "MINDSPORE_PATH", "ASCEND_HOME_PATH", "ASCEND_TOOLKIT_HOME", "CXX11_ABI")
#: The string ABIs of the two stub libraries: different on purpose, build.sh reads each from its library.
LITE_ABI, MS310_ABI = 1, 0


def runtime_env(**values) -> Dict[str, str]:
    """The test environment without the user's runtime and toolkit locations, plus ``values``."""
    env = {k: v for k, v in subprocess_env().items() if k not in RUNTIME_VARS}
    env.update({k: str(v) for k, v in values.items()})
    return env


def run_build(out_dir, env: Dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Runs ``bash ascend310_infer/build.sh --out out_dir args`` with ``env``."""
    return subprocess.run(["bash", BUILD_SH, "--out", str(out_dir), *args], env=env, capture_output=True,
                          text=True, timeout=300)


def compile_library(source: str, library: str, include_dir: str, *flags: str) -> None:
    """Compiles ``source`` into the shared library ``library`` (warnings are errors)."""
    out = subprocess.run(["g++", "-std=c++17", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", *flags,
                          "-I", include_dir, source, "-o", library], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def make_stub_package(folder, lite: bool, abi: int) -> str:
    """A fake runtime package in ``folder``: the stub headers and the stub library built with string ABI ``abi``.

    MindSpore Lite's layout: runtime/include/api/ and runtime/lib/libmindspore-lite.so (MS_LITE_HOME = folder);
    the 310 package's: include/api/ and lib/libmindspore.so (MINDSPORE_PATH = folder).
    """
    import shutil  # pylint: disable=import-outside-toplevel
    runtime = os.path.join(folder, "runtime") if lite else str(folder)
    shutil.copytree(os.path.join(STUB, "include"), os.path.join(runtime, "include"))
    os.makedirs(os.path.join(runtime, "lib"))
    library = os.path.join(runtime, "lib", "libmindspore-lite.so" if lite else "libmindspore.so")
    compile_library(os.path.join(STUB, "stub_runtime.cc"), library, runtime, f"-D_GLIBCXX_USE_CXX11_ABI={abi}",
                    *(["-DSTUB_LITE"] if lite else []))
    return str(folder)


# ----------------------------------------------------------------------------- the CPU's instruction set
# oneDNN (MindSpore's stock convolutions and the project's oneDNN operators) picks its kernels from the CPU, capped
# by ONEDNN_MAX_CPU_ISA (src/network/onednn/isa.py). scripts/run_tests.sh asks which set it picks to decide on its
# AVX2 pass.

def describe_onednn_isa() -> str:
    """``"<name> <above>"``: the instruction set oneDNN dispatches to (``unknown`` without the library) and whether
    it is more than AVX2 (``1``/``0``); what scripts/run_tests.sh reads."""
    from src.network.onednn.isa import above_avx2, effective_isa, isa_name  # pylint: disable=import-outside-toplevel
    isa = effective_isa()
    return f"{isa_name(isa)} {int(above_avx2(isa))}"


def needs_onednn(what: str = "oneDNN operators"):
    """A mark skipping a test where the oneDNN operators' library cannot be built or loaded, with the reason."""
    import pytest  # pylint: disable=import-outside-toplevel
    from src.network import onednn  # pylint: disable=import-outside-toplevel
    return pytest.mark.skipif(onednn.library_path() is None, reason=f"{what} unavailable: {onednn.library_status()[1]}")


def rel_err(a, b) -> float:
    """The largest difference of ``a`` from ``b``, relative to ``b``'s largest magnitude."""
    import numpy as np  # pylint: disable=import-outside-toplevel
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))
