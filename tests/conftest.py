"""Shared pytest fixtures."""
import pytest


# ----------------------------------------------------------------------------- data pipeline
# (src/synthetic.py, src/dataset.py) A tiny synthetic COCO-format dataset, made once per session.

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
# ----------------------------------------------------------------------------- end data pipeline


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


@pytest.fixture(params=sorted(MODES))
def mode(request):
    """Runs a test in GRAPH and in PYNATIVE mode on the CPU."""
    import mindspore as ms  # pylint: disable=import-outside-toplevel
    ms.set_context(mode=MODES[request.param])
    ms.set_device("CPU")
    return request.param
