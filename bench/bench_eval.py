"""Evaluation benchmark: the three baselines on a mixed dataset, and how the difficulty calibrates.

Run with `make bench-eval`. In one run, in a fresh BENCHGEN_HOME, with the offline policy, the mixed
batch of `bench-quality` (both tiers, every family) is generated through the real pipeline, and every
benchmark it promotes is evaluated on fresh seeds (`benchgen evaluate`) by:
- `reference`: the scripts' own solutions, the upper bound;
- `none`: no solution at all, the lower bound;
- `engineer:offline`: the offline engineer agent (`--agent offline`), which designs from the task alone.

It prints each baseline's solve rate, score and wall time per evaluated benchmark × seed, where the
engineer failed, and the rank correlation (Spearman) between the feature-based difficulty and the
empirical difficulty the engineer's attempts give (`dataset_quality`'s calibration), with its outliers.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.bench_quality import REQUESTS

MIN_BENCHMARKS = 8
BASELINES = ("reference", "none", "engineer:offline")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8, help="seeds each candidate is checked on when generated")
    parser.add_argument("--eval-seeds", type=int, default=4, help="fresh seeds per benchmark in each evaluation")
    parser.add_argument("--attempts", type=int, default=3, help="the engineer's checked designs per benchmark")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="benchgen-bench-eval-") as tmp:
        os.environ["BENCHGEN_HOME"] = tmp
        os.environ["BENCHGEN_SEEDS"] = str(args.seeds)
        from benchgen_dagster.dataset_runs import evaluate
        from benchgen_dagster.models.manifest import read_manifests
        from benchgen_dagster.models.registry import BenchmarkRequest
        from benchgen_dagster.paths import dataset_dir
        from benchgen_dagster.runner import generate

        started = time.perf_counter()
        generate([BenchmarkRequest(prompt=prompt, tier=tier) for prompt, tier in REQUESTS])
        generated_s = time.perf_counter() - started
        manifests = read_manifests(dataset_dir())
        tiers = sorted({m.tier for m in manifests})
        if len(manifests) < MIN_BENCHMARKS or len(tiers) < 2:
            sys.exit(f"bench-eval: the batch promoted {len(manifests)} benchmark(s) of tiers {tiers}: it needs "
                     f"{MIN_BENCHMARKS} of both tiers")  # fmt: skip
        runs: dict[str, dict] = {}
        walls: dict[str, float] = {}
        for solver in BASELINES:
            agent = solver.split(":", 1)[1] if solver.startswith("engineer:") else ""
            started = time.perf_counter()
            runs[solver] = evaluate(solver, "", [], args.eval_seeds, agent=agent,
                                    attempts=args.attempts)  # fmt: skip
            walls[solver] = time.perf_counter() - started
        quality = json.loads((Path(tmp) / "gallery" / "quality" / "quality.json").read_text())
        feature = {m.id: m.difficulty.score if m.difficulty else None for m in read_manifests(dataset_dir())}
        empirical = {
            m.id: m.empirical_difficulty.score if m.empirical_difficulty else None
            for m in read_manifests(dataset_dir())
        }

    console = Console(width=170)
    console.print(
        f"bench-eval: {len(manifests)} benchmarks (tiers {', '.join(map(str, tiers))}), generated in "
        f"{generated_s:.0f} s; {args.eval_seeds} fresh seeds each; the engineer has {args.attempts} attempts"
    )
    summary = Table(title="the baselines")
    for column in ("solver", "solve rate", "score", "wall", "per benchmark × seed", "attempts (mean)"):
        summary.add_column(column)
    for solver in BASELINES:
        found = runs[solver]
        judged = sum(r["seeds"] for r in found["results"])
        attempts = sum(r["attempts"] for r in found["results"]) / max(1, len(found["results"]))
        summary.add_row(
            solver, f"{found['solved_share']:.0%}", f"{found['score']:.2f}", f"{walls[solver]:.0f} s",
            f"{walls[solver] / max(1, judged):.2f} s", f"{attempts:.2f}",
        )  # fmt: skip
    console.print(summary)
    rows = Table(title="per benchmark: the engineer's result, and the two difficulties")
    for column in ("benchmark", "tier", "reference", "none", "engineer", "attempts", "feature", "empirical", "where"):
        rows.add_column(column, overflow="fold")
    by = {s: {r["benchmark_id"]: r for r in runs[s]["results"]} for s in BASELINES}
    for bid in sorted(by["reference"]):
        engineer = by["engineer:offline"][bid]
        rows.add_row(
            bid, str(engineer["tier"]),
            *(f"{by[s][bid]['solved']}/{by[s][bid]['seeds']}" for s in BASELINES), str(engineer["attempts"]),
            f"{feature.get(bid)}", f"{empirical.get(bid)}", engineer["first_failure"][:70],
        )  # fmt: skip
    console.print(rows)
    calibration = quality["calibration"]
    rho = calibration["spearman"]
    console.print(
        f"rank correlation (Spearman) of the feature-based and the empirical difficulty: "
        f"{'n/a' if rho is None else f'{rho:+.2f}'} over {calibration['benchmarks']} benchmarks; outliers: "
        + (", ".join(f"{o['id']} ({o['finding']})" for o in calibration["outliers"]) or "none"),
        highlight=False,
    )


if __name__ == "__main__":
    main()
