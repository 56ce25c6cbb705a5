"""The floor: a benchmark's bare work, in one warm process, with no sandbox and no imports timed.

What a check costs cannot go below building every seed (the script's own build123d work and the
tessellation), judging it (compile, validate, simulate, solve) and, for a candidate, rendering its
views with and without the reference solution. `floor()` times exactly that, seed by seed, with the
same functions the builder and the judge run (`worker.local`), so `make bench-worker` (and the
throughput benchmarks after it) can print the pipeline's cost as a ratio to the work it judges.
"""

import importlib.util
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from benchgen_dagster.models.settings import CheckSettings

RENDER_SIZE = (320, 240)


@dataclass
class Floor:
    """Seconds of bare work for some seeds of one script."""

    seeds: int
    build_s: float
    judge_s: float
    render_s: float

    @property
    def check_s(self) -> float:
        """What `benchgen check` does: build and judge, no renders."""
        return self.build_s + self.judge_s

    @property
    def candidate_s(self) -> float:
        """What a candidate needs beside: its 24 views alone and 24 with its reference solution."""
        return self.check_s + self.render_s


def _module(script: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"floor_{script.stem}", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def warm_up() -> None:
    """Import what the work needs, so no import is timed."""
    import build123d  # noqa: F401
    import coacd  # noqa: F401
    import imageio.v3  # noqa: F401
    import mujoco  # noqa: F401
    import trimesh  # noqa: F401

    import benchgen_dagster.worker.local
    import benchgen_dagster.worker.render  # noqa: F401


def floor(script: Path, seeds: list[int], settings: CheckSettings | None = None, renders: bool = True) -> Floor:
    """Time the bare work of `script` on `seeds`; renders for the first seed, as a candidate's promotion does."""
    from benchgen_dagster.worker.compile import DecompositionCache
    from benchgen_dagster.worker.judge import JudgeJob, judge_seed
    from benchgen_dagster.worker.local import scene_input
    from benchgen_dagster.worker.mjcf import load_compiled_model
    from benchgen_dagster.worker.render import render_views

    settings = settings or CheckSettings()
    warm_up()
    module = _module(script)
    build_s = judge_s = render_s = 0.0
    scratch = Path(tempfile.mkdtemp(prefix="floor-"))
    try:
        for seed in seeds:
            out = scratch / str(seed)
            out.mkdir()
            started = time.perf_counter()
            scene = module.build(seed)
            solution = module.solution(seed) if hasattr(module, "solution") else None
            given = scene_input(scene, seed, solution, settings)  # the builder's share: tessellating every solid
            build_s += time.perf_counter() - started
            started = time.perf_counter()
            job = JudgeJob(build_dir=str(out), seeds=[seed], settings=settings)
            outcome = judge_seed(given, out, job, DecompositionCache(None, scratch / "cache"))
            judge_s += time.perf_counter() - started
            if renders and seed == seeds[0] and outcome.scene is not None:
                started = time.perf_counter()
                width, height = RENDER_SIZE
                render_views(
                    load_compiled_model(out / "scene.xml"), outcome.scene, out / "views", width, height, settings.render
                )
                if (out / "solution" / "scene.xml").is_file():
                    model = load_compiled_model(out / "solution" / "scene.xml")
                    render_views(model, outcome.scene, out / "solved", width, height, settings.render)
                render_s += time.perf_counter() - started
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return Floor(seeds=len(seeds), build_s=build_s, judge_s=judge_s, render_s=render_s)
