"""Training: the step Cell, step arithmetic and schedule, callbacks, checkpoints and resume."""
