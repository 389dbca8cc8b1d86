"""Shared pytest fixtures: the synthetic data, MindSpore's device and modes, random weights, exported models.

The layout of tests/: ``tests/test_<module>.py`` holds the tests of ``src/<module>.py``,
``tests/<package>/test_<module>.py`` those of ``src/<package>/<module>.py``, ``tests/test_<script>.py``
the end-to-end tests of a top-level entry script ``<script>.py``, ``tests/bench/test_<name>.py`` those of
``bench/<name>.py``, ``tests/test_launchers.py`` those of ``scripts/*.sh``, ``tests/test_ascend310_infer.py``
those of ``ascend310_infer/`` and ``tests/test_docs.py`` the links of ``README.md`` and ``docs/``. The plain
versions of the reference algorithms that tests compare against are in ``tests/reference.py`` (those the
benches also time, and the reference network in PyTorch, in ``bench/reference.py``); ``tests/test_layout.py``
checks the import layers of ``src/`` and ``bench/``; the subprocess helpers are in ``tests/helpers.py``.
"""
import logging
import os
from typing import Dict, Iterable, List, NamedTuple, Sequence, Tuple

import numpy as np
import pytest

from tests.helpers import INFER_BATCH, TINY_CONFIG


# ----------------------------------------------------------------------------- data pipeline
# (src/synthetic.py, src/synthetic_video.py) Tiny synthetic data sets, made once per session.

@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> str:
    """Root of a synthetic dataset: 12 train and 6 val images, seed 3 (layout of DATASET.ROOT)."""
    from src.synthetic import generate  # pylint: disable=import-outside-toplevel
    root = tmp_path_factory.mktemp("synthetic")
    generate(str(root), num_train=12, num_val=6, seed=3, workers=1)
    return str(root)


@pytest.fixture(scope="session")
def synthetic_videos(tmp_path_factory) -> str:
    """Root of synthetic videos: 2 sequences of 12 frames, 240×180, seed 4 (python -m src.synthetic_video)."""
    from src.synthetic_video import generate_videos  # pylint: disable=import-outside-toplevel
    root = tmp_path_factory.mktemp("videos")
    generate_videos(str(root), num_sequences=2, num_frames=12, seed=4, width=240, height=180)
    return str(root)


@pytest.fixture(scope="session")
def synthetic_posetrack(tmp_path_factory) -> str:
    """Synthetic videos also in PoseTrack 2018 format: 2 sequences of 8 frames, 240×180, seed 4 (python -m
    src.synthetic_video --posetrack); a PoseTrack root with the split ``posetrack18``."""
    from src.synthetic_video import generate_videos  # pylint: disable=import-outside-toplevel
    root = tmp_path_factory.mktemp("posetrack")
    generate_videos(str(root), num_sequences=2, num_frames=8, seed=4, width=240, height=180, posetrack=True)
    return str(root)


# ----------------------------------------------------------------------------- execution modes
MODES = {"graph": 0, "pynative": 1}   # ms.GRAPH_MODE, ms.PYNATIVE_MODE


@pytest.fixture(scope="session", autouse=True)
def cpu_device():
    """Pins MindSpore to the CPU before any kernel runs.

    MindSpore refuses ``set_device`` once a kernel has run without one; pinned here, the
    ``set_device("CPU")`` calls of tests and entry points are no-ops whatever the test order.
    """
    import mindspore as ms  # pylint: disable=import-outside-toplevel
    ms.set_device("CPU")


@pytest.fixture(autouse=True)
def graph_mode_afterwards():
    """Tests may switch execution modes; every test starts from MindSpore's default GRAPH mode."""
    yield
    import mindspore as ms  # pylint: disable=import-outside-toplevel
    ms.set_context(mode=ms.GRAPH_MODE)


