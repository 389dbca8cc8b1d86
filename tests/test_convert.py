"""src/convert.py: PyTorch reference / torchvision weights → this project's checkpoints.

The parity tests build the reference architecture in PyTorch (bench/reference.py, its module names), so they
need torch and skip without it; the naming, checking and "torch missing" paths run everywhere.
"""
import os
import sys
import zipfile

import mindspore as ms
import numpy as np
import pytest

from src.errors import ConversionError, TorchMissingError
from src.utils.cli import run_cli
from src import convert
from src.convert import check_shapes, convert_state_dict, network_shapes
from src.model import get_pose_net
from src.model_utils.config import get_config
from src.network.weights import checkpoint_problem, read_checkpoint
from bench import reference
from tests.helpers import TINY_CONFIG


def _cfg(*extra: str):
    return get_config(["--config_path", TINY_CONFIG, *extra])


# ----------------------------------------------------------------------------- without torch

def test_names_of_reference_checkpoint():
    sd = {"module.conv1.weight": np.zeros((64, 3, 7, 7)),
          "module.bn1.weight": np.ones(64), "module.bn1.bias": np.zeros(64),
          "module.bn1.running_mean": np.zeros(64), "module.bn1.running_var": np.ones(64),
          "module.bn1.num_batches_tracked": np.array(3),
          "module.layer1.0.downsample.0.weight": np.zeros((256, 64, 1, 1)),
          "module.layer1.0.downsample.1.weight": np.ones(256),
          "module.layer1.0.downsample.1.running_var": np.ones(256),
          "module.layer1.0.downsample.1.running_mean": np.ones(256),
          "module.deconv_layers.3.weight": np.zeros((256, 256, 4, 4)),
          "module.deconv_layers.7.weight": np.ones(256), "module.deconv_layers.7.running_mean": np.ones(256),
          "module.final_layer.weight": np.zeros((17, 256, 1, 1)), "module.final_layer.bias": np.zeros(17)}
    assert sorted(convert_state_dict(sd)) == sorted([
        "conv1.weight", "bn1.gamma", "bn1.beta", "bn1.moving_mean", "bn1.moving_variance",
        "layer1.0.down_sample_layer.0.weight", "layer1.0.down_sample_layer.1.gamma",
        "layer1.0.down_sample_layer.1.moving_variance", "layer1.0.down_sample_layer.1.moving_mean",
        "deconv_layers.deconv_1.deconv.weight", "deconv_layers.deconv_2.bn.gamma",
        "deconv_layers.deconv_2.bn.moving_mean", "final_layer.weight", "final_layer.bias"])
    backbone = convert_state_dict({**sd, "fc.weight": np.zeros((1000, 2048)), "fc.bias": np.zeros(1000)},
                                  backbone=True)
    assert not [n for n in backbone if n.startswith(("fc", "deconv", "final"))] and "bn1.gamma" in backbone


def test_check_lists_missing_unexpected_and_misshaped():
    expected = network_shapes(_cfg())
    converted = {n: np.zeros(s, np.float32) for n, s in expected.items()}
    del converted["bn1.gamma"]
    converted["conv1.weight"] = np.zeros((64, 3, 3, 3), np.float32)
    converted["fc.weight"] = np.zeros((10, 512), np.float32)
    with pytest.raises(ConversionError, match=r"1 missing \(e.g. bn1.gamma\); 1 with another shape \(e.g. "
                                              r"conv1.weight \(64, 3, 3, 3\) instead of \(64, 3, 7, 7\)\); "
                                              r"1 unexpected \(e.g. fc.weight\)"):
        check_shapes(converted, expected, "x.pth")
    assert len(expected) == len(list(get_pose_net(_cfg(), False).get_parameters()))


def test_torch_missing_message(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)   # "import torch" now raises ImportError
    path = tmp_path / "w.pth"
    path.write_bytes(b"x")
    with pytest.raises(TorchMissingError, match=r"pip install torch==2\.13\.0"):
        convert.load_torch_state_dict(str(path))
    assert run_cli(convert.main, ["--input", str(path), "--output", str(tmp_path / "w.ckpt")]) == 2
    assert "needs PyTorch" in capsys.readouterr().err
    assert run_cli(convert.main, ["--input", str(tmp_path / "none.pth"), "--output", "x.ckpt"]) == 2
    assert "not found" in capsys.readouterr().err


