"""bench/heatmap_ceiling.py: the AP that decoding exact (or jittered) target heatmaps reaches."""
import os

from bench.heatmap_ceiling import ceiling_ap
from src.model_utils.config import get_config
from tests.helpers import ROOT


def test_exact_targets_beat_noisy_ones(synthetic_root):
    """Decoded ground-truth targets score well, jittered ones lower."""
    cfg = get_config(["--config_path", os.path.join(ROOT, "demo_config.yaml"), "--dataset_path", synthetic_root])
    exact, noisy = ceiling_ap(cfg, 0.0, seed=0), ceiling_ap(cfg, 1.5, seed=0)
    assert exact > 0.7 and noisy < exact - 0.2
