"""The MindSpore runner of exported models (src/deploy/mindir.py): preprocess.py's batches through the MindIR,
the network's heatmaps out; inputs of another shape refused."""
import mindspore as ms
import numpy as np
import pytest

from src.deploy import bin_files
from src.deploy.mindir import main as runner_main, mindir_input_shape
from src.model import get_pose_net
from src.model_utils.config import get_config
from tests.helpers import INFER_BATCH, TINY_CONFIG


@pytest.mark.numerics
def test_batches_through_the_mindir_give_the_networks_heatmaps(tiny_ckpt, tiny_mindir, tmp_path):
    assert mindir_input_shape(tiny_mindir) == [INFER_BATCH, 3, 64, 32]
    inputs = tmp_path / "00_data"
    inputs.mkdir()
    batches = [np.random.default_rng(i).normal(0, 1, (INFER_BATCH, 3, 64, 32)).astype(np.float32) for i in range(2)]
    for i, batch in enumerate(batches):
        batch.tofile(inputs / f"sp_bs{INFER_BATCH}_{i}.bin")
    assert runner_main(["--mindir_path", tiny_mindir, "--input0_path", str(inputs), "--output_dir", str(tmp_path)]) == 0
    ms.set_context(mode=ms.PYNATIVE_MODE)   # one forward pass each: no graph to compile
    net = get_pose_net(get_config(["--config_path", TINY_CONFIG]), is_train=False, ckpt_path=tiny_ckpt, fast_cpu=False)
    net.set_train(False)
    for i, batch in enumerate(batches):
        result = bin_files.read_result(str(tmp_path / "result_Files" / f"sp_bs{INFER_BATCH}_{i}_0.bin"),
                                         (INFER_BATCH, 17, 16, 8))
        expected = net(ms.Tensor(batch)).asnumpy()
        # equal bit for bit on AVX2 (Zen 3), natively and under ONEDNN_MAX_CPU_ISA=SSE41 (the same stock operators
        # at the same batch); the tolerance is for a runtime that fuses them otherwise
        np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_runner_rejects_inputs_of_another_batch_size(tiny_mindir, tmp_path):
    np.zeros((2, 3, 64, 32), np.float32).tofile(tmp_path / "sp_bs2_0.bin")
    with pytest.raises(bin_files.InferFilesError, match=r"sp_bs2_0.bin holds .* the model takes 3×3×64×32"):
        runner_main(["--mindir_path", tiny_mindir, "--input0_path", str(tmp_path), "--output_dir", str(tmp_path)])


def test_runner_needs_input_files(tiny_mindir, tmp_path):
    with pytest.raises(bin_files.InferFilesError, match="no .bin files"):
        runner_main(["--mindir_path", tiny_mindir, "--input0_path", str(tmp_path)])
