"""The C++ sources of the oneDNN operators: the settings vector has one order on both sides of the language border
(ops.py's CFG_FIELDS, settings.h's CfgIndex), the cache key covers every source, the library compiles for aarch64
(where the distribution's cross compiler is installed), and the primitive cache stays within its bounds."""
import ctypes
import os
import re
import shutil
import subprocess
import sys

import pytest

from src.network.onednn import build
from src.network.onednn.ops import CFG_DEFAULTS, CFG_FIELDS, make_cfg

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CROSS_COMPILER = "aarch64-linux-gnu-g++"


def enum_fields(source: str) -> list:
    """The entries of ``enum CfgIndex`` in ``source`` as Python names (``kSrcNhwc`` -> ``src_nhwc``), without the
    closing length entry ``kCfgLen``."""
    body = re.search(r"enum\s+CfgIndex\s*\{([^}]*)\}", source)
    if body is None:
        raise AssertionError("no enum CfgIndex in settings.h")
    names = [name.strip() for name in body.group(1).split(",") if name.strip()]
    if names[-1] != "kCfgLen":
        raise AssertionError(f"CfgIndex must end with kCfgLen, ends with {names[-1]}")
    return [re.sub(r"(?<!^)([A-Z])", r"_\1", name[1:]).lower() for name in names[:-1]]


def check_order(source: str, fields) -> None:
    """Raises AssertionError naming the first difference between the C++ enum and ``fields``."""
    cpp = enum_fields(source)
    if cpp != list(fields):
        first = next((i for i, (a, b) in enumerate(zip(cpp, fields)) if a != b), min(len(cpp), len(fields)))
        raise AssertionError(f"settings.h's CfgIndex {cpp} and ops.py's CFG_FIELDS {list(fields)} differ at "
                             f"entry {first} (lengths {len(cpp)} and {len(fields)})")


def settings_source() -> str:
    with open(os.path.join(build.SOURCE_DIR, "settings.h"), encoding="utf-8") as handle:
        return handle.read()


def test_the_settings_vector_has_one_order():
    check_order(settings_source(), CFG_FIELDS)
    assert set(CFG_DEFAULTS) <= set(CFG_FIELDS)


@pytest.mark.parametrize("change", ["swap", "drop", "add"])
def test_the_order_check_fails_when_the_sides_differ(change):
    source = settings_source()
    if change == "swap":
        source = source.replace("kPad, kKernel", "kKernel, kPad")
    elif change == "drop":
        source = source.replace("kResScale, kCfgLen", "kCfgLen")
    else:
        source = source.replace("kResScale, kCfgLen", "kResScale, kGroups, kCfgLen")
    with pytest.raises(AssertionError, match="differ at entry"):
        check_order(source, CFG_FIELDS)


def test_make_cfg_puts_each_setting_at_its_index():
    values = make_cfg(pad=2, relu=True, momentum=0.5).asnumpy()
    assert len(values) == len(CFG_FIELDS)
    assert values[CFG_FIELDS.index("pad")] == 2 and values[CFG_FIELDS.index("relu")] == 1
    assert values[CFG_FIELDS.index("momentum")] == 0.5 and values[CFG_FIELDS.index("stride")] == 1
    with pytest.raises(ValueError, match="unknown settings"):
        make_cfg(groups=2)


def test_every_source_is_built_and_hashed():
    """A C++ file of the folder left out of build.SOURCES would change the library without changing its cache key."""
    found = {name for name in os.listdir(build.SOURCE_DIR) if name.endswith((".cc", ".h"))}
    assert found == set(build.SOURCES)
    assert {name for name in found if name.endswith(".cc")} == set(build.UNITS)


@pytest.mark.skipif(shutil.which(CROSS_COMPILER) is None,
                    reason=f"no {CROSS_COMPILER} (Debian/Ubuntu: apt-get install g++-aarch64-linux-gnu)")
@pytest.mark.skipif(build.header_dir() is None, reason="no oneDNN headers (pip install --no-deps -r "
                                                       "requirements-onednn.txt)")
@pytest.mark.parametrize("unit", build.UNITS)
def test_each_unit_compiles_for_aarch64(unit, tmp_path):
    """Ascend servers run on aarch64 (Kunpeng): nothing x86-only may be left unguarded (compile only, no link)."""
    flags = [f for f in build.CXX_FLAGS if f != "-shared"]
    done = subprocess.run([CROSS_COMPILER, *flags, "-O0", f"-I{build.SOURCE_DIR}", f"-I{build.header_dir()}", "-c",
                           os.path.join(build.SOURCE_DIR, unit), "-o", str(tmp_path / "unit.o")],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]


CACHE_SCRIPT = """
import ctypes, sys, numpy as np, mindspore as ms
ms.set_device("CPU")
from src.network import onednn
from src.model import PoseResNet
library = ctypes.CDLL(onednn.library_path())
library.pose_onednn_cached_bytes.restype = ctypes.c_longlong
x = ms.Tensor(np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32))
outputs = []
for seed in range(3):  # three networks, one after the other, as a process that builds several would
    ms.set_seed(seed)
    net = PoseResNet(18, 17, (16, 16, 16), (4, 4, 4), fast="onednn")
    net.set_train(False)
    outputs.append(net(x).asnumpy())
    print("cached", library.pose_onednn_cached(), library.pose_onednn_cached_bytes())
net.set_train(False)
np.save(sys.argv[1], np.stack(outputs + [net(x).asnumpy()]))
"""


@pytest.mark.skipif(build.library()[0] is None, reason="the oneDNN operators do not build here")
def test_the_primitive_cache_stays_within_its_bounds(tmp_path):
    """Bounded to 8 entries, the cache holds no more while a network of 25 operators runs (evicting and making again
    the primitives it needs), with the results of an unbounded cache; unbounded, it keeps every network's."""
    started = {}
    for name, env in (("bounded", {"POSE_ONEDNN_CACHE_ENTRIES": "8"}), ("unbounded", {})):  # side by side
        out = tmp_path / f"{name}.npy"
        started[name] = (subprocess.Popen([sys.executable, "-c", CACHE_SCRIPT, str(out)], cwd=ROOT, text=True,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          env={**os.environ, "PYTHONPATH": ROOT, **env}), out)
    runs = {}
    for name, (process, out) in started.items():
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-3000:]
        counts = [tuple(map(int, line.split()[1:])) for line in stdout.splitlines() if line.startswith("cached")]
        runs[name] = (counts, out)
    bounded, unbounded = runs["bounded"][0], runs["unbounded"][0]
    assert all(entries <= 8 for entries, _ in bounded)
    entries = [count for count, _ in unbounded]  # each network adds its layers' (the max-pool's is shared)
    assert entries[2] - entries[1] == entries[1] - entries[0] > 0
    assert unbounded[0][1] > 0 and unbounded[2][1] == 3 * unbounded[0][1]
    import numpy as np  # pylint: disable=import-outside-toplevel
    assert np.array_equal(np.load(runs["bounded"][1]), np.load(runs["unbounded"][1]))
