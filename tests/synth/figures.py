"""Figures for the synthetic-data tests."""
import numpy as np

#: Standing straight, arms hanging, legs straight: the numbers src.synth.body.build_body takes.
UPRIGHT = {"length": 1.0, "girth": 1.0, "lean_z": 0.0, "lean_x": 0.0, "head_yaw": 0.0, "head_pitch": 0.0,
           "head_r": 0.06, "arms": [(0.0, 0.0, 0.0, np.zeros(3))] * 2, "legs": [(0.0, 0.0, 0.0)] * 2}
