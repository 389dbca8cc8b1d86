"""The device check: which devices this MindSpore offers, and one line saying what is missing.

This machine has neither an Ascend nor a GPU, so both refusals run end to end through train.py and
eval.py; a stand-in nvcc plays the CUDA toolkit MindSpore reads the version from.
"""
import stat

import mindspore as ms
import pytest

from src.errors import DeviceUnavailableError
from src.model_utils import device_adapter
from src.model_utils.device_adapter import offered_devices, unavailable_message
from tests.helpers import TINY_CONFIG, run_script

REPORT = {"version": "2.10.0", "offered": {"Ascend": [], "GPU": ["11.1", "11.6"], "CPU": []}, "loaded": ["CPU"],
          "plugin_errors": ["Load dynamic library: libmindspore_ascend.so.2 failed. libge_runner.so: cannot open "
                            "shared object file: No such file or directory"],
          "cuda_home": "", "nvcc_version": ""}
OFFERS = "this MindSpore 2.10.0 offers Ascend, GPU (CUDA 11.1 or 11.6) and CPU, and on this machine only CPU loads"


def test_the_plugins_of_this_package():
    assert offered_devices() == {"Ascend": [], "GPU": ["11.1", "11.6"], "CPU": []}


def test_offered_devices_are_read_from_the_plugin_files(tmp_path):
    assert offered_devices(str(tmp_path)) == {"CPU": []}
    for name in ("libmindspore_gpu.so.11.6", "libmindspore_gpu.so.10.1", "libmindspore_ops_cpu.so"):
        (tmp_path / name).write_text("")
    assert offered_devices(str(tmp_path)) == {"GPU": ["10.1", "11.6"], "CPU": []}


@pytest.mark.parametrize("target,changes,words", [
    ("Ascend", {}, ["its Ascend plugin did not load (libge_runner.so: cannot open shared object file",
                    "CANN toolkit", "set_env.sh"]),
    ("GPU", {}, ["CUDA_HOME is not set", "$CUDA_HOME/bin/nvcc", "install CUDA 11.1 or 11.6 with its cuDNN"]),
    ("GPU", {"cuda_home": "/usr/local/cuda"}, ["CUDA_HOME is /usr/local/cuda, which has no working bin/nvcc"]),
    ("GPU", {"cuda_home": "/usr/local/cuda", "nvcc_version": "12.4"},
     ["CUDA_HOME is /usr/local/cuda with CUDA 12.4, for which this package has no GPU plugin"]),
    ("GPU", {"cuda_home": "/usr/local/cuda", "nvcc_version": "11.6",
             "plugin_errors": ["Load dynamic library: libmindspore_gpu.so.11.6 failed. libcudnn.so.8: cannot open "
                               "shared object file: No such file or directory"]},
     ["its GPU plugin for CUDA 11.6 did not load (libcudnn.so.8: cannot open shared object file"]),
    ("GPU", {"offered": {"CPU": []}}, ["this MindSpore 2.10.0 offers CPU", "no GPU plugin",
                                       "install a MindSpore package built for GPU"]),
])
def test_the_message_says_what_is_offered_and_what_is_missing(target, changes, words):
    message = unavailable_message(target, {**REPORT, **changes})
    assert "\n" not in message
    assert message.startswith(f"device_target {target} is not available here: ")
    if "offered" not in changes:
        assert OFFERS in message
    assert message.endswith("or run with --device_target CPU")
    for word in words:
        assert word in message, message


def test_set_device_refuses_before_mindspore_is_asked(monkeypatch):
    asked = []
    monkeypatch.setattr(ms, "set_device", lambda *args, **kwargs: asked.append((args, kwargs)))
    with pytest.raises(DeviceUnavailableError, match="device_target GPU is not available here"):
        device_adapter.set_device("GPU", 0)
    device_adapter.set_device("CPU")
    monkeypatch.setattr(device_adapter, "check_device", lambda target: None)   # as on a machine with a GPU
    device_adapter.set_device("GPU", 2)
    assert asked == [(("CPU",), {}), (("GPU",), {"device_id": 2})]


def test_without_mindspore_set_device_the_context_is_used(monkeypatch):
    """MindSpore before 2.5 (the last releases with official GPU packages) sets the device through set_context."""
    monkeypatch.delattr(ms, "set_device")
    calls = []
    monkeypatch.setattr(ms, "set_context", lambda **kwargs: calls.append(kwargs))
    monkeypatch.setattr(device_adapter, "check_device", lambda target: None)
    device_adapter.set_device("CPU")
    device_adapter.set_device("GPU", 3)
    assert calls == [{"device_target": "CPU"}, {"device_target": "GPU", "device_id": 3}]


def _stand_in_cuda(tmp_path, release):
    nvcc = tmp_path / "cuda" / "bin" / "nvcc"
    nvcc.parent.mkdir(parents=True)
    nvcc.write_text(f"#!/bin/sh\necho 'Cuda compilation tools, release {release}, V{release}.1'\n")
    nvcc.chmod(nvcc.stat().st_mode | stat.S_IXUSR)
    return str(tmp_path / "cuda")


@pytest.mark.slow
@pytest.mark.parametrize("script,target,cuda,words", [
    ("train.py", "Ascend", None, ["Ascend plugin did not load (libge_runner.so"]),
    ("eval.py", "Ascend", None, ["Ascend plugin did not load (libge_runner.so"]),
    ("train.py", "GPU", None, ["CUDA_HOME is not set"]),
    ("eval.py", "GPU", "11.6", ["its GPU plugin for CUDA 11.6 did not load (", ": cannot open shared object file"]),
    ("train.py", "GPU", "12.4", ["with CUDA 12.4, for which this package has no GPU plugin"]),
])
def test_a_missing_device_is_one_line_through_the_entry_points(script, target, cuda, words, tmp_path):
    env = {"CUDA_HOME": _stand_in_cuda(tmp_path, cuda) if cuda else ""}   # "": not set, for MindSpore too
    model = tmp_path / "model.ckpt"
    model.write_bytes(b"")
    out = run_script(script, ["--config_path", TINY_CONFIG, "--device_target", target, "--dataset_path",
                              str(tmp_path), "--eval_model_file", str(model)], env=env, timeout=120)
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    errors = [line for line in out.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in out.stderr, out.stderr
    assert errors[0].startswith(f"error: device_target {target} is not available here: {OFFERS}")
    for word in words:
        assert word in errors[0], errors[0]
    # MindSpore's own lines about the missing toolkit are not printed: it is never asked for the device.
    assert "RuntimeError" not in out.stderr and "_check_version.py" not in out.stderr
