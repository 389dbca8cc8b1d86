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
# ----------------------------------------------------------------------------- end data pipeline
