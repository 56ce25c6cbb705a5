"""Pipeline benchmark: what Dagster costs on top of the work it orchestrates.

Run with `make bench-pipeline`. For each request, in the same run and alternating the order, it
times the same work twice, each in a fresh BENCHGEN_HOME:

- direct: the agent session (planner → coder ⇄ worker → reviewer) and the worker's two sandboxed
  checks (compile + validate, then the full check), called as plain Python;
- pipeline: `runner.generate` — the same steps as partitioned Dagster assets with their blocking
  checks, the event log, the IO manager, the registry, promotion, index and gallery.

overhead = pipeline / direct (goal ≤ 1.15). Absolute times move with the machine's load; the
ratio, measured back to back, is the figure to compare.
"""

import argparse
import os
import tempfile
import time

from rich.console import Console
from rich.table import Table

REQUESTS = ["a drawer that must be pulled open", "a box must pass under a low bar"]


def direct(prompt: str, seeds: int) -> float:
    from benchgen_dagster.agent.configuration import SessionConfig
    from benchgen_dagster.agent.session import run_session
    from benchgen_dagster.paths import benchgen_home
    from benchgen_dagster.worker.check import Checker

    started = time.perf_counter()
    workspace = benchgen_home() / "direct"
    result = run_session(SessionConfig(prompt=prompt, workspace=workspace, check_seeds=seeds, model_retries=1))
    checker = Checker(home=benchgen_home())
    checker.check(workspace / "script.py", list(range(seeds)), simulate=False)
    report = checker.check(workspace / "script.py", list(range(seeds)))
    assert result.decision == "approved" and report.passed, (result.decision, report.failures[:3])
    return time.perf_counter() - started


def pipeline(prompt: str) -> float:
    from benchgen_dagster.models.registry import BenchmarkRequest, CandidateStatus
    from benchgen_dagster.runner import generate

    started = time.perf_counter()
    (candidate,) = generate([BenchmarkRequest(prompt=prompt)])
    assert candidate.status == CandidateStatus.PROMOTED, candidate.reason
    return time.perf_counter() - started


def in_fresh_home(run, *args):  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as home:
        os.environ["BENCHGEN_HOME"] = home
        os.environ.pop("DAGSTER_HOME", None)
        from benchgen_dagster import runner

        runner._resolved.clear()
        return run(*args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args()
    os.environ["BENCHGEN_SEEDS"] = str(args.seeds)
    # Import everything once up front, so neither side pays the imports.
    import benchgen_dagster.definitions
    import benchgen_dagster.worker.check  # noqa: F401

    table = Table(title=f"pipeline overhead ({args.seeds} seeds per candidate)")
    for column in ("request", "direct s", "pipeline s", "overhead"):
        table.add_column(column)
    ratios = []
    for n, prompt in enumerate(REQUESTS):
        if n % 2 == 0:
            first = in_fresh_home(direct, prompt, args.seeds)
            second = in_fresh_home(pipeline, prompt)
        else:
            second = in_fresh_home(pipeline, prompt)
            first = in_fresh_home(direct, prompt, args.seeds)
        ratios.append(second / first)
        table.add_row(prompt, f"{first:.1f}", f"{second:.1f}", f"{second / first:.3f}")
    Console().print(table)
    mean = sum(ratios) / len(ratios)
    verdict = "meets" if mean <= 1.15 else "MISSES"
    Console().print(f"mean overhead {mean:.3f} ({verdict} the ≤ 1.15 goal)", highlight=False)


if __name__ == "__main__":
    main()
