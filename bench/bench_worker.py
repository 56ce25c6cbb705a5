"""Worker benchmark: physics loop overhead, and what a sandboxed `check` costs next to its bare work.

Run with `make bench-worker` (SEEDS=8 by default). All figures of a row are measured in the same run
on the same model, so the ratios hold on a noisy shared machine where absolute times do not.

- loop/bare: the stability loop's steps/s (median of interleaved rounds) over a plain
  `for _ in range(n): mujoco.mj_step(m, d)` loop on the same model (goal ≥ 0.9).
- loop/C: the same over one `mj_step(m, d, nstep=n)` call, the floor no Python loop can beat.
- floor s: the seeds' bare work in this warm process (`bench/floor.py`): build, tessellate, compile,
  validate, simulate, solve; no sandbox, no imports.
- check s: wall time of the sandboxed `check --seeds N` (builder, determinism rebuild, judge; imports
  included); check/floor is the price of the trust boundary.
- +renders s: the floor with a candidate's 48 views (24 alone, 24 with the solution), what the
  throughput work measures a whole candidate against.
- judge RSS: the judge process's peak resident memory over all its seeds (goal ≤ 1024 MB).
"""

import argparse
import importlib
import statistics
import tempfile
import time
from pathlib import Path

import mujoco
from rich.console import Console
from rich.table import Table

from bench.floor import floor
from benchgen_dagster.library import families
from benchgen_dagster.models.settings import CheckSettings
from benchgen_dagster.worker.check import Checker
from benchgen_dagster.worker.compile import DecompositionCache
from benchgen_dagster.worker.local import compile_scene
from benchgen_dagster.worker.mjcf import load_compiled_model
from benchgen_dagster.worker.simulate import simulate_scene

ROUNDS = 7


def bare_steps_per_second(model: mujoco.MjModel, steps: int, nstep: bool) -> float:
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    started = time.perf_counter()
    if nstep:
        mujoco.mj_step(model, data, nstep=steps)
    else:
        for _ in range(steps):
            mujoco.mj_step(model, data)
    return steps / (time.perf_counter() - started)


def loop_ratios(model: mujoco.MjModel, spec, settings: CheckSettings, steps: int) -> tuple[float, float, float, float]:  # type: ignore[no-untyped-def]
    """Median over interleaved rounds, so a burst of load on the shared machine hits both sides alike."""
    loops, bares, ratios_bare, ratios_c = [], [], [], []
    for _ in range(ROUNDS):
        loop = simulate_scene(model, spec, 0, settings.simulation)[0].steps_per_second
        bare = bare_steps_per_second(model, steps, nstep=False)
        in_c = bare_steps_per_second(model, steps, nstep=True)
        loops.append(loop)
        bares.append(bare)
        ratios_bare.append(loop / bare)
        ratios_c.append(loop / in_c)
    return (
        statistics.median(loops),
        statistics.median(bares),
        statistics.median(ratios_bare),
        statistics.median(ratios_c),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args()
    settings = CheckSettings()
    steps = round(settings.simulation.duration_s / settings.simulation.timestep_s)
    table = Table(title=f"bench-worker · {args.seeds} seeds per check · {steps} steps per loop")
    columns = ("family", "loop/bare", "loop/C", "floor s", "check s", "check/floor", "+renders s", "judge RSS MB")
    for column in columns:
        table.add_column(column, justify="right")
    ratios, rss, prices, floors, checks = [], [], [], [], []
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch)
        checker = Checker(settings, home=home, keep_runs=False)
        for fam in families():
            module = importlib.import_module(f"benchgen_dagster.library.{fam.name}")
            out = home / "compiled" / fam.name
            out.mkdir(parents=True)
            compiled = compile_scene(
                module.build(0),
                out,
                settings.geometry,
                DecompositionCache(None, home / "bench-cache"),
                settings.simulation.timestep_s,
            )
            model = load_compiled_model(compiled.mjcf_path)
            _, _, ratio, ratio_c = loop_ratios(model, compiled.spec, settings, steps)
            seeds = list(range(args.seeds))
            bare_work = floor(fam.path, seeds, settings)
            report = checker.check(fam.path, seeds)
            price = report.wall_s / bare_work.check_s
            ratios.append(ratio)
            rss.append(report.peak_rss_mb)
            prices.append(price)
            floors.append(bare_work.check_s)
            checks.append(report.wall_s)
            table.add_row(
                fam.name,
                f"{ratio:.2f}",
                f"{ratio_c:.2f}",
                f"{bare_work.check_s:.1f}",
                f"{report.wall_s:.1f}" + ("" if report.passed else " (failed)"),
                f"{price:.1f}",
                f"{bare_work.candidate_s:.1f}",
                f"{report.peak_rss_mb:.0f}",
            )
    console = Console(width=160)
    console.print(table)
    console.print(
        f"min loop/bare {min(ratios):.2f} (goal ≥ 0.9) · check/floor over the library "
        f"{sum(checks) / sum(floors):.1f} (median {statistics.median(prices):.1f}, max {max(prices):.1f}) · "
        f"max judge peak RSS {max(rss):.0f} MB (goal ≤ 1024 MB)"
    )


if __name__ == "__main__":
    main()
