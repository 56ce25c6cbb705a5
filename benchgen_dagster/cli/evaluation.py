"""`benchgen evaluate`: a solver judged on the dataset, through the `solver_evaluations` asset."""

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from benchgen_dagster.cli.home import existing_home, require_services
from benchgen_dagster.cli.output import EXIT_FAILED, EXIT_OK, console, error_console, fail, fail_usage, one_line

BUILT_IN = ("reference", "none")
_MAX_SOLVER_BYTES = 1024 * 1024


def _solver(solver: str) -> tuple[str, str]:
    """(name, module source) of SOLVER: a built-in baseline, or a Python file defining solve(task, seed)."""
    if solver in BUILT_IN:
        return solver, ""
    path = Path(solver)
    if path.suffix != ".py" or not path.is_file():
        fail_usage(f"SOLVER must be {' or '.join(BUILT_IN)}, or a Python file with solve(task, seed): {solver}")
    if path.stat().st_size > _MAX_SOLVER_BYTES:
        fail_usage(f"{solver} is over {_MAX_SOLVER_BYTES // 1024} KB")
    try:
        return path.name, path.read_text()  # the file's name, never taken for a baseline's
    except (OSError, UnicodeDecodeError) as error:
        fail_usage(f"{solver} cannot be read: {one_line(error)}")


def _engineer(model: str) -> str:
    """The engineer agent's solver name, `engineer:MODEL`; a model string that cannot work is refused here."""
    from benchgen_dagster.agent.models import ModelConfigError, chat_model

    try:
        chat_model(model, "engineer")
    except ModelConfigError as error:
        fail_usage(str(error))
    return f"engineer:{model}"


def _margin(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def evaluate(
    solver: Annotated[
        str | None,
        typer.Argument(
            help="`reference` (the scripts' own solutions), `none`, or a .py file with solve(task, seed); "
            "with --agent, leave it out (every argument is then a benchmark id)."
        ),
    ] = None,
    ids: Annotated[list[str] | None, typer.Argument(metavar="IDS", help="Benchmark ids (default: all).")] = None,
    agent: Annotated[
        str | None,
        typer.Option(
            "--agent",
            metavar="MODEL",
            help="Solve with the engineer agent on MODEL (`offline`, or provider:model): it designs each "
            "benchmark's solution from the task and may check it --attempts times.",
        ),
    ] = None,
    attempts: Annotated[
        int | None,
        typer.Option("--attempts", min=1, max=10, help="The engineer's budget of checked designs per benchmark (3)."),
    ] = None,
    seeds: Annotated[
        int, typer.Option("--seeds", min=1, max=1024, help="Fresh seeds per benchmark (never the generation seeds).")
    ] = 8,
    first_seed: Annotated[
        int | None, typer.Option("--first-seed", min=0, help="The first seed (default: past every checked one).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the evaluation as JSON.")] = False,
) -> None:
    """Judge SOLVER (or the engineer agent, --agent) on the promoted benchmarks, on seeds they were not generated
    with: a row per benchmark (seeds solved, margins, time to the goal, attempts, score) and the total."""
    if attempts is not None and agent is None:
        fail_usage("--attempts is the engineer's budget: give it with --agent MODEL")
    if agent is not None:
        # Every argument is a benchmark id: the agent is the solver.
        name, source, ids = _engineer(agent), "", [*([solver] if solver else []), *(ids or [])]
    elif solver is None:
        fail_usage("give SOLVER (reference, none or a .py file), or --agent MODEL")
    else:
        name, source = _solver(solver)
    existing_home()
    require_services()
    # Dagster and the stages only once the arguments hold: a refusal is quick.
    from benchgen_dagster.dataset_runs import evaluate as run_evaluation
    from benchgen_dagster.defs.audit import AuditSeedsError

    try:
        found = run_evaluation(
            name, source, list(ids or []), seeds, -1 if first_seed is None else first_seed, agent or "", attempts or 3
        )
    except (AuditSeedsError, ValueError) as error:
        fail_usage(str(error))
    except Exception as error:  # the machinery failing: one line
        fail(f"the evaluation failed: {one_line(error)}")
    if as_json:
        console.print_json(json.dumps(found))
        raise typer.Exit(EXIT_OK)
    # The per-seed findings are in the JSON, and in the asset's value.
    table = Table(title=f"benchgen evaluate {name} · {seeds} fresh seeds per benchmark")
    for column in ("benchmark", "family", "tier", "solved", "weight", "cost", "to goal", "attempts", "score"):
        table.add_column(column, no_wrap=column in ("benchmark", "solved", "score"))
    table.add_column("first failure", ratio=1)
    for row in found["results"]:
        time_to_goal = row["time_to_goal_s"]
        table.add_row(
            row["benchmark_id"],
            str(row["family"]),
            str(row["tier"]),
            f"{row['solved']}/{row['seeds']}",
            _margin(row["weight_margin"]),
            _margin(row["cost_margin"]),
            "–" if time_to_goal is None else f"{time_to_goal:.2f} s",
            str(row["attempts"]),
            f"{row['score']:.2f}",
            escape(row["first_failure"][:80]),
        )
    console.print(table)
    if not found["results"]:
        console.print("the dataset is empty: nothing to evaluate", highlight=False)
    else:
        solved = sum(r["solved"] for r in found["results"])
        judged = sum(r["seeds"] for r in found["results"])
        console.print(
            f"total: {solved}/{judged} seeds solved ({found['solved_share']:.0%}), score {found['score']:.2f} over "
            f"{found['benchmarks']} benchmark(s), in {found['wall_s']} s (run {found['partition']})",
            highlight=False,
        )
    if found.get("leaderboard"):
        console.print(f"leaderboard: {found['leaderboard']}", highlight=False)
    else:
        error_console.print(
            f"the evaluation is kept, but the leaderboard was not rebuilt: {found['leaderboard_error']}"
        )
    if found.get("calibration_error"):
        error_console.print(
            f"the evaluation is kept, but the difficulty was not calibrated: {found['calibration_error']}"
        )
    if not found.get("leaderboard") or found.get("calibration_error"):
        raise typer.Exit(EXIT_FAILED)