@pytest.fixture(autouse=True)
def logging_as_before():
    """The entry points' ``main`` (re)configures the root logger (src.utils.cli.setup_logging); each test leaves
    it as it found it, so that which tests ran before in the same process (another order, another test
    worker) does not decide what a test's stdout holds."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(params=sorted(MODES))
def mode(request):
    """Runs a test in GRAPH and in PYNATIVE mode on the CPU."""
    import mindspore as ms  # pylint: disable=import-outside-toplevel
    ms.set_context(mode=MODES[request.param])
    ms.set_device("CPU")
    return request.param


# ----------------------------------------------------------------------------- random weights

def randomize(nets: Iterable, seed: int = 0) -> None:
    """Gives the parameters of ``nets`` (all of one layout) the same random values: He-scaled kernels,
    BatchNorm scales and variances in [0.5, ∞) around 1, small means, shifts and biases.

    Unlike the initial weights (near-flat heatmaps near zero, BatchNorm the identity), these give
    heatmaps that vary and BatchNorm statistics that are not the identity.
    """
    import mindspore as ms  # pylint: disable=import-outside-toplevel
    rng = np.random.default_rng(seed)
    for params in zip(*(net.get_parameters() for net in nets)):
        name, shape = params[0].name, params[0].shape
        value = rng.standard_normal(shape).astype(np.float32)
        if name.endswith(("moving_variance", "gamma")):
            value = np.abs(value) * 0.5 + 0.5
        elif len(shape) == 4:   # convolution and deconvolution kernels
            value *= np.sqrt(2.0 / np.prod(shape[1:]))
        else:
            value *= 0.1
        for param in params:
            param.set_data(ms.Tensor(value))


class RandomWeights:
    """Networks and checkpoints with random weights (:func:`randomize`), one scheme for every test.

    ``checkpoint(*overrides, seed=0)`` is the tiny network of ``tests/tiny_config.yaml`` (with
    configuration ``overrides``) saved once per session per arguments; ``imagenet_checkpoint`` a
    model-zoo style ImageNet backbone file; ``randomize`` gives networks in memory the same values.
    """

    randomize = staticmethod(randomize)

    def __init__(self, folder: str):
        self.folder = folder
        self._saved: Dict[Tuple[Tuple[str, ...], int], str] = {}

    def checkpoint(self, *overrides: str, seed: int = 0) -> str:
        """Path of a checkpoint of the tiny network with ``overrides`` (command-line words), random weights."""
        key = (tuple(overrides), seed)
        if key not in self._saved:
            import mindspore as ms  # pylint: disable=import-outside-toplevel
            from src.model import get_pose_net  # pylint: disable=import-outside-toplevel
            from src.model_utils.config import get_config  # pylint: disable=import-outside-toplevel
            net = get_pose_net(get_config(["--config_path", TINY_CONFIG, *overrides]), is_train=False,
                               fast_cpu=False)
            randomize([net], seed)
            path = os.path.join(self.folder, f"tiny_{len(self._saved)}.ckpt")
            ms.save_checkpoint(net, path)
            self._saved[key] = path
        return self._saved[key]

    @staticmethod
    def imagenet_checkpoint(path: str, depth: int = 18, drop: Sequence[str] = (),
                            reshape: Sequence[str] = ()) -> Dict[str, np.ndarray]:
        """A model-zoo style ImageNet checkpoint at ``path``: the backbone of a ResNet of ``depth``, a
        classifier (``end_point``) and an optimizer entry; ``drop`` leaves names out, ``reshape`` gives
        them shape (3,). Returns ``{name: value}`` of what was written."""
        import mindspore as ms  # pylint: disable=import-outside-toplevel
        from src.model import PoseResNet  # pylint: disable=import-outside-toplevel
        rng = np.random.default_rng(5)
        entries = []
        for param in PoseResNet(depth, 17, (16,), (4,)).backbone_parameters():
            if param.name in drop:
                continue
            shape = (3,) if param.name in reshape else param.shape
            entries.append({"name": param.name, "data": ms.Tensor(rng.standard_normal(shape).astype(np.float32))})
        entries.append({"name": "end_point.weight", "data": ms.Tensor(np.ones((1000, 512), np.float32))})
        entries.append({"name": "end_point.bias", "data": ms.Tensor(np.zeros(1000, np.float32))})
        entries.append({"name": "moments.conv1.weight", "data": ms.Tensor(np.zeros((64, 3, 7, 7), np.float32))})
        ms.save_checkpoint(entries, str(path))
        return {e["name"]: e["data"].asnumpy() for e in entries}


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory) -> RandomWeights:
    """Random networks and checkpoints (see :class:`RandomWeights`), checkpoints made once per session."""
    return RandomWeights(str(tmp_path_factory.mktemp("random_weights")))


@pytest.fixture(scope="session")
def tiny_ckpt(random_weights) -> str:
    """The tiny network (tests/tiny_config.yaml: ResNet-18, 32×64 input, 8×16 heatmaps) with random weights."""
    return random_weights.checkpoint()


# ----------------------------------------------------------------------------- a trained network

#: How :func:`train_tiny` trains: SGD steps (momentum 0.9) over batches of this many crops at this learning rate.
#: Measured on the 12 training images of ``synthetic_root`` (26 people), AVX2: AP 0.14-0.23 on them after 150 steps
#: (6 seeds); Adam (learning rate 0.001-0.01) learned two to three times slower, and from conftest.randomize's
#: weights the network learned nothing in 150 steps.
TRAIN_STEPS, TRAIN_BATCH, TRAIN_LR = 150, 8, 0.1
#: What :func:`train_tiny` trains on and ``trained_tiny``'s evaluations see: the training set's people, unaugmented,
#: in their ground-truth boxes.
TRAINED_SET = ["--DATASET.TEST_SET", "train2017", "--TEST.USE_GT_BBOX", "True", "--DATASET.FLIP", "False",
               "--DATASET.ROT_FACTOR", "0", "--DATASET.SCALE_FACTOR", "0"]


class TrainedNetwork(NamedTuple):
    """A network :func:`train_tiny` trained: its checkpoint, and the loss of each step."""
    ckpt: str
    losses: List[float]


def train_tiny(root: str, ckpt: str, seed: int = 0, steps: int = TRAIN_STEPS) -> List[float]:
    """Trains the tiny network (tests/tiny_config.yaml, FAST_CPU onednn, GRAPH mode) from its initial weights
    (``ms.set_seed(seed)``) on the training people of the synthetic set ``root`` (:data:`TRAINED_SET`) for ``steps``
    steps, as train.py puts the network, the loss and the training step together (with SGD), and saves it to
    ``ckpt``. The crops are read once; each step takes a random batch of them. Returns the losses of the steps."""
    import mindspore as ms  # pylint: disable=import-outside-toplevel
    from mindspore import Tensor, nn  # pylint: disable=import-outside-toplevel
    from src.dataset import keypoint_dataset  # pylint: disable=import-outside-toplevel
    from src.model import get_pose_net  # pylint: disable=import-outside-toplevel
    from src.model_utils.config import get_config  # pylint: disable=import-outside-toplevel
    from src.network_define import JointsMSELoss, WithLossCell  # pylint: disable=import-outside-toplevel
    from src.training.train_step import TrainStep  # pylint: disable=import-outside-toplevel
    ms.set_context(mode=ms.GRAPH_MODE)
    cfg = get_config(["--config_path", TINY_CONFIG, "--dataset_path", root, "--MODEL.FAST_CPU", "onednn",
                      "--TRAIN.BATCH_SIZE", "1", *TRAINED_SET])
    dataset, _ = keypoint_dataset(cfg, train_mode=True, num_parallel_workers=1)
    rows = list(dataset.create_tuple_iterator(num_epochs=1, output_numpy=True))
    crops = [np.concatenate([row[column] for row in rows]) for column in range(3)]  # image, target, weight
    ms.set_seed(seed)
    net = get_pose_net(cfg, is_train=True)
    step = TrainStep(WithLossCell(net, JointsMSELoss(use_target_weight=True)),
                     nn.Momentum(net.trainable_params(), learning_rate=TRAIN_LR, momentum=0.9))
    step.set_train(True)
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(steps):
        batch = rng.choice(len(crops[0]), min(TRAIN_BATCH, len(crops[0])), replace=False)
        losses.append(float(step(*(Tensor(column[batch]) for column in crops)).asnumpy()))
    ms.save_checkpoint(net, ckpt)
    return losses


@pytest.fixture(scope="session")
def trained_tiny(synthetic_root, tmp_path_factory) -> TrainedNetwork:
    """The tiny network trained by :func:`train_tiny` on ``synthetic_root``: on those training people (the
    configuration words :data:`TRAINED_SET`) its AP is clearly above zero, where random weights give 0."""
    ckpt = str(tmp_path_factory.mktemp("trained") / "tiny_trained.ckpt")
    return TrainedNetwork(ckpt, train_tiny(synthetic_root, ckpt))


# ----------------------------------------------------------------------------- exported models

@pytest.fixture(scope="session")
def tiny_mindir(tiny_ckpt, tmp_path_factory) -> str:
    """The random tiny checkpoint exported by export.py as a MindIR with an input batch of INFER_BATCH."""
    import export  # pylint: disable=import-outside-toplevel
    mindir = str(tmp_path_factory.mktemp("mindir") / "tiny.mindir")
    assert export.main(["--config_path", TINY_CONFIG, "--eval_model_file", tiny_ckpt, "--EXPORT.FILE_NAME",
                        mindir, "--TEST.BATCH_SIZE", str(INFER_BATCH)]) == 0
    return mindir


# ----------------------------------------------------------------------------- the C++ inference app

@pytest.fixture(scope="session")
def stub_runtimes(tmp_path_factory) -> Dict[str, object]:
    """Fake runtime packages built from tests/ascend310_stub: MindSpore Lite ("lite"), the MindSpore 310
    package ("ms310"), and an Ascend toolkit folder ("ascend"); "root" is their folder."""
    import shutil  # pylint: disable=import-outside-toplevel
    from tests.helpers import LITE_ABI, MS310_ABI, make_stub_package  # pylint: disable=import-outside-toplevel
    for tool in ("g++", "cmake", "nm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    root = tmp_path_factory.mktemp("stubs")
    (root / "Ascend").mkdir()
    return {"root": root, "ascend": str(root / "Ascend"), "lite": make_stub_package(root / "lite", True, LITE_ABI),
            "ms310": make_stub_package(root / "ms310", False, MS310_ABI)}


@pytest.fixture
def no_runtime(monkeypatch):
    """Hides the user's runtime and toolkit locations (MS_LITE_HOME, ...) from the launchers a test runs."""
    from tests.helpers import RUNTIME_VARS  # pylint: disable=import-outside-toplevel
    for name in RUNTIME_VARS:
        monkeypatch.delenv(name, raising=False)
