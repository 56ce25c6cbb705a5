"""Benchmarks: speed and memory targets, measured as ratios in one run (`make bench-*`)."""

import os

# Headless rendering for the benchmarks' own in-process work (the sandbox sets this for its children);
# it must be set before MuJoCo is first imported.
os.environ.setdefault("MUJOCO_GL", "egl")
