"""A benchmark whose geometry depends on unseeded global randomness (numpy's and the standard library's).

Built twice in one forked process tree it looks deterministic; built in two freshly started
interpreters it does not.
"""

import random

import numpy as np
from build123d import Box, Pos

from benchgen_dagster.scene import Part, Scene, Zone, sampler


def build(seed: int, scale: float = 1.0) -> Scene:
    p = sampler(seed)
    size = p.param("box_size", nominal=60, spread=0.4)
    jitter = float(np.random.rand()) * 10 + random.random()  # not seeded: differs between interpreters
    s = Scene(workspace=Zone((-400, -300, 0), (800, 300, 400)), scale=scale, params=p)
    s.add(Part("box", Pos(-200, 0, size / 2 + 0.3) * Box(size + jitter, size, size), role="free", material="wood"))
    s.objectives(moved="box", goal=Zone((300, -60, 0), (420, 60, 150)), build=Zone((-380, -200, 0), (100, 200, 300)))
    return s
