"""Quality benchmark: how much of a mixed batch becomes proven benchmarks, and do they hold up?

Run with `make bench-quality`. In one run, in a fresh BENCHGEN_HOME, with the offline policy, the
fixed mixed batch below goes through the real pipeline (`benchgen generate`: every asset and gate,
the solvability gate included), then the whole dataset is audited on fresh seeds (`benchgen audit`).

It prints:
- yield: promoted candidates over all candidates;
- the share rejected as trivial (the `non_triviality` gate) and as unsolvable (the `solvability`
  gate: no reference solution, or one that failed a seed), and the other rejections;
- the audit pass rate on fresh seeds (disjoint from the generation seeds), and the dataset's
  difficulty and near-duplicates from `dataset_quality`.
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

# Both tiers, every family at least once, asked in a curator's words (some ask for more than the
# family comfortably takes: the coder's revisions and the gates decide what survives).
REQUESTS = [
    ("a steel ball of radius 40 mm must be moved 1 m sideways", 1),
    ("a ball must clear a wall into a bin", 1),
    ("a box must pass under a low bar", 1),
    ("a block must go through a window in a wall", 1),
    ("lift a box onto a shelf", 1),
    ("a peg must be inserted into a hole", 1),
    ("move a box round the bend of a corridor", 1),
    ("class-1 lever where the fulcrum position varies", 2),
    ("a drawer that must be pulled open", 2),
    ("turn a crank to lift a weight", 2),
    ("push a ball through a self-closing gate", 2),
    ("lower a drawbridge so a ball can cross a gap", 2),
]


def _reason_kind(reason: str) -> str:
    if "non_triviality" in reason:
        return "trivial"
    if "solvability" in reason:
        return "unsolvable"
    return "other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8, help="seeds each candidate is checked on")
    parser.add_argument("--audit-seeds", type=int, default=16, help="fresh seeds per benchmark in the audit")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="benchgen-bench-quality-") as tmp:
        os.environ["BENCHGEN_HOME"] = tmp
        os.environ["BENCHGEN_SEEDS"] = str(args.seeds)
        from benchgen_dagster.dataset_runs import audit
        from benchgen_dagster.models.registry import BenchmarkRequest
        from benchgen_dagster.runner import generate

        started = time.perf_counter()
        candidates = generate([BenchmarkRequest(prompt=prompt, tier=tier) for prompt, tier in REQUESTS])
        generated_s = time.perf_counter() - started
        started = time.perf_counter()
        audited = audit(args.audit_seeds)
        audit_s = time.perf_counter() - started
        quality = json.loads((Path(tmp) / "gallery" / "quality" / "quality.json").read_text())

    console = Console(width=160)
    table = Table(title=f"bench-quality: {len(REQUESTS)} requests, {args.seeds} seeds, offline policy")
    for column in ("request", "status", "why (rejections)"):
        table.add_column(column, overflow="fold")
    for candidate in candidates:
        table.add_row(candidate.request.prompt, candidate.status.value, candidate.reason[:110])
    console.print(table)
    rejected = [c for c in candidates if c.status.value in ("rejected", "failed")]
    kinds = [_reason_kind(c.reason) for c in rejected]
    total = len(candidates)
    promoted = sum(c.status.value == "promoted" for c in candidates)
    rows = audited["results"]
    summary = Table(title="quality")
    for column in ("figure", "value"):
        summary.add_column(column)
    summary.add_row("yield (promoted / candidates)", f"{promoted}/{total} = {promoted / total:.2f}")
    summary.add_row("rejected as trivial", f"{kinds.count('trivial')}/{total} = {kinds.count('trivial') / total:.2f}")
    summary.add_row(
        "rejected as unsolvable", f"{kinds.count('unsolvable')}/{total} = {kinds.count('unsolvable') / total:.2f}"
    )
    summary.add_row("rejected or failed otherwise", f"{kinds.count('other')}/{total}")
    passed = sum(r["passed"] for r in rows)
    summary.add_row(
        f"audit pass rate ({args.audit_seeds} fresh seeds)",
        f"{passed}/{len(rows)} = {passed / len(rows):.2f}" if rows else "nothing promoted",
    )
    summary.add_row(
        "difficulty mean (min–max)",
        f"{quality['difficulty']['mean']} ({quality['difficulty']['min']}–{quality['difficulty']['max']})",
    )
    summary.add_row("near-duplicate pairs", str(len(quality["near_duplicates"])))
    summary.add_row("wall: generate / audit", f"{generated_s:.0f} s / {audit_s:.0f} s")
    console.print(summary)
    for row in rows:
        if not row["passed"]:
            console.print(f"audit failure {row['benchmark_id']}: {row['first_failure']}", highlight=False)


if __name__ == "__main__":
    main()