def test_a_damaged_pytorch_file_is_refused_before_torch_reads_it(tmp_path, capsys):
    """A .pth zip archive (each tensor a member with its CRC-32) with 4 KiB zeroed: torch.load would read it
    silently, the converter names it; torch is not needed for that."""
    path = tmp_path / "pose_resnet.pth"
    with zipfile.ZipFile(path, "w") as archive:   # the layout torch.save writes: stored members under a folder
        archive.writestr("pose_resnet/data.pkl", b"\x80\x02}q\x00.")
        archive.writestr("pose_resnet/data/0", np.random.default_rng(0).bytes(1 << 16))
    assert convert.zip_member_damaged(str(path)) == ""
    data = bytearray(path.read_bytes())
    data[20000:24096] = bytes(4096)
    path.write_bytes(bytes(data))
    with pytest.raises(ConversionError, match=r"^PyTorch checkpoint .*pose_resnet.pth is damaged: the checksum of "
                                              r"its member pose_resnet/data/0 does not match; download or copy it "
                                              r"again$"):
        convert.load_torch_state_dict(str(path))
    assert run_cli(convert.main, ["--input", str(path), "--output", str(tmp_path / "w.ckpt")]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not (tmp_path / "w.ckpt").exists()


def test_converted_weights_are_written_with_their_checksum(tmp_path):
    convert.save_checkpoint({"w": np.ones((3, 4), np.float32)}, str(tmp_path / "w.ckpt"))
    assert checkpoint_problem(str(tmp_path / "w.ckpt")) == "" and os.listdir(tmp_path) == ["w.ckpt"]
    np.testing.assert_array_equal(read_checkpoint(str(tmp_path / "w.ckpt"))["w"].asnumpy(), np.ones((3, 4)))


# ----------------------------------------------------------------------------- with torch

def _torch_reference(num_layers: int, filters: int, joints: int = 17, with_head: bool = True):
    """The reference's pose_resnet with random weights (bench/reference.py), and the torch module."""
    torch = pytest.importorskip("torch")
    return torch, reference.torch_pose_resnet(torch, num_layers, filters, joints, with_head)


@pytest.mark.numerics
@pytest.mark.parametrize("num_layers", [18, 50])
def test_reference_weights_give_reference_heatmaps(num_layers, tmp_path):
    torch, model = _torch_reference(num_layers, filters=32)
    cfg = _cfg("--POSE_RESNET.NUM_LAYERS", str(num_layers))
    path = str(tmp_path / "ref.pth.tar")
    # As the reference saves it: DataParallel's 'module.' names, inside {'state_dict': ...}.
    torch.save({"epoch": 140, "state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, path)
    ckpt = str(tmp_path / "converted.ckpt")
    assert convert.convert_file(cfg, path, ckpt) == len(network_shapes(cfg))

    x = np.random.default_rng(1).normal(size=(2, 3, 64, 32)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    ms.set_context(mode=ms.PYNATIVE_MODE)
    for fast in (False, True):
        net = get_pose_net(cfg, is_train=False, ckpt_path=ckpt, fast_cpu=fast)
        net.set_train(False)
        got = net(ms.Tensor(x)).asnumpy()
        assert got.shape == expected.shape == (2, 17, 16, 8)
        rel = np.abs(got - expected).max() / np.abs(expected).max()
        # PyTorch 2.13 against MindSpore, both paths, ResNet-18 and -50: 2.6e-6 at most on AVX2 (Zen 3), natively
        # and under ONEDNN_MAX_CPU_ISA=SSE41
        assert rel < 1e-4, f"fast={fast}: max relative difference {rel:.2e}"


def test_plain_state_dict_and_shape_errors(tmp_path):
    torch, model = _torch_reference(18, filters=32)
    path = str(tmp_path / "plain.pth")
    torch.save(model.state_dict(), path)
    convert.convert_file(_cfg(), path, str(tmp_path / "ok.ckpt"))
    with pytest.raises(ConversionError, match=r"6 with another shape \(e\.g\. deconv_layers\.deconv_0\.deconv\.weight "
                                              r"\(512, 32, 4, 4\) instead of "
                                              r"\(512, 16, 4, 4\)"):
        convert.convert_file(_cfg("--POSE_RESNET.NUM_DECONV_FILTERS", "[16,32,32]"), path, str(tmp_path / "x.ckpt"))
    with pytest.raises(ConversionError, match=r"missing \(e.g. layer1.0.conv3.weight.*ResNet-18: set "
                                              r"POSE_RESNET.NUM_LAYERS 18"):
        convert.convert_file(_cfg("--POSE_RESNET.NUM_LAYERS", "50"), path, str(tmp_path / "x.ckpt"))


def test_torchvision_backbone_loads_as_pretrained(tmp_path, capsys):
    torch, model = _torch_reference(18, filters=32, with_head=False)
    path = str(tmp_path / "resnet18.pth")
    torch.save(model.state_dict(), path)
    ckpt = str(tmp_path / "resnet18_imagenet.ckpt")
    assert run_cli(convert.main, ["--backbone", "--input", path, "--output", ckpt,
                         "--config_path", TINY_CONFIG]) == 0
    assert "fc.weight" not in ms.load_checkpoint(ckpt)
    net = get_pose_net(_cfg("--MODEL.INIT_WEIGHTS", "True", "--MODEL.PRETRAINED", ckpt), is_train=True)
    state = model.state_dict()
    np.testing.assert_array_equal(net.layer2[0].down_sample_layer[1].moving_variance.asnumpy(),
                                  state["layer2.0.downsample.1.running_var"].numpy())
    np.testing.assert_array_equal(net.layer4[1].conv2.weight.asnumpy(), state["layer4.1.conv2.weight"].numpy())
    np.testing.assert_array_equal(net.bn1.gamma.asnumpy(), state["bn1.weight"].numpy())
