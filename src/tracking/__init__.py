"""Pose tracking in video (the paper's Section 3): flow propagation, matching, the tracker loop, I/O."""
